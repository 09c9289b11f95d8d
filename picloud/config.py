"""Settings: defaults < ``~/.picloud/cloudconf.py`` < ``PICLOUD_*`` environment variables."""

from __future__ import annotations

import dataclasses
import os
import runpy
import threading
from dataclasses import dataclass, fields
from typing import Any

from picloud import defaults
from picloud.exceptions import ConfigError

CONFIG_FILENAME = "cloudconf.py"


def getconfigpath() -> str:
    """Return the directory holding picloud's configuration and logs (``$PICLOUD_HOME`` or
    ``~/.picloud``)."""
    return os.environ.get("PICLOUD_HOME") or os.path.join(os.path.expanduser("~"), ".picloud")


@dataclass(frozen=True)
class Settings:
    """Every setting picloud reads, with its default."""

    api_key: str = defaults.API_KEY
    api_secretkey: str = defaults.API_SECRETKEY
    server_url: str = defaults.SERVER_URL
    use_simulator: bool = defaults.USE_SIMULATOR
    num_procs: int = defaults.NUM_PROCS
    redirect_job_output: bool = defaults.REDIRECT_JOB_OUTPUT
    max_transmit_data: int = defaults.MAX_TRANSMIT_DATA
    broker_url: str = defaults.BROKER_URL
    s3_endpoint: str = defaults.S3_ENDPOINT
    s3_access_key: str = defaults.S3_ACCESS_KEY
    s3_secret_key: str = defaults.S3_SECRET_KEY
    s3_bucket: str = defaults.S3_BUCKET
    s3_secure: bool = defaults.S3_SECURE

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, config_dir: str | None = None) -> Settings:
        """Read cloudconf.py (if present) then the environment; raise ConfigError on a bad value."""
        environ = dict(os.environ if environ is None else environ)
        path = os.path.join(config_dir or getconfigpath(), CONFIG_FILENAME)
        from_file = _read_config_file(path) if os.path.exists(path) else {}
        values: dict[str, Any] = {}
        for field in fields(cls):
            env_name = f"PICLOUD_{field.name.upper()}"
            if env_name in environ:
                values[field.name] = _cast(field.name, field.type, environ[env_name], env_name)
            elif field.name in from_file:
                values[field.name] = _cast(field.name, field.type, from_file[field.name], path)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied, each checked like a loaded value."""
        types = {f.name: f.type for f in fields(self)}
        for name in changes:
            if name not in types:
                raise ConfigError(f"unknown setting {name!r}")
        cast = {k: _cast(k, types[k], v, "argument") for k, v in changes.items()}
        return dataclasses.replace(self, **cast)

    @property
    def effective_num_procs(self) -> int:
        """``num_procs`` with 0 resolved to the number of CPU cores."""
        return self.num_procs or os.cpu_count() or 1


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        return runpy.run_path(path)
    except Exception as exc:  # a broken config file must name itself
        raise ConfigError(f"cannot read {path}: {exc}") from exc


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _cast(name: str, type_name: Any, value: Any, source: str) -> Any:
    """Convert ``value`` to the setting's type or raise ConfigError naming the setting."""
    kind = type_name if isinstance(type_name, str) else type_name.__name__
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            number = int(value)
            if number < 0:
                raise ValueError(value)
            return number
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {name} (from {source}) must be a {'non-negative ' if kind == 'int' else ''}"
            f"{kind}, got {value!r}"
        ) from None


_lock = threading.Lock()
_current: Settings | None = None


def current() -> Settings:
    """The settings in force (loaded on first use)."""
    global _current
    with _lock:
        if _current is None:
            _current = Settings.load()
        return _current


def reload() -> Settings:
    """Forget the loaded settings and read them again."""
    global _current
    with _lock:
        _current = None
    return current()
