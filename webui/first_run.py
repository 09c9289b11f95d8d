"""What ``make run`` does to the web UI before starting it: migrate the database, make an admin
login on first run (printed once), make the machine's local API key (kept in
``<PICLOUD_HOME>/local-key.json``, mode 0600, so unchanged scripts can sign their jobs), and
publish every key and cron to the broker the workers read."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management import call_command

from picloud.config import getconfigpath
from webui.apikeys import issuing, mirror
from webui.crons import mirror as cron_mirror

LOCAL_KEY_FILE = "local-key.json"


@dataclass(frozen=True)
class FirstRun:
    """What the fleet tells its user: the admin login made now (password None when the login
    existed already) and the local key."""

    admin_user: str
    admin_password: str | None
    api_key: str
    api_secretkey: str


def prepare() -> FirstRun:
    """Migrate, then make what is missing; safe to run at every start."""
    os.makedirs(getconfigpath(), exist_ok=True)  # the default SQLite database lives there
    call_command("migrate", interactive=False, verbosity=0)
    user, password = _admin()
    api_key, secret = _local_key()
    mirror.publish_all()  # a Redis that restarted empty gets the keys and crons back
    cron_mirror.publish_all()
    return FirstRun(user, password, api_key, secret)


def _admin() -> tuple[str, str | None]:
    users = get_user_model().objects
    name = os.environ.get("PICLOUD_ADMIN_USER", "admin")
    existing = users.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return existing.get_username(), None
    password = os.environ.get("PICLOUD_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    users.create_superuser(name, email="", password=password)
    return name, password


def _local_key() -> tuple[str, str]:
    path = os.path.join(getconfigpath(), LOCAL_KEY_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        found = issuing.authenticate(saved["api_key"], saved["api_secretkey"])
        if found is not None:
            return found.key, saved["api_secretkey"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    made, secret = issuing.issue_key(description="local key made by make run")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}.tmp"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"api_key": made.key, "api_secretkey": secret}, handle)
    os.replace(partial, path)
    return made.key, secret
