"""PiCloud's import name: ``import cloud`` gives picloud's API unchanged."""

from picloud import *  # noqa: F403
from picloud import __all__  # noqa: F401
