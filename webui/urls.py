"""URLs: the admin at /admin/, the dashboard at /dashboard/ (and / redirects there), Prometheus
metrics at /metrics, the HTTP API on PiCloud's paths (/r/..., /job/..., /servers/list/) and our
/api/... management calls."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "picloud"
admin.site.site_title = "picloud admin"
admin.site.index_title = "Jobs, labels, API keys"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:index", permanent=False)),
    # the API (the crons' paths, then the rest: its catch-all for its prefixes must follow
    # them) before the admin and the dashboard: the HTTP client's calls are most requests,
    # and each pattern tried and missed costs each of them time
    path("", include("webui.crons.urls")),
    path("", include("webui.api.urls")),
    path("admin/", admin.site.urls),
    path("dashboard/", include("webui.dashboard.urls")),
    path("metrics", include("webui.metrics.urls")),
]
