"""Settings: defaults < ``~/.picloud/cloudconf.py`` < ``PICLOUD_*`` environment variables < what
the program changes at run time (``cloud.config`` + ``commit()``, ``cloud.setkey``).

This module also owns cloudconf.py (written with every default commented out on first use,
updated by ``picloud setup``) and the 'picloud' logger that the logging settings configure."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import logging
import os
import re
import runpy
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from picloud import defaults, runtime
from picloud.exceptions import ConfigError

CONFIG_FILENAME = "cloudconf.py"
#: Settings that ``setkey(immutable=True)`` freezes.
KEY_SETTINGS = ("api_key", "api_secretkey")


def getconfigpath() -> str:
    """Return the directory holding picloud's configuration and logs (``$PICLOUD_HOME`` or
    ``~/.picloud``)."""
    return os.environ.get("PICLOUD_HOME") or os.path.join(os.path.expanduser("~"), ".picloud")


def config_file() -> str:
    """The path of cloudconf.py."""
    return os.path.join(getconfigpath(), CONFIG_FILENAME)


@dataclass(frozen=True)
class Settings:
    """Every setting picloud reads, with its default (documented in picloud/defaults.py)."""

    # account
    api_key: str = defaults.API_KEY
    api_secretkey: str = defaults.API_SECRETKEY
    server_url: str = defaults.SERVER_URL
    server_list_url: str = defaults.SERVER_LIST_URL
    use_simulator: bool = defaults.USE_SIMULATOR
    # cluster and files
    broker_url: str = defaults.BROKER_URL
    s3_endpoint: str = defaults.S3_ENDPOINT
    s3_access_key: str = defaults.S3_ACCESS_KEY
    s3_secret_key: str = defaults.S3_SECRET_KEY
    s3_bucket: str = defaults.S3_BUCKET
    s3_secure: bool = defaults.S3_SECURE
    fleet_public_key: str = defaults.FLEET_PUBLIC_KEY
    fleet_authority_file: str = defaults.FLEET_AUTHORITY_FILE
    sandbox_uid: int = defaults.SANDBOX_UID
    sandbox_uids: int = defaults.SANDBOX_UIDS
    automatic_dependency_transfer: bool = defaults.AUTOMATIC_DEPENDENCY_TRANSFER
    # logging
    log_filename: str = defaults.LOG_FILENAME
    save_log: bool = defaults.SAVE_LOG
    log_level: str = defaults.LOG_LEVEL
    print_log_level: str = defaults.PRINT_LOG_LEVEL
    purge_days: int = defaults.PURGE_DAYS
    serialize_logging: bool = defaults.SERIALIZE_LOGGING
    serialize_logging_path: str = defaults.SERIALIZE_LOGGING_PATH
    # local processes
    num_procs: int = defaults.NUM_PROCS
    redirect_job_output: bool = defaults.REDIRECT_JOB_OUTPUT
    mp_cache_size_limit: int = defaults.MP_CACHE_SIZE_LIMIT
    force_redirect_job_output: bool = defaults.FORCE_REDIRECT_JOB_OUTPUT
    force_serialize_logging: bool = defaults.FORCE_SERIALIZE_LOGGING
    # transport
    cloud_status_cache_size: int = defaults.CLOUD_STATUS_CACHE_SIZE
    cloud_result_cache_size: int = defaults.CLOUD_RESULT_CACHE_SIZE
    max_transmit_data: int = defaults.MAX_TRANSMIT_DATA
    use_gzip: bool = defaults.USE_GZIP
    http_close: bool = defaults.HTTP_CLOSE
    proxy_server: str = defaults.PROXY_SERVER
    server_ca_file: str = defaults.SERVER_CA_FILE

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, config_dir: str | None = None) -> Settings:
        """Read cloudconf.py (if present) then the environment; raise ConfigError on a bad value.
        Names that are not settings are ignored in both (old PiCloud files have a few)."""
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
                raise ConfigError(f"unknown setting {name!r}{_suggestion(name, types)}")
        cast = {k: _cast(k, types[k], v, "argument") for k, v in changes.items()}
        return dataclasses.replace(self, **cast)

    @property
    def effective_num_procs(self) -> int:
        """``num_procs`` with 0 resolved to the number of CPU cores."""
        return self.num_procs or os.cpu_count() or 1


SETTING_NAMES = tuple(f.name for f in fields(Settings))


def _suggestion(name: str, names: Any) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        return runpy.run_path(path)
    except Exception as exc:  # a broken config file must name itself
        raise ConfigError(f"cannot read {path}: {exc}") from exc


# --- checking values --------------------------------------------------------------------------
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE | _FALSE:
        raise ValueError(value)
    return text in _TRUE


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def _level(value: str) -> str:
    if value.upper() not in _LEVELS:
        raise ValueError(value)
    return value.upper()


def _url(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value and urlsplit(value).scheme not in schemes:
            raise ValueError(value)
        return value

    return check


_KINDS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "bool": (_to_bool, "a bool"),
    "int": (_to_int, "a non-negative int"),
    "str": (str, "a str"),
}
#: Settings whose values are checked beyond their type: (check, what a good value is).
_CHECKS: dict[str, tuple[Callable[[str], str], str]] = {
    "log_level": (_level, f"one of {', '.join(_LEVELS)}"),
    "print_log_level": (_level, f"one of {', '.join(_LEVELS)}"),
    "broker_url": (_url("redis", "rediss", "unix"), "a redis://, rediss:// or unix:// URL, or ''"),
    "server_url": (_url("http", "https"), "an http:// or https:// URL, or ''"),
}


def _cast(name: str, type_name: Any, value: Any, source: str) -> Any:
    """Convert ``value`` to the setting's type or raise ConfigError naming the setting."""
    kind = type_name if isinstance(type_name, str) else type_name.__name__
    convert, expected = _KINDS[kind]
    check, expected = _CHECKS.get(name, (None, expected))
    try:
        converted = convert(value)
        return check(converted) if check else converted
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {name} (from {source}) must be {expected}, got {value!r}"
        ) from None


# --- the settings in force --------------------------------------------------------------------
_lock = threading.RLock()
_current: Settings | None = None
#: What the program set at run time (cloud.config commits, setkey): above every other source.
_overrides: dict[str, Any] = {}
#: True once ``setkey(immutable=True)`` froze the key.
_key_frozen = False


def current() -> Settings:
    """The settings in force (loaded on first use)."""
    global _current
    with _lock:
        if _current is None:
            _current = Settings.load().replace(**_overrides)
        return _current


def reload() -> Settings:
    """Read cloudconf.py and the environment again (changes made at run time stay on top)."""
    global _current
    with _lock:
        _current = None
    return current()


def apply(**changes: Any) -> Settings:
    """Set ``changes`` above every other source for the rest of this process; return the new
    settings. Raises ConfigError naming a bad or unknown setting, or a change of a frozen key."""
    global _current
    with _lock:
        settings = current()
        updated = settings.replace(**changes)
        check_key_change(settings, updated)
        _overrides.update({name: getattr(updated, name) for name in changes})
        _current = updated
        return updated


def check_key_change(settings: Settings, updated: Settings) -> None:
    """Raise ConfigError if ``updated`` changes a key that ``setkey(immutable=True)`` froze."""
    for name in KEY_SETTINGS:
        if _key_frozen and getattr(settings, name) != getattr(updated, name):
            raise ConfigError(f"setting {name} was made immutable by cloud.setkey(immutable=True)")


def freeze_key() -> None:
    """Refuse every later change of api_key and api_secretkey in this process."""
    global _key_frozen
    _key_frozen = True


def first_use() -> Settings:
    """The settings in force, after what a client does on first use (never inside a job): write
    cloudconf.py with commented defaults if it is missing, and configure the 'picloud' logger."""
    settings = current()
    if not runtime.running_on_cloud():
        try:
            ensure_config_file()
        except OSError as exc:
            logging.getLogger("picloud").warning("picloud: cannot write %s: %s", config_file(), exc)
        apply_logging(settings)
    return settings


# --- cloudconf.py -----------------------------------------------------------------------------
_HEADER = '''"""picloud's settings (PiCloud's cloudconf.py), a Python module of plain assignments.

Every setting is listed with its default, commented out: uncomment a line to change it.
PICLOUD_<NAME> environment variables override this file; cloud.config assignments followed by
cloud.config.commit() override both.
"""
'''


@functools.cache
def setting_docs() -> dict[str, str]:
    """Each setting's description: the ``#:`` comment above its constant in defaults.py (none
    when picloud is installed without its sources)."""
    docs: dict[str, str] = {}
    comment: list[str] = []
    try:
        source = inspect.getsource(defaults)
    except (OSError, TypeError):
        return docs
    for line in source.splitlines():
        if line.startswith("#:"):
            comment.append(line[2:].strip())
            continue
        name = line.partition("=")[0].strip().lower()
        if comment and name in SETTING_NAMES:
            docs[name] = " ".join(comment)
        comment = []
    return docs


def render_template() -> str:
    """cloudconf.py with every setting's description and its default, commented out."""
    docs = setting_docs()
    blocks = [_HEADER]
    for field in fields(Settings):
        text = textwrap.fill(
            docs.get(field.name, ""), 98, initial_indent="# ", subsequent_indent="# "
        )
        blocks.append(f"{text}\n# {field.name} = {field.default!r}\n".lstrip("\n"))
    return "\n".join(blocks)


def ensure_config_file() -> str:
    """Write cloudconf.py with commented defaults unless it exists; return its path. Atomic:
    a reader sees no file or the whole file, and an existing file is never replaced."""
    path = config_file()
    if not os.path.exists(path):
        temporary = _write_temporary(path, render_template())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path


def write_settings(values: dict[str, Any]) -> str:
    """Set ``values`` in cloudconf.py (created first if missing), keeping every other line, and
    return its path. A value equal to its default is only written over an active line."""
    checked = Settings().replace(**values)
    path = ensure_config_file()
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for name in values:
        lines = _set_line(lines, name, getattr(checked, name))
    temporary = _write_temporary(path, "\n".join(lines) + "\n")
    os.replace(temporary, path)
    return path


def _set_line(lines: list[str], name: str, value: Any) -> list[str]:
    """Replace the active ``name = ...`` line, or add one under the commented default."""
    assignment = f"{name} = {value!r}"
    active = re.compile(rf"{name}\s*=")
    commented = re.compile(rf"#\s*{name}\s*=")
    for index, line in enumerate(lines):
        if active.match(line):
            return [*lines[:index], assignment, *lines[index + 1 :]]
    if value == getattr(Settings(), name):
        return lines
    for index, line in enumerate(lines):
        if commented.match(line):
            return [*lines[: index + 1], assignment, *lines[index + 1 :]]
    return [*lines, assignment]


def _write_temporary(path: str, text: str) -> str:
    """``text`` in a new private (0600) file next to ``path``, flushed to disk; its name."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".cloudconf-", suffix=".tmp")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return temporary


# --- the 'picloud' logger ---------------------------------------------------------------------
class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a message comes (it may be replaced)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_log_handlers: list[logging.Handler] = []
_log_applied: tuple[Any, ...] | None = None


def apply_logging(settings: Settings) -> None:
    """Configure the 'picloud' logger: its level (log_level), a stderr handler
    (print_log_level) and, if save_log, a file handler for log_filename in getconfigpath()."""
    global _log_applied
    wanted = (settings.log_level, settings.print_log_level, settings.save_log)
    wanted += (os.path.join(getconfigpath(), settings.log_filename),)
    with _lock:
        if wanted == _log_applied:
            return
        logger = logging.getLogger("picloud")
        for handler in _log_handlers:
            logger.removeHandler(handler)
            handler.close()
        _log_handlers.clear()
        console = _Stderr()
        console.setLevel(settings.print_log_level)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        _log_handlers.append(console)
        if settings.save_log:
            path = wanted[-1]
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            to_file = logging.FileHandler(path, encoding="utf-8", delay=True)
            to_file.setFormatter(
                logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
            )
            _log_handlers.append(to_file)
        for handler in _log_handlers:
            logger.addHandler(handler)
        logger.setLevel(settings.log_level)
        _log_applied = wanted
