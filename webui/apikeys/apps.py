from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "webui.apikeys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from webui.apikeys import mirror  # noqa: F401  (connects the signal handlers)
