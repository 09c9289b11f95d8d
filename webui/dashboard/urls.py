"""Dashboard URLs: the page, and the JSON it polls."""

from django.urls import path

from webui.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.index, name="index"),
    path("data.json", views.data, name="data"),
]
