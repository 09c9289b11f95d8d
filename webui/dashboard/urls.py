"""Dashboard URLs (filled in by the dashboard work)."""

from django.urls import path
from django.views.generic import TemplateView

app_name = "dashboard"
urlpatterns = [path("", TemplateView.as_view(template_name="admin/base_site.html"), name="index")]
