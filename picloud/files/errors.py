"""The errors ``cloud.files`` raises, all under ``CloudException``.

::

    CloudException
     ├── InvalidFileNameError (ValueError)   a name that could escape or break the key's space
     ├── NoSuchFileError                     no file of that name in the key's space
     └── StoreUnavailableError               the S3/MinIO endpoint cannot be reached
"""

from __future__ import annotations

from picloud.exceptions import CloudException


class InvalidFileNameError(CloudException, ValueError):
    """A file name that is not allowed. ``.name`` is the name, ``.reason`` what is wrong."""

    def __init__(self, name: object, reason: str) -> None:
        super().__init__(f"invalid file name {name!r}: {reason}")
        self.name = name
        self.reason = reason


class NoSuchFileError(CloudException):
    """No file of that name is stored. ``.name`` is the name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"file {name!r} does not exist")
        self.name = name


class StoreUnavailableError(CloudException):
    """The S3/MinIO endpoint cannot be reached. ``.endpoint`` is where picloud looked."""

    def __init__(self, endpoint: str, detail: str) -> None:
        super().__init__(f"cannot reach the S3 endpoint {endpoint}: {detail}")
        self.endpoint = endpoint
