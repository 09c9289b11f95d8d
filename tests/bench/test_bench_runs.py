"""``python -m bench`` runs end to end: a quick run of the local comparison and of picloud's
cluster against RQ writes its tables (Markdown included) with every scenario's rows. (Speed
itself is never asserted in tests: the figures are the bench's business.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.services import REPO

pytestmark = pytest.mark.slow


def _bench(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--repeats", "1", *args],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )


def test_the_local_comparison_writes_every_scenario(tmp_path):
    markdown, data = tmp_path / "b.md", tmp_path / "b.json"
    _bench("--system", "picloud-local", "--markdown", str(markdown), "--json", str(data))
    text = markdown.read_text()
    for row in (
        "B1 call+result p50",
        "B3 map+result",
        "B4 efficiency",
        "B5 1 MB as result",
        "B7 collect",
        "B9 cold start",
    ):
        assert row in text, row
    rows = {row["key"]: row for row in json.loads(data.read_text())["rows"]}
    assert rows["B1.p50"]["values"]["multiprocessing"]["value"] > 0
    assert rows["B9.first"]["values"]["picloud-local"]["value"] > 0


def test_the_cluster_comparison_counts_redis_commands(tmp_path):
    data = tmp_path / "b.json"
    _bench(
        "--system", "picloud-cluster", "--peers", "rq", "--scenarios", "B1,B10", "--json", str(data)
    )
    rows = {row["key"]: row for row in json.loads(data.read_text())["rows"]}
    for system in ("picloud-cluster", "rq"):
        assert rows["B1.cmds"]["values"][system]["value"] > 1
        assert rows["B10.cmds"]["values"][system]["value"] >= 0
