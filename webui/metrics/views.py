"""The /metrics view: the Prometheus text format (or OpenMetrics, when the scraper asks)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from webui.metrics import access
from webui.metrics.collector import registry


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refused = access.refusal(request)
    if refused is not None:
        return refused
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)
