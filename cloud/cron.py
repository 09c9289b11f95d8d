"""``import cloud.cron``: picloud.cron under PiCloud's name."""

from picloud.cron import *  # noqa: F403
from picloud.cron import __all__  # noqa: F401
