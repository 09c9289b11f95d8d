"""The local engine: jobs on forked worker processes of this machine."""

from picloud.engines.local.engine import LocalEngine

__all__ = ["LocalEngine"]
