"""cloud.setkey and connection_info: the key in memory, the simulator off, restarts, secrets."""

from __future__ import annotations

import json
import os

import pytest

import cloud
from picloud import broker, config
from picloud.exceptions import CloudException, ConfigError
from tests.unit.test_config import fresh_runtime, write_conf  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_runtime")

BROKER = "redis://:hunter2@127.0.0.1:1/0"


@pytest.fixture
def cluster_configured(monkeypatch):
    """A broker URL in the environment (nothing listens: only unopened connections are used)."""
    monkeypatch.setenv("PICLOUD_BROKER_URL", BROKER)
    config.reload()


def restarted(jid: int) -> bool:
    """True if the default simulator no longer knows ``jid`` (the connection restarted)."""
    try:
        cloud.status(jid)
    except CloudException:
        return True
    return False


def test_setkey_sets_key_secret_and_server_in_memory_only():
    cloud.setkey(1234, "s3cret", server_url="http://picloud.example:8000/")
    settings = config.current()
    assert (settings.api_key, settings.api_secretkey) == ("1234", "s3cret")
    assert settings.server_url == "http://picloud.example:8000/"
    assert config.reload().api_key == "1234"  # stays in force over file and environment
    assert not os.path.exists(config.config_file())  # cloudconf.py untouched


def test_setkey_keeps_the_server_when_none_given():
    cloud.setkey("k", "s", server_url="http://a:1/")
    cloud.setkey("k2", "s2")
    assert config.current().server_url == "http://a:1/"


def test_setkey_turns_the_simulator_off(cluster_configured, monkeypatch):
    monkeypatch.setenv("PICLOUD_USE_SIMULATOR", "1")
    config.reload()
    assert cloud.connection_info()["connection_type"] == "simulation"
    cloud.setkey("k", "s")
    assert config.current().use_simulator is False
    assert cloud.connection_info()["connection_type"] == "cluster"


def test_setkey_leaves_start_simulator(cluster_configured):
    cloud.start_simulator()
    assert cloud.is_simulated()
    cloud.setkey("k", "s")
    assert cloud.connection_info()["connection_type"] == "cluster"


def test_connection_info_redacts_secrets(cluster_configured):
    cloud.setkey("k", "very-secret", server_url="http://admin:pw@web:8000/")
    info = cloud.connection_info()
    assert info == {
        "opened": False,
        "connection_type": "cluster",
        "transport": "broker",
        "broker_url": "redis://:***@127.0.0.1:1/0",
        "api_key": "k",
        "api_secretkey": "***",
        "server_url": "http://admin:***@web:8000/",
    }
    assert "hunter2" not in repr(info) and "very-secret" not in repr(info)


def test_connection_info_on_the_simulator():
    cloud.start_simulator()
    assert cloud.connection_info() == {
        "opened": False,
        "connection_type": "simulation",
        "num_procs": 2,
    }


def test_connection_info_shows_the_local_fleets_key(cluster_configured):
    with open(broker.fleet_file(), "w") as handle:
        json.dump({"broker_url": BROKER, "api_key": "fleet", "api_secretkey": "x"}, handle)
    info = cloud.connection_info()
    assert (info["api_key"], info["api_secretkey"]) == ("fleet", "***")


def test_setkey_restarts_only_when_the_key_changes_or_asked():
    jid = cloud.call(abs, -1)
    cloud.join(jid)
    cloud.setkey("k", "s")  # a new key: reconnect
    assert restarted(jid)
    jid = cloud.call(abs, -1)
    cloud.join(jid)
    cloud.setkey("k")  # the same key (its secret remembered): the connection stays
    assert not restarted(jid)
    cloud.setkey("k", restart=True)
    assert restarted(jid)


def test_setkey_remembers_each_keys_secret():
    cloud.setkey("k1", "s1")
    cloud.setkey("k2", "s2")
    cloud.setkey("k1")
    assert config.current().api_secretkey == "s1"


def test_setkey_finds_the_secret_of_cloudconf_and_environment(monkeypatch):
    write_conf(config.getconfigpath(), "api_key = 77\napi_secretkey = 'from-file'\n")
    config.reload()
    cloud.setkey(77)
    assert config.current().api_secretkey == "from-file"
    monkeypatch.setenv("PICLOUD_API_KEY", "88")
    monkeypatch.setenv("PICLOUD_API_SECRETKEY", "from-env")
    config.reload()
    cloud.setkey("88")
    assert config.current().api_secretkey == "from-env"


def test_setkey_without_a_known_secret_says_what_to_do():
    with pytest.raises(ConfigError, match="api_secretkey for key 5 not found. Please run picloud"):
        cloud.setkey(5)
    assert config.current().api_key == "None"


def test_immutable_key():
    cloud.setkey("k", "s", immutable=True)
    cloud.setkey("k")  # the same key: not a change
    with pytest.raises(ConfigError, match="immutable"):
        cloud.setkey("other", "s")
    with pytest.raises(ConfigError, match="api_key"):
        cloud.config.api_key = "other"
    with pytest.raises(ConfigError, match="api_secretkey"):
        config.apply(api_secretkey="changed")
    cloud.config.num_procs = 3  # other settings still change
    cloud.config.commit()
    assert (config.current().api_key, config.current().num_procs) == ("k", 3)


def test_commit_keeps_the_key_setkey_set():
    cloud.setkey("k", "s")
    cloud.config.num_procs = 1
    cloud.config.commit()
    assert (config.current().api_key, config.current().api_secretkey) == ("k", "s")
