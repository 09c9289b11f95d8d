"""``from cloud import pool_interface``: picloud.pool_interface under PiCloud's name."""

from picloud.pool_interface import *  # noqa: F403
from picloud.pool_interface import __all__  # noqa: F401
