from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "webui.metrics"
    verbose_name = "Metrics"
