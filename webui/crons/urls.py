"""The cron part of the HTTP API: what cloud.cron calls, under /api/cron/."""

from django.urls import path

from webui.crons import views

app_name = "crons"
urlpatterns = [
    path("api/cron/register/", views.register, name="register"),
    path("api/cron/deregister/", views.deregister, name="deregister"),
    path("api/cron/run/", views.run, name="run"),
    path("api/cron/list/", views.labels, name="list"),
    path("api/cron/info/", views.info, name="info"),
]
