"""What only the local folder store does: where files live, atomic writes, the md5 cache, and
files and folders of the same name."""

from __future__ import annotations

import hashlib
import os

import pytest

import cloud.files
from picloud.exceptions import CloudException

pytestmark = pytest.mark.parametrize("backend", ["local"], indirect=True)


def test_files_live_in_the_config_dir_per_key(backend):
    cloud.files.putf(b"here", "data/a.txt")
    path = os.path.join(backend.home, "files", "1001", "data", "a.txt")
    with open(path, "rb") as file:
        assert file.read() == b"here"


def test_a_file_changed_behind_the_store_gets_a_fresh_md5(backend):
    cloud.files.putf(b"before", "m.txt")
    assert cloud.files.get_md5("m.txt") == hashlib.md5(b"before").hexdigest()
    path = os.path.join(backend.files_root, "1001", "m.txt")
    with open(path, "wb") as file:
        file.write(b"after, and longer")
    assert cloud.files.get_md5("m.txt") == hashlib.md5(b"after, and longer").hexdigest()


def test_a_file_copied_in_by_hand_is_listed_and_hashed(backend):
    folder = os.path.join(backend.files_root, "1001", "manual")
    os.makedirs(folder)
    with open(os.path.join(folder, "m.bin"), "wb") as file:
        file.write(b"by hand")
    assert cloud.files.list() == ["manual/m.bin"]
    assert cloud.files.get_md5("manual/m.bin") == hashlib.md5(b"by hand").hexdigest()


def test_delete_removes_emptied_folders(backend):
    cloud.files.putf(b"x", "a/b/c.txt")
    cloud.files.delete("a/b/c.txt")
    assert os.listdir(os.path.join(backend.files_root, "1001")) == []


def test_a_file_where_a_folder_is_needed_and_the_reverse(backend):
    cloud.files.putf(b"x", "a")
    with pytest.raises(CloudException, match="'a/b'"):
        cloud.files.putf(b"y", "a/b")
    cloud.files.putf(b"z", "d/x")
    with pytest.raises(CloudException, match="'d'.*folder"):
        cloud.files.putf(b"w", "d")
    assert cloud.files.list() == ["a", "d/x"]
    assert os.listdir(os.path.join(backend.files_root, ".tmp")) == []
