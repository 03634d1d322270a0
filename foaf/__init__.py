"""The FOAF bridge: Django project settings, the Celery app, and the bilateral protocol core.

This package's ``__init__`` imports nothing on purpose: ``foaf.bilateral`` (the protocol core)
must be importable without pulling in Django or Celery.
"""
