from django.apps import AppConfig


class CustodyConfig(AppConfig):
    name = "foaf.custody"
    label = "custody"
    verbose_name = "Custody: cohorts and claims"
