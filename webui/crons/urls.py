"""The cron part of the HTTP API."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
