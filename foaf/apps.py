"""The project package as a Django app: health checks, request ids, project-wide tasks."""

from django.apps import AppConfig


class FoafConfig(AppConfig):
    name = "foaf"
    label = "foaf"
    verbose_name = "FOAF bridge"

    def ready(self) -> None:
        # Bind @shared_task to our app in every process that runs Django (web, worker, shell).
        import foaf.celery  # noqa: F401
