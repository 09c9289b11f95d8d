"""Every error picloud raises, as one tree under ``CloudException``.

::

    CloudException                      a job failed, or a request about jobs could not be served
     ├── CloudTimeoutError              join/result/iresult gave up waiting (.jid: what is pending)
     ├── NoSuchJobError                 a jid that does not exist, or was deleted
     ├── InvalidJidError (TypeError)    something that is not a jid where jids were expected
     ├── InvalidOptionError (ValueError)     a bad value for a reserved ``_keyword``
     ├── InvalidOptionTypeError (TypeError)  a reserved ``_keyword`` of the wrong type
     ├── PicklingFailure (PicklingError)     a function or argument that cannot be serialized
     ├── JobKilled                      raised inside a job when it is killed
     ├── DependencyFailed               a job could not start because a dependency failed
     └── ConfigError                    a bad setting

``str()`` follows PiCloud: ``'Job <jid>: <text>'`` when a jid is known, ``'Error <status>: <text>'``
when only a status code is, else the text. For a failed job the text is the remote traceback.
"""

from __future__ import annotations

import pickle
from typing import Any


class CloudException(Exception):
    """A job failed, or a request about jobs could not be served."""

    def __init__(
        self,
        value: Any = None,
        jid: Any = None,
        status: Any = None,
        retry: bool = False,
        hint: str | None = None,
    ) -> None:
        if value is None:
            value = (self.__doc__ or type(self).__name__).strip()
        super().__init__(value)
        self.parameter = value
        self.jid = jid
        self.status = status
        self.retry = retry
        self.hint = hint

    def __str__(self) -> str:
        if self.jid is not None:
            text = f"Job {self.jid}: {self.parameter}"
            return f"{text}\nTIP: {self.hint}" if self.hint else text
        if self.status is not None:
            return f"Error {self.status}: {self.parameter}"
        return str(self.parameter)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.parameter, self.__dict__))


def _rebuild(cls: type[CloudException], value: Any, state: dict[str, Any]) -> CloudException:
    """Unpickle any exception of the tree whatever its constructor takes."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, value)
    exc.__dict__.update(state)
    return exc


class CloudTimeoutError(CloudException):
    """Timed out"""

    def __init__(self, value: Any = "Timed out", jid: Any = None) -> None:
        super().__init__(value, jid=jid)


class NoSuchJobError(CloudException):
    """Does not exist or was purged from cache"""

    def __init__(self, jid: int) -> None:
        super().__init__("Does not exist or was purged from cache", jid=jid)


class InvalidJidError(CloudException, TypeError):
    """jid(s) must be integers"""


class InvalidOptionError(CloudException, ValueError):
    """A reserved keyword argument has a bad value."""


class InvalidOptionTypeError(CloudException, TypeError):
    """A reserved keyword argument has the wrong type."""


class PicklingFailure(CloudException, pickle.PicklingError):
    """Something could not be serialized. ``.path`` says where it sits."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


#: How a job its user killed ends, on every engine.
KILLED_BY_USER = "Job terminated by user"


class JobKilled(CloudException):
    """Job terminated by user"""


class DependencyFailed(CloudException):
    """Could not start due to dependency erroring"""

    def __init__(self, value: Any = None, jid: Any = None, parent_jid: int | None = None) -> None:
        super().__init__(value, jid=jid, status="stalled")
        self.parent_jid = parent_jid


class ConfigError(CloudException):
    """A setting has a bad value."""


class NoWorkerWarning(UserWarning):
    """A job was queued to a pool no live worker serves: it waits until one starts."""

    def __init__(self, queue: str) -> None:
        super().__init__(
            f"no live worker serves pool {queue!r}: the job waits until a worker starts "
            f"(start one with: celery -A workers worker -Q {queue})"
        )
        self.queue = queue
