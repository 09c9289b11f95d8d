"""The HTTP API's URLs, on PiCloud's shapes."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
