"""``import cloud.util.configmanager``: ConfigSettings, the class of ``cloud.config``, under
PiCloud's name."""

from picloud.api import ConfigSettings

__all__ = ["ConfigSettings"]
