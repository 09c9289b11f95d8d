from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "webui.api"
    verbose_name = "HTTP API"
