from django.apps import AppConfig


class PublishedConfig(AppConfig):
    name = "webui.published"
    verbose_name = "Published functions"
