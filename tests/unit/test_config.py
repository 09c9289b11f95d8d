"""Settings: defaults < cloudconf.py < PICLOUD_* environment variables (picloud/config.py)."""

from __future__ import annotations

import os

import pytest

from picloud import config, defaults
from picloud.config import Settings, getconfigpath
from picloud.exceptions import ConfigError


def write_conf(directory, text: str) -> str:
    path = os.path.join(str(directory), config.CONFIG_FILENAME)
    with open(path, "w") as handle:
        handle.write(text)
    return path


def test_defaults(tmp_path):
    settings = Settings.load(environ={}, config_dir=str(tmp_path))
    assert settings == Settings()
    assert settings.num_procs == defaults.NUM_PROCS == 8
    assert settings.redirect_job_output is True
    assert settings.api_key == "None"
    assert settings.use_simulator is False
    assert settings.max_transmit_data == 1_000_000


def test_num_procs_from_environment(tmp_path):
    settings = Settings.load(environ={"PICLOUD_NUM_PROCS": "3"}, config_dir=str(tmp_path))
    assert settings.num_procs == 3
    assert settings.effective_num_procs == 3


def test_bool_from_environment(tmp_path):
    for text, value in [("0", False), ("false", False), ("yes", True), ("TRUE", True)]:
        settings = Settings.load(
            environ={"PICLOUD_REDIRECT_JOB_OUTPUT": text}, config_dir=str(tmp_path)
        )
        assert settings.redirect_job_output is value


def test_values_from_cloudconf(tmp_path):
    write_conf(tmp_path, "num_procs = 5\nredirect_job_output = False\napi_key = '1234'\n")
    settings = Settings.load(environ={}, config_dir=str(tmp_path))
    assert settings.num_procs == 5
    assert settings.redirect_job_output is False
    assert settings.api_key == "1234"


def test_environment_overrides_cloudconf(tmp_path):
    write_conf(tmp_path, "num_procs = 5\n")
    settings = Settings.load(environ={"PICLOUD_NUM_PROCS": "7"}, config_dir=str(tmp_path))
    assert settings.num_procs == 7


def test_load_reads_picloud_home_by_default(tmp_path, monkeypatch):
    write_conf(tmp_path, "num_procs = 6\n")
    monkeypatch.setenv("PICLOUD_HOME", str(tmp_path))
    monkeypatch.delenv("PICLOUD_NUM_PROCS", raising=False)
    assert Settings.load().num_procs == 6


@pytest.mark.parametrize("bad", ["abc", "-1", "2.5", ""])
def test_bad_environment_value_names_the_setting(tmp_path, bad):
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={"PICLOUD_NUM_PROCS": bad}, config_dir=str(tmp_path))
    message = str(info.value)
    assert "num_procs" in message
    assert "PICLOUD_NUM_PROCS" in message


def test_bad_bool_value(tmp_path):
    with pytest.raises(ConfigError, match="redirect_job_output"):
        Settings.load(environ={"PICLOUD_REDIRECT_JOB_OUTPUT": "perhaps"}, config_dir=str(tmp_path))


def test_bad_cloudconf_value_names_setting_and_file(tmp_path):
    path = write_conf(tmp_path, "num_procs = 'many'\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={}, config_dir=str(tmp_path))
    assert "num_procs" in str(info.value)
    assert path in str(info.value)


def test_broken_cloudconf_names_the_file(tmp_path):
    path = write_conf(tmp_path, "num_procs = = 3\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={}, config_dir=str(tmp_path))
    assert path in str(info.value)


def test_zero_num_procs_means_every_cpu(tmp_path):
    settings = Settings.load(environ={"PICLOUD_NUM_PROCS": "0"}, config_dir=str(tmp_path))
    assert settings.num_procs == 0
    assert settings.effective_num_procs == (os.cpu_count() or 1)


def test_replace():
    settings = Settings().replace(num_procs="4")
    assert settings.num_procs == 4
    with pytest.raises(ConfigError, match="nonsense"):
        Settings().replace(nonsense=1)
    with pytest.raises(ConfigError, match="num_procs"):
        Settings().replace(num_procs="x")


def test_getconfigpath(tmp_path, monkeypatch):
    monkeypatch.setenv("PICLOUD_HOME", str(tmp_path))
    assert getconfigpath() == str(tmp_path)
    monkeypatch.delenv("PICLOUD_HOME")
    assert getconfigpath() == os.path.join(os.path.expanduser("~"), ".picloud")


def test_session_keeps_away_from_home(picloud_home):
    assert getconfigpath() == picloud_home
    assert not getconfigpath().startswith(os.path.join(os.path.expanduser("~"), ".picloud"))


def test_current_and_reload(tmp_path, monkeypatch):
    monkeypatch.setenv("PICLOUD_NUM_PROCS", "3")
    try:
        assert config.reload().num_procs == 3
        assert config.current() is config.current()
    finally:
        monkeypatch.undo()
        config.reload()
