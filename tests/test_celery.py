"""Background work runs in a real Celery worker process: no eager mode anywhere."""

from __future__ import annotations

from django.conf import settings

from foaf.logs import request_id_var
from foaf.tasks import echo


def test_eager_mode_is_off() -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER is False


def test_a_task_round_trips_through_a_real_worker_with_the_request_id(celery_worker) -> None:
    token = request_id_var.set("req-from-http-7")
    try:
        result = echo.delay({"amount_cents": 1250, "memo": "eggs"})
    finally:
        request_id_var.reset(token)
    answer = result.get(timeout=60)
    assert answer == {"payload": {"amount_cents": 1250, "memo": "eggs"}, "request_id": "req-from-http-7"}


def test_late_ack_is_set_on_tasks_whose_rerun_is_harmless() -> None:
    assert echo.acks_late is True
    assert echo.reject_on_worker_lost is True


def test_periodic_tasks_are_configured_in_code() -> None:
    from foaf.celery import app

    app.loader.import_default_modules()  # what a worker does at start: the apps' tasks modules
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled, "beat has nothing to schedule"
    assert scheduled <= set(app.tasks), f"beat names tasks that do not exist: {scheduled - set(app.tasks)}"
