"""Per-job accounting in info, measured where the job ran: memory (peak bytes), cputime (user,
system seconds) and cpu_percentage, asked for by group or by dotted name."""

from __future__ import annotations

from tests import jobfuncs as jf


def test_a_cpu_spin_shows_its_user_time(cloud):
    jid = cloud.call(jf.spin_cpu, 1.0)
    cloud.result(jid, timeout=60)
    info = cloud.info(jid, ["cputime", "cpu_percentage", "runtime"])[jid]
    assert info["cputime"]["user"] >= 0.8
    assert info["cputime"]["system"] >= 0.0
    assert 50 <= info["cpu_percentage"]["user"] <= 110
    assert info["cputime"]["user"] <= info["runtime"] + 0.1


def test_peak_memory_is_per_job(cloud):
    big = cloud.call(jf.hold_memory, 120)
    cloud.result(big, timeout=60)
    small = cloud.call(jf.square, 3)
    cloud.result(small, timeout=60)
    peaks = {j: cloud.info(j, ["memory"])[j]["memory"]["max_usage"] for j in (big, small)}
    assert peaks[big] >= 120 << 20
    assert 0 < peaks[small] < peaks[big] - (60 << 20)


def test_dotted_names_answer_flat_and_nested(cloud):
    jid = cloud.call(jf.spin_cpu, 0.2)
    cloud.result(jid, timeout=60)
    info = cloud.info(jid, ["memory.max_usage", "cputime.user", "status"])[jid]
    assert info["memory.max_usage"] > 0 and info["memory"]["max_usage"] == info["memory.max_usage"]
    assert info["cputime.user"] > 0 and info["cputime"]["user"] == info["cputime.user"]
    assert info["status"] == "done"


def test_an_unfinished_job_has_no_figures_yet(cloud, gates):
    gate = gates("hold")
    jid = cloud.call(jf.wait_for_file, gate.path)
    jf.wait_status(cloud, jid, "processing", 30)
    assert cloud.info(jid, ["memory"])[jid]["memory"] is None
    gate.open()
    cloud.result(jid, timeout=60)
