"""Name checks: every bad name is rejected by every function, naming the name and the fault,
and nothing is written anywhere."""

from __future__ import annotations

import io
import os

import pytest

import cloud.files
from picloud.exceptions import CloudException, ConfigError
from picloud.files import InvalidFileNameError
from picloud.files.names import check_name

BAD_NAMES = {
    "empty": ("", "empty"),
    "dotdot": ("..", "'..'"),
    "parent": ("../escape.txt", "'..'"),
    "deep-parent": ("data/../../escape.txt", "'..'"),
    "trailing-parent": ("data/..", "'..'"),
    "absolute": ("/etc/passwd", "absolute"),
    "backslash": ("..\\escape.txt", "backslash"),
    "nul": ("a\x00b", "NUL"),
    "long-name": ("x" * 1025, "1025 bytes"),
    "long-multibyte": ("é" * 513, "1026 bytes"),
    "long-segment": ("data/" + "y" * 256, "segment of 256 bytes"),
    "empty-segment": ("data//a", "empty"),
    "trailing-slash": ("data/", "empty"),
    "dot-segment": ("./a", "'.'"),
    "surrogate": ("\udc80", "UTF-8"),
}
GOOD_NAMES = ["a.txt", "data/a.txt", "ünï/cödé.txt", "..a", "a..", "a b:c", "x" * 255]


def _every_call(name: str, tmp_path) -> list:
    source = tmp_path / "source.txt"
    source.write_bytes(b"payload")
    return [
        lambda: cloud.files.put(str(source), name),
        lambda: cloud.files.putf(b"payload", name),
        lambda: cloud.files.get(name, str(tmp_path / "out")),
        lambda: cloud.files.getf(name),
        lambda: cloud.files.exists(name),
        lambda: cloud.files.delete(name),
        lambda: cloud.files.get_md5(name),
        lambda: cloud.files.sync_to_cloud(str(source), name),
        lambda: cloud.files.sync_from_cloud(name, str(tmp_path / "out")),
    ]


def _tree(root) -> set[str]:
    return {
        os.path.relpath(os.path.join(folder, entry), root)
        for folder, dirs, files in os.walk(root)
        for entry in dirs + files
    }


@pytest.mark.parametrize(("name", "fault"), BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_names_are_rejected_everywhere(backend, current_store, tmp_path, name, fault):
    before = _tree(tmp_path)
    for call in _every_call(name, tmp_path):
        with pytest.raises(InvalidFileNameError) as caught:
            call()
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, CloudException)
        assert repr(name)[:60] in str(caught.value)
        assert fault in str(caught.value)
    # nothing written: not on disk (the source file is the only new entry) ...
    assert _tree(tmp_path) - before == {"source.txt"}
    # ... and nothing in the store
    assert current_store.names() == []
    assert not os.path.exists(backend.files_root)


def test_non_str_names_are_rejected(backend):
    for name in [b"bytes", 5, None]:
        with pytest.raises(InvalidFileNameError, match="must be a str"):
            cloud.files.getf(name)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_round_trip(backend, name):
    cloud.files.putf(name.encode(), name)
    assert cloud.files.list() == [name]
    assert cloud.files.getf(name).read() == name.encode()
    assert cloud.files.delete(name) is True


def test_name_of_1024_bytes_is_accepted_by_the_check():
    name = "/".join(["y" * 200] * 5) + "/" + "z" * 19
    assert len(name.encode()) == 1024
    assert check_name(name) == name


@pytest.mark.parametrize("api_key", ["", ".", "..", ".hidden", "a/b", "a\\b", "k" * 256])
def test_unusable_api_keys_are_a_config_error(backend, monkeypatch, api_key):
    backend.use_key(monkeypatch, api_key)
    with pytest.raises(ConfigError, match="api_key"):
        cloud.files.list()
    assert not os.path.exists(backend.files_root)


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_symlink_out_of_the_key_folder_is_not_followed(backend, tmp_path):
    cloud.files.putf(b"x", "inside.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    key_root = os.path.join(backend.files_root, "1001")
    os.symlink(outside, os.path.join(key_root, "link"))
    os.symlink(outside / "secret.txt", os.path.join(key_root, "secret-link"))

    for name in ["link/new.txt", "link/secret.txt", "secret-link"]:
        with pytest.raises(InvalidFileNameError, match="resolves outside"):
            cloud.files.putf(b"overwritten", name)
        with pytest.raises(InvalidFileNameError, match="resolves outside"):
            cloud.files.getf(name)
        with pytest.raises(InvalidFileNameError, match="resolves outside"):
            cloud.files.delete(name)
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert cloud.files.list() == ["inside.txt"]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_the_local_store_itself_refuses_paths_out_of_its_folder(backend, current_store, tmp_path):
    """Defence in depth: even a name that skipped the checks cannot leave the key's folder."""
    before = _tree(tmp_path)
    for name in ["../escape.txt", "../1002/other.txt", "a/../../../escape.txt"]:
        with pytest.raises(InvalidFileNameError, match="resolves outside"):
            current_store.put(name, io.BytesIO(b"x"))
    assert _tree(tmp_path) == before
