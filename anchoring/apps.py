from django.apps import AppConfig


class AnchoringConfig(AppConfig):
    name = "anchoring"
