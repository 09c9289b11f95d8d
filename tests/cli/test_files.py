"""``picloud files put/get/list/delete`` on the local folder store."""

from __future__ import annotations

import json


def test_put_list_get_delete(picloud_cli, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("hello files")
    assert picloud_cli("files", "put", str(source)).stdout == "stored notes.txt\n"
    assert picloud_cli("files", "put", str(source), "copy.txt").exit_code == 0
    assert picloud_cli("files", "list").stdout == "copy.txt\nnotes.txt\n"
    assert json.loads(picloud_cli("files", "list", "--json").stdout) == ["copy.txt", "notes.txt"]
    target = tmp_path / "back.txt"
    fetched = picloud_cli("files", "get", "notes.txt", str(target))
    assert fetched.stdout == f"saved {target}\n"
    assert target.read_text() == "hello files"
    deleted = picloud_cli("files", "delete", "--json", "notes.txt", "copy.txt")
    assert json.loads(deleted.stdout) == {"deleted": ["notes.txt", "copy.txt"]}
    assert picloud_cli("files", "list").stdout == ""


def test_file_errors_are_one_line(picloud_cli, tmp_path):
    missing = picloud_cli("files", "get", "absent.txt", str(tmp_path / "x"))
    assert (missing.exit_code, missing.stderr) == (1, "Error: file 'absent.txt' does not exist\n")
    gone = picloud_cli("files", "delete", "absent.txt")
    assert (gone.exit_code, gone.stderr) == (1, "Error: no such file: absent.txt\n")
    bad_name = picloud_cli("files", "put", __file__, "../escape")
    assert bad_name.exit_code == 1 and bad_name.stderr.startswith("Error: invalid file name")
    no_source = picloud_cli("files", "put", str(tmp_path / "nothing"))
    assert no_source.exit_code == 2 and "does not exist" in no_source.stderr
