"""``import cloud.mp``: picloud.mp under PiCloud's name."""

from picloud.mp import *  # noqa: F403
from picloud.mp import __all__  # noqa: F401
