"""The worker side of picloud: a plain Celery app whose task runs picloud jobs.

``celery -A workers worker -Q c1`` starts a pool; ``celery -A workers inspect active`` sees it."""

from workers.celery_app import app

__all__ = ["app"]
