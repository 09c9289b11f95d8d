"""What Prometheus reads at each scrape: the ledger's metrics, then the broker's. When the
broker cannot be reached the ledger's are still there and ``picloud_broker_up`` is 0."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from picloud import broker
from picloud.exceptions import CloudException
from webui.metrics import fleet, ledger


class FleetCollector(Collector):
    """Computes every metric when scraped (one connection to the broker per scrape)."""

    def collect(self) -> Iterator[Metric]:
        recorded, pools = ledger.families()
        yield from recorded
        up = GaugeMetricFamily(
            "picloud_broker_up", "1 when the web UI could read the broker (Redis), else 0"
        )
        try:
            with broker.connect(broker.broker_url()) as client:
                state = fleet.read(client, known=pools)
        except (CloudException, redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from fleet.families(state)


#: The registry /metrics serves: these metrics only (no process metrics of one web worker).
registry = CollectorRegistry()
registry.register(FleetCollector())
