"""Crons: functions registered with cloud.cron, fired by django-celery-beat as ordinary jobs."""

from django.apps import AppConfig


class CronsConfig(AppConfig):
    name = "webui.crons"
    verbose_name = "Crons"

    def ready(self) -> None:
        from webui.crons import signals  # noqa: F401  (connects the signal handlers)
