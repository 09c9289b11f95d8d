from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "webui.ledger"
    verbose_name = "Jobs"
