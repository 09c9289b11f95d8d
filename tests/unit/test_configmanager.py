"""``cloud.util.configmanager.ConfigSettings`` and the automatic_dependency_transfer setting."""

from __future__ import annotations

import picloud.api
from picloud.config import Settings


def test_configmanager_holds_the_class_of_cloud_config():
    import cloud
    import cloud.util.configmanager
    from cloud.util.configmanager import ConfigSettings

    assert ConfigSettings is picloud.api.ConfigSettings
    assert isinstance(cloud.config, cloud.util.configmanager.ConfigSettings)


def test_automatic_dependency_transfer_is_on_by_default_and_can_be_turned_off(tmp_path):
    assert Settings().automatic_dependency_transfer is True
    environ = {"PICLOUD_AUTOMATIC_DEPENDENCY_TRANSFER": "0"}
    loaded = Settings.load(environ=environ, config_dir=str(tmp_path))
    assert loaded.automatic_dependency_transfer is False
    settings = picloud.api.ConfigSettings()  # a cloud.config of its own: nothing is committed
    assert settings.automatic_dependency_transfer is True
    settings.automatic_dependency_transfer = False
    assert settings.automatic_dependency_transfer is False
    assert "installed distributions" in type(settings).automatic_dependency_transfer.__doc__
