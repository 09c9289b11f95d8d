"""``cloud.files``: each API key's stored files, on MinIO/S3 or in a local folder.

The store follows the settings in force: ``s3_endpoint`` set means the bucket ``s3_bucket``
there, with each key's files under ``<api_key>/``; empty means the folder
``<config dir>/files/<api_key>/``. Names may contain ``/`` for sub-folders.
"""

from __future__ import annotations

from picloud.files.api import delete, exists, get, get_md5, getf, put, putf
from picloud.files.api import list_files as list
from picloud.files.cloudfile import CloudFile
from picloud.files.errors import InvalidFileNameError, NoSuchFileError, StoreUnavailableError
from picloud.files.sync import sync_from_cloud, sync_to_cloud

__all__ = [
    # transfer
    "put",
    "putf",
    "get",
    "getf",
    "sync_to_cloud",
    "sync_from_cloud",
    # manage
    "list",
    "exists",
    "delete",
    "get_md5",
    # types and errors
    "CloudFile",
    "InvalidFileNameError",
    "NoSuchFileError",
    "StoreUnavailableError",
]
