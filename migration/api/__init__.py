"""The GrowOperative apps' ``/v1`` API, answered by this service (docs/legacy-api.md).

The apps in members' hands cannot all be updated at once, so their Rails API keeps its paths,
statuses, JSON shapes and error texts here, and never the project's own error format.
"""
