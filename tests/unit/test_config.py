"""Settings: defaults < cloudconf.py < PICLOUD_* environment variables (picloud/config.py)."""

from __future__ import annotations

import os

import pytest

from picloud import config, defaults
from picloud.config import Settings, getconfigpath
from picloud.exceptions import CloudException, ConfigError


def read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


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


# --- every setting of the reference, with its documented default ------------------------------
#: PiCloud's ConfigSettings (reference + compat spec section 9) and picloud's own settings.
DOCUMENTED_DEFAULTS = {
    "api_key": "None",
    "api_secretkey": "None",
    "server_list_url": "http://api.picloud.com/servers/list/",
    "use_simulator": False,
    "log_filename": "cloud.log",
    "save_log": True,
    "log_level": "DEBUG",
    "print_log_level": "ERROR",
    "purge_days": 7,
    "serialize_logging": False,
    "serialize_logging_path": "datalogs/",
    "num_procs": 8,
    "redirect_job_output": True,
    "mp_cache_size_limit": 0,
    "force_serialize_logging": True,
    "force_redirect_job_output": True,
    "cloud_status_cache_size": 65536,
    "cloud_result_cache_size": 4096,
    "max_transmit_data": 1_000_000,
    "use_gzip": True,
    "http_close": False,
    "proxy_server": "",
    "automatic_dependency_transfer": True,
    "fleet_public_key": "",
    "fleet_authority_file": "",
    "sandbox_uid": 600000,
    "sandbox_uids": 2000,
    # ours
    "server_url": "",
    "server_ca_file": "",
    "broker_url": "",
    "s3_endpoint": "",
    "s3_access_key": "",
    "s3_secret_key": "",
    "s3_bucket": "picloud",
    "s3_secure": False,
}


def test_every_documented_setting_has_its_default():
    settings = Settings()
    assert set(config.SETTING_NAMES) == set(DOCUMENTED_DEFAULTS)
    for name, default in DOCUMENTED_DEFAULTS.items():
        assert getattr(settings, name) == default, name


def test_every_setting_is_documented_and_says_when_it_is_not_used():
    docs = config.setting_docs()
    assert set(docs) == set(config.SETTING_NAMES)
    for name in ["purge_days", "serialize_logging", "server_list_url", "cloud_status_cache_size"]:
        assert "not used" in docs[name], name
    for name in ["mp_cache_size_limit", "use_gzip"]:
        assert "not applied" in docs[name], name


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("log_level", "LOUD"),
        ("print_log_level", "3"),
        ("broker_url", "http://host:6379"),
        ("server_url", "ftp://host"),
        ("purge_days", "-2"),
        ("use_gzip", "maybe"),
    ],
)
def test_bad_values_name_the_setting(tmp_path, name, bad):
    with pytest.raises(ConfigError, match=name):
        Settings.load(environ={f"PICLOUD_{name.upper()}": bad}, config_dir=str(tmp_path))


def test_levels_are_case_insensitive_and_urls_checked(tmp_path):
    settings = Settings.load(
        environ={"PICLOUD_LOG_LEVEL": "info", "PICLOUD_BROKER_URL": "rediss://:pw@host:6380/1"},
        config_dir=str(tmp_path),
    )
    assert settings.log_level == "INFO"
    assert settings.broker_url == "rediss://:pw@host:6380/1"


def test_names_that_are_not_settings_are_ignored_in_cloudconf(tmp_path):
    write_conf(tmp_path, "import os\nverbose = True\nretry_attempts = 3\nnum_procs = 2\n")
    assert Settings.load(environ={}, config_dir=str(tmp_path)).num_procs == 2


# --- precedence and changes at run time ---------------------------------------------------------
@pytest.fixture
def fresh_runtime(monkeypatch, tmp_path):
    """No run-time changes (cloud.config commits, setkey) before or after the test, and a
    config directory of its own; ``cloud`` and ``cloud.mp`` restart on both sides."""
    import picloud.api

    monkeypatch.setenv("PICLOUD_HOME", str(tmp_path))
    # a server from an earlier test's environment would send jobs through it
    monkeypatch.delenv("PICLOUD_SERVER_URL", raising=False)
    monkeypatch.setattr(config, "_overrides", {})
    monkeypatch.setattr(config, "_key_frozen", False)
    monkeypatch.setattr(picloud.api, "_secrets", {})
    picloud.api.cloud_config._pending.clear()
    config.reload()
    picloud.api.reconnect()
    yield str(tmp_path)
    picloud.api.cloud_config._pending.clear()
    monkeypatch.undo()
    config.reload()
    picloud.api.reconnect()


def test_precedence_defaults_file_environment_runtime(fresh_runtime, monkeypatch):
    assert config.current().num_procs == 2  # PICLOUD_NUM_PROCS of the test session
    monkeypatch.delenv("PICLOUD_NUM_PROCS")
    assert config.reload().num_procs == defaults.NUM_PROCS
    write_conf(fresh_runtime, "num_procs = 5\npurge_days = 1\n")
    assert config.reload().num_procs == 5
    monkeypatch.setenv("PICLOUD_NUM_PROCS", "6")
    assert config.reload().num_procs == 6
    assert config.apply(num_procs=7).num_procs == 7
    assert config.reload().num_procs == 7  # run-time changes stay above file and environment
    assert config.current().purge_days == 1


def test_apply_checks_values(fresh_runtime):
    with pytest.raises(ConfigError, match="num_procs"):
        config.apply(num_procs=-1)
    with pytest.raises(ConfigError, match="did you mean 'num_procs'"):
        config.apply(num_proc=3)
    assert config.current().num_procs == 2


def test_cloud_config_reads_checks_and_commits(fresh_runtime):
    import cloud

    assert cloud.config.num_procs == 2
    assert cloud.config.log_filename == "cloud.log"
    assert "num_procs" in dir(cloud.config)
    assert "cloud.mp" in type(cloud.config).num_procs.__doc__
    with pytest.raises(ConfigError, match="num_procs"):
        cloud.config.num_procs = "many"
    with pytest.raises(ConfigError, match="unknown setting 'nmu_procs'; did you mean 'num_procs'"):
        cloud.config.nmu_procs = 3
    cloud.config.num_procs = "3"
    assert cloud.config.num_procs == 3  # pending, read back
    assert config.current().num_procs == 2  # not in force before commit
    cloud.config.commit()
    assert config.current().num_procs == 3
    assert cloud.config.num_procs == 3


def test_commit_restarts_cloud_and_mp(fresh_runtime):
    import cloud
    import cloud.mp

    cloud.start_simulator()
    jid = cloud.call(abs, -1)
    mp_jid = cloud.mp.call(abs, -2)
    assert cloud.result(jid) == 1 and cloud.mp.result(mp_jid) == 2
    cloud.config.redirect_job_output = False
    cloud.config.commit()
    assert cloud.connection_info()["opened"] is False
    assert cloud.mp.connection_info()["opened"] is False
    with pytest.raises(CloudException):
        cloud.status(jid)  # the simulator's jobs are gone, as PiCloud warns
    assert cloud.result(cloud.call(abs, -3)) == 3


def test_commit_turns_start_simulator_off(fresh_runtime, monkeypatch):
    import cloud

    monkeypatch.setenv("PICLOUD_BROKER_URL", "redis://127.0.0.1:1/0")
    config.reload()
    cloud.start_simulator()
    assert cloud.connection_info()["connection_type"] == "simulation"
    cloud.config.commit()
    assert cloud.connection_info()["connection_type"] == "cluster"  # not opened: no broker needed


# --- cloudconf.py -------------------------------------------------------------------------------
def test_first_use_writes_cloudconf_with_commented_defaults(fresh_runtime):
    path = os.path.join(fresh_runtime, config.CONFIG_FILENAME)
    assert not os.path.exists(path)
    config.first_use()
    text = read(path)
    for name, default in DOCUMENTED_DEFAULTS.items():
        assert f"\n# {name} = {default!r}\n" in text
    assert "\n# Worker processes of cloud.mp and the simulator; 0 = one per CPU core.\n" in text
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert Settings.load(environ={}, config_dir=fresh_runtime) == Settings()
    assert os.listdir(fresh_runtime) == [config.CONFIG_FILENAME]


def test_cloudconf_is_never_overwritten(fresh_runtime):
    path = write_conf(fresh_runtime, "num_procs = 3\n")
    assert config.ensure_config_file() == path
    assert read(path) == "num_procs = 3\n"


def test_concurrent_first_writes_make_one_whole_file(fresh_runtime):
    import threading

    threads = [threading.Thread(target=config.ensure_config_file) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert os.listdir(fresh_runtime) == [config.CONFIG_FILENAME]
    assert read(config.config_file()) == config.render_template()


def test_no_cloudconf_written_inside_a_job(fresh_runtime, monkeypatch):
    from picloud import runtime

    monkeypatch.setattr(runtime, "in_worker", True)
    config.first_use()
    assert not os.path.exists(config.config_file())


def test_write_settings_keeps_every_other_line(fresh_runtime):
    path = config.ensure_config_file()
    with open(path, "a") as handle:
        handle.write("num_procs = 4  # mine\n")
    config.write_settings({"api_key": "1234", "broker_url": "redis://h:6379/0", "server_url": ""})
    config.write_settings({"api_key": 99})
    text = read(path)
    assert "# api_key = 'None'\napi_key = '99'\n" in text
    assert text.count("api_key = '") == 2  # the commented default and one active line
    assert "# broker_url = ''\nbroker_url = 'redis://h:6379/0'\n" in text
    assert "\nserver_url" not in text  # a default is not written where nothing was set
    assert "num_procs = 4  # mine\n" in text
    loaded = Settings.load(environ={}, config_dir=fresh_runtime)
    assert (loaded.api_key, loaded.broker_url, loaded.num_procs) == ("99", "redis://h:6379/0", 4)


def test_write_settings_refuses_bad_values_and_leaves_the_file(fresh_runtime):
    path = config.ensure_config_file()
    before = read(path)
    with pytest.raises(ConfigError, match="broker_url"):
        config.write_settings({"api_key": "1", "broker_url": "localhost:6379"})
    assert read(path) == before


# --- logging ------------------------------------------------------------------------------------
@pytest.fixture
def picloud_logger(fresh_runtime):
    """The 'picloud' logger configured by the test's settings, then by the session's again."""
    import logging

    logger = logging.getLogger("picloud")
    yield logger
    config.apply_logging(config.reload())


def test_logging_settings_configure_the_picloud_logger(picloud_logger, fresh_runtime, capsys):
    config.apply_logging(config.apply(log_level="INFO", print_log_level="WARNING"))
    assert picloud_logger.level == 20
    picloud_logger.debug("dropped")
    picloud_logger.info("to the file")
    picloud_logger.warning("printed too")
    for handler in picloud_logger.handlers:
        handler.flush()
    logged = read(os.path.join(fresh_runtime, "cloud.log"))
    assert "to the file" in logged and "printed too" in logged and "dropped" not in logged
    printed = capsys.readouterr().err
    assert "printed too" in printed and "to the file" not in printed


def test_save_log_off_and_log_filename(picloud_logger, fresh_runtime):
    config.apply_logging(config.apply(log_filename="logs/picloud.log"))
    picloud_logger.error("somewhere else")
    for handler in picloud_logger.handlers:
        handler.flush()
    assert "somewhere else" in read(os.path.join(fresh_runtime, "logs", "picloud.log"))
    config.apply_logging(config.apply(save_log=False, log_filename="never.log"))
    picloud_logger.error("not saved")
    assert not os.path.exists(os.path.join(fresh_runtime, "never.log"))
