"""The Celery app. Configuration comes from Django settings (``CELERY_*``); periodic tasks are
scheduled in code (``CELERY_BEAT_SCHEDULE``). Start a worker with ``celery -A foaf.celery worker``.

Conventions for every task in the project: a task is an interface that takes ids and calls a
service; it is idempotent (a second run finds nothing left to do); ``acks_late`` with
``task_reject_on_worker_lost`` only where a rerun is harmless, so a worker killed mid-task hands
the message to another instead of losing it.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foaf.settings")

app = Celery("foaf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from foaf.logs import install_celery_request_ids  # noqa: E402  (after the app exists)

install_celery_request_ids()
