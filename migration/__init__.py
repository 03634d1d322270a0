"""Migration from GrowOperative: import the legacy MySQL history into signed bilateral logs,
issue members' keys, and reconcile the result with the legacy rows to the cent."""
