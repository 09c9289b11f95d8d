from django.apps import AppConfig


class CronsConfig(AppConfig):
    name = "webui.crons"
    verbose_name = "Crons"
