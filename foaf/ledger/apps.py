from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "foaf.ledger"
    label = "ledger"
    verbose_name = "Bilateral ledger"
