"""Crons: functions registered with cloud.cron, fired by django-celery-beat as ordinary jobs."""
