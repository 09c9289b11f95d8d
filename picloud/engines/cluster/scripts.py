"""The Lua scripts that change job state atomically in Redis (lua/*.lua, each after
lua/prelude.lua), and running them by SHA."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import redis

from picloud.broker import zero_copy

_LUA_DIR = Path(__file__).with_name("lua")
NAMES = (
    "submit",
    "take",
    "renew",
    "finish",
    "release",
    "lost",
    "kill",
    "delete",
    "rescan",
    "statuses",
    "results",
    "rerun",
)


@cache
def source(name: str) -> str:
    """The full text of script ``name``: the shared prelude, then its own body."""
    prelude = (_LUA_DIR / "prelude.lua").read_text()
    return prelude + "\n" + (_LUA_DIR / f"{name}.lua").read_text()


@cache
def sha(name: str) -> str:
    return hashlib.sha1(source(name).encode()).hexdigest()


def load_all(client: redis.Redis) -> None:
    """Make sure Redis knows every script (after a restart it knows none)."""
    missing = [n for n, known in zip(NAMES, client.script_exists(*map(sha, NAMES))) if not known]
    for name in missing:
        client.script_load(source(name))


def run(client: redis.Redis, name: str, *args: Any) -> Any:
    """Run a script now, loading the scripts first if Redis lost them."""
    args = tuple(map(zero_copy, args))
    try:
        return client.evalsha(sha(name), 0, *args)
    except redis.exceptions.NoScriptError:
        load_all(client)
        return client.evalsha(sha(name), 0, *args)


def queue(pipe: Any, name: str, *args: Any) -> None:
    """Add a script call to a pipeline (call ``load_all`` before on NoScriptError)."""
    pipe.execute_command("EVALSHA", sha(name), 0, *map(zero_copy, args))
