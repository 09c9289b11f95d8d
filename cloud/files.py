"""``import cloud.files``: picloud.files under PiCloud's name."""

from picloud.files import *  # noqa: F401,F403
from picloud.files import __all__  # noqa: F401
