"""``import cloud.rest``: picloud.rest under PiCloud's name."""

from picloud.rest import *  # noqa: F401,F403
from picloud.rest import __all__  # noqa: F401
