from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "webui.apikeys"
    verbose_name = "API keys"
