"""The benchmarked systems, by name. Add a peer or an engine: a module with a class that follows
``bench.systems.base.System``, and one line in ``SYSTEMS``."""

from __future__ import annotations

from collections.abc import Callable

from bench.systems.base import System
from bench.systems.celery_raw import CeleryRaw
from bench.systems.dask_distributed import DaskDistributed
from bench.systems.multiprocessing_pool import MultiprocessingPool
from bench.systems.picloud_cluster import PicloudCluster
from bench.systems.picloud_http import PicloudHttp
from bench.systems.picloud_local import PicloudLocal
from bench.systems.picloud_stack import PicloudStack
from bench.systems.rq_queue import RqQueue

#: name -> factory taking the number of worker processes
SYSTEMS: dict[str, Callable[[int], System]] = {
    "picloud-local": PicloudLocal,
    "multiprocessing": MultiprocessingPool,
    "picloud-cluster": PicloudCluster,
    "picloud-http": PicloudHttp,
    "picloud-stack": PicloudStack,
    "celery-raw": CeleryRaw,
    "dask": DaskDistributed,
    "rq": RqQueue,
}

#: the comparisons of a default run: measured system -> its peers
COMPARISONS: dict[str, list[str]] = {
    "picloud-local": ["multiprocessing"],
    "picloud-cluster": ["celery-raw", "dask", "rq", "multiprocessing"],
    "picloud-http": ["picloud-cluster"],
    "picloud-stack": ["celery-raw"],
}

#: systems measured with the cluster sizes and targets (``Config.cluster``)
CLUSTER_SYSTEMS = frozenset(
    {"picloud-cluster", "picloud-http", "picloud-stack", "celery-raw", "dask", "rq"}
)

__all__ = ["CLUSTER_SYSTEMS", "COMPARISONS", "SYSTEMS", "System"]
