"""``import cloud.account``: picloud.account under PiCloud's name."""

from picloud.account import *  # noqa: F401,F403
from picloud.account import __all__  # noqa: F401
