"""The cluster engine: jobs on Celery workers through a Redis broker."""

from picloud.engines.cluster.engine import ClusterEngine

__all__ = ["ClusterEngine"]
