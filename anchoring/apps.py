from django.apps import AppConfig


class AnchoringConfig(AppConfig):
    name = "anchoring"

    def ready(self) -> None:
        # Register the batching task with the Celery app in every process (web, beat, tests),
        # not only in a worker that autodiscovers it: an urgent request queues it by name.
        from anchoring import tasks  # noqa: F401
