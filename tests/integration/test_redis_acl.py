"""The Redis lock-down profile of deploy/redis/users.acl: a fleet whose workers and web tier
each log in as their own ACL user runs jobs end to end (through the broker and through the
HTTP API), and neither user, nor a client without a password, can run Redis's dangerous
commands."""

from __future__ import annotations

import secrets

import pytest
import redis

from picloud.client import Cloud
from picloud.engines.cluster import ClusterEngine
from picloud.engines.http import HttpEngine
from tests import jobfuncs as jf
from tests.services import REPO, TEST_API_KEY, TEST_SECRET, Worker, redis_process, register_key
from tests.webserver import WebServer

PROFILE = REPO / "deploy" / "redis" / "users.acl"
#: What no fleet user may run, each as redis-py sends it.
DANGEROUS = [
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "GET", "requirepass"),
    ("CONFIG", "SET", "appendonly", "no"),
    ("ACL", "LIST"),
    ("DEBUG", "SLEEP", "0"),
    ("SHUTDOWN", "NOSAVE"),
    ("KEYS", "*"),
    ("MONITOR",),
    ("REPLICAOF", "127.0.0.1", "1"),
    ("CLIENT", "KILL", "TYPE", "normal"),
]


@pytest.fixture
def acl_fleet(tmp_path):
    """(worker URL, web URL, host:port) of a Redis started with the profile, passwords set."""
    passwords = {role: secrets.token_hex(16) for role in ("WORKER", "WEB", "OPS")}
    text = PROFILE.read_text()
    for role, password in passwords.items():
        text = text.replace(f"CHANGE-ME-{role}", password)
    aclfile = tmp_path / "users.acl"
    aclfile.write_text(text)
    aclfile.chmod(0o600)
    with redis_process(aclfile=aclfile, user="picloud-web", password=passwords["WEB"]) as server:
        where = f"127.0.0.1:{server.port}"
        yield f"redis://picloud-worker:{passwords['WORKER']}@{where}/0", server.url, where


def test_a_fleet_on_least_privilege_users_runs_jobs(acl_fleet, tmp_path):
    worker_url, web_url, _ = acl_fleet
    worker = Worker(worker_url, "c1", 1, tmp_path)
    web = None
    try:
        worker.wait_ready()
        with redis.Redis.from_url(web_url) as client:
            register_key(client)
        web = WebServer(web_url, tmp_path, (TEST_API_KEY, TEST_SECRET))
        for make in (
            lambda: ClusterEngine(web_url, TEST_API_KEY, TEST_SECRET),
            lambda: HttpEngine(web.url, TEST_API_KEY, TEST_SECRET),
        ):
            cloud = Cloud(make, lambda: "cluster")
            try:
                assert cloud.result(cloud.map(jf.square, range(20)), timeout=60) == [
                    x * x for x in range(20)
                ]
            finally:
                cloud.close()
        assert "NOPERM" not in worker.log(), worker.log()[-3000:]
    finally:
        if web is not None:
            web.stop()
        worker.stop()


@pytest.mark.parametrize("role", ["worker", "web"])
def test_no_fleet_user_runs_a_dangerous_command(acl_fleet, role):
    worker_url, web_url, _ = acl_fleet
    with redis.Redis.from_url(worker_url if role == "worker" else web_url) as client:
        client.set("pc:probe", "1")  # the user works at all
        ran = []
        for command in DANGEROUS:
            try:
                client.execute_command(*command)
            except redis.exceptions.NoPermissionError:
                continue
            ran.append(" ".join(command))
        assert not ran, f"the {role} user ran: {ran}"
        assert client.get("pc:probe") == b"1"


def test_no_one_logs_in_without_a_password(acl_fleet):
    _, _, where = acl_fleet
    with redis.Redis.from_url(f"redis://{where}/0") as client:
        with pytest.raises(redis.exceptions.AuthenticationError):
            client.ping()
