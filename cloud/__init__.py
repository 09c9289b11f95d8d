"""PiCloud's import name: ``import cloud`` gives picloud's API unchanged, and ``cloud.config``."""

from picloud import *  # noqa: F403
from picloud import __all__ as _picloud_all
from picloud.api import cloud_config as config

__all__ = [*_picloud_all, "config"]
