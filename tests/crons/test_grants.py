"""A cron's runs carry the grant its owner signed at register instead of a signature: on real
workers, a run whose grant, function, options or arguments were changed, or whose cron was
deregistered (or registered again with another function) before it ran, ends in error and
nothing of it runs (the marker file its function would write stays absent)."""

from __future__ import annotations

import functools
import pickle

import pytest

from picloud import cron, keyring, keys, signing
from picloud.exceptions import CloudException, NoWorkerWarning
from tests import jobfuncs as jf
from tests.crons.conftest import CreatesFile, absent, release, store_function
from tests.queueing import set_payload
from tests.services import TEST_AUTHORITY, signed_record
from workers.cron_task import fire

pytestmark = pytest.mark.django_db(transaction=True)


def _held_run(label: str, marker: str) -> int:
    """Register ``label`` (a run writes ``marker``) on the unserved queue; queue one run."""
    touch = functools.partial(jf.touch_then_return, marker, "ran")
    cron.register(touch, label, "0 0 1 1 *", _env="held")
    with pytest.warns(NoWorkerWarning):
        return cron.manual_run(label)


def _error_of(jobs, jid: int) -> str:
    with pytest.raises(CloudException) as caught:
        jobs.result(jid, timeout=30)
    return str(caught.value)


def test_an_untouched_held_run_runs(user, jobs, fleet, tmp_path):
    marker = str(tmp_path / "marker")
    jid = _held_run("fine", marker)
    spec = release(fleet)
    assert spec["cron"] == "fine" and "sig" not in spec and spec["queue"] == "c1.held"
    assert jobs.result(jid, timeout=30) == "ran" and not absent(marker)


def _evil_function(spec: dict, fleet, evil: str) -> None:
    spec["func"] = store_function(fleet, CreatesFile(evil))


def _forged_grant(spec: dict, fleet, evil: str) -> None:
    """An attacker's own grant for the evil function: signed, but not by the key's secret."""
    spec["func"] = store_function(fleet, CreatesFile(evil))
    spec["grant"] = signing.Signer(spec["key"], "not-the-secret").grant(spec["cron"], spec)


def _other_cron(spec: dict, fleet, evil: str) -> None:
    spec["cron"] = "another-label"  # the grant names its own label


def _changed_options(spec: dict, fleet, evil: str) -> None:
    spec["options"]["os_env_vars"] = [["PYTHONSTARTUP", evil]]


def _replaced_function_blob(spec: dict, fleet, evil: str) -> None:
    fleet.set(keys.function(spec["func"]), pickle.dumps(CreatesFile(evil)))


def _arguments(spec: dict, fleet, evil: str) -> None:
    set_payload(fleet, spec["chunk"], pickle.dumps([pickle.dumps(CreatesFile(evil))]))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_evil_function, "the grant of cron 'tampered' does not match"),
        (_forged_grant, "the grant of cron 'tampered' does not match"),
        (_other_cron, "the grant of cron 'another-label' does not match"),
        (_changed_options, "the grant of cron 'tampered' does not match"),
        (_replaced_function_blob, "its function is not the one it was signed with"),
        (_arguments, "must take no arguments"),
    ],
)
def test_a_changed_or_forged_grant_runs_nothing(user, jobs, fleet, tmp_path, change, says):
    marker, evil = str(tmp_path / "marker"), str(tmp_path / "evil")
    jid = _held_run("tampered", marker)
    release(fleet, lambda spec: change(spec, fleet, evil))
    text = _error_of(jobs, jid)
    assert "before anything of it ran" in text and says in text
    assert absent(marker) and absent(evil)


def test_a_deregistered_cron_s_queued_run_runs_nothing(user, jobs, fleet, tmp_path):
    marker = str(tmp_path / "marker")
    jid = _held_run("gone", marker)
    cron.deregister("gone")
    release(fleet)
    text = _error_of(jobs, jid)
    assert "cron 'gone' is no longer registered" in text
    assert absent(marker)


def test_a_run_queued_before_re_registering_with_another_function_runs_nothing(
    user, jobs, fleet, tmp_path
):
    old, new = str(tmp_path / "old"), str(tmp_path / "new")
    jid = _held_run("again", old)
    cron.deregister("again")
    cron.register(functools.partial(jf.touch_then_return, new, "new"), "again", "* * * * *")
    release(fleet)
    assert "cron 'again' is no longer registered" in _error_of(jobs, jid)
    assert absent(old) and absent(new)


def test_a_deactivated_key_s_queued_run_runs_nothing(user, jobs, fleet, cluster, tmp_path):
    marker = str(tmp_path / "marker")
    jid = _held_run("inactive", marker)
    public = signed_record(fleet, keys.api_key(user.key))["public"]
    keyring.publish(fleet, TEST_AUTHORITY, user.key, public, active=False)
    release(fleet)
    assert f"API key '{user.key}' is deactivated" in _error_of(jobs, jid)
    assert absent(marker)
    assert fire(cluster.url, user.key, "inactive", 1) is None  # and beat's firings make none
    assert int(fleet.hget(keys.cron(user.key, "inactive"), "last_jid")) == jid
