"""Metrics URL: /metrics, where Prometheus looks by default."""

from django.urls import path

from webui.metrics import views

app_name = "metrics"
urlpatterns = [
    path("", views.metrics, name="metrics"),
]
