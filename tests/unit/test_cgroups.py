"""The cgroup v2 side of sandbox limits, against a directory laid out as cgroupfs is (this
project's test machines have no delegated cgroup v2: there, sandboxes use rlimits, tested with
real jobs in tests/sandbox)."""

from __future__ import annotations

from pathlib import Path

from workers import cgroups


def _tree(base: Path, controllers: str) -> Path:
    base.mkdir()
    (base / "cgroup.controllers").write_text(controllers)
    (base / "cgroup.procs").write_text("4242\n")
    (base / "cgroup.subtree_control").write_text("")
    return base


def test_delegating_moves_the_worker_aside_and_enables_memory_and_pids(tmp_path):
    base = _tree(tmp_path / "picloud-c1.service", "cpu io memory pids")
    assert cgroups.delegate(base)
    assert (base / "workers" / "cgroup.procs").read_text() == "4242"
    assert (base / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_a_cgroup_without_the_memory_controller_is_not_used(tmp_path):
    assert not cgroups.delegate(_tree(tmp_path / "cg", "cpu pids"))


def test_a_sandbox_group_sets_the_pool_limits_and_sees_an_oom_kill(tmp_path):
    base = _tree(tmp_path / "cg", "memory pids")
    group = cgroups.SandboxGroup(base, 600123, 300, 256)
    assert (group.path / "memory.max").read_text() == str(300 << 20)
    assert (group.path / "memory.swap.max").read_text() == "0"
    assert (group.path / "pids.max").read_text() == "256"
    (group.path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    group.enter(777)
    assert (group.path / "cgroup.procs").read_text() == "777"
    assert not group.hit_limit()
    (group.path / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n")
    assert group.hit_limit()
