"""Sizes, figures and clusters of the fault tests.

Each test runs small (part of ``make test``) and full (marked ``chaos``: the sizes of
reliability-notes §5, run only with PICLOUD_FAULTS_FULL=1, as ``make faults`` does). Every test
fills a Figures row; the session ends with one table of them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.faults.figures import RECORDED, Figures, table
from tests.faults.harness import LEASE, FaultCluster, fault_cluster

FULL = os.environ.get("PICLOUD_FAULTS_FULL") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PICLOUD_FAULTS_FULL=1 the full sizes (``chaos``) are deselected."""
    if FULL:
        return
    chaos = [item for item in items if item.get_closest_marker("chaos")]
    if chaos:
        config.hook.pytest_deselected(items=chaos)
        items[:] = [item for item in items if not item.get_closest_marker("chaos")]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" or report.failed:
        item.stash[_FAILED] = item.stash.get(_FAILED, False) or report.failed
        figures = RECORDED.get(item.nodeid)
        if figures is not None:
            figures.passed = not item.stash[_FAILED]
    return report


_FAILED = pytest.StashKey[bool]()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RECORDED:
        terminalreporter.section("fault figures (tests/faults)")
        for line in table():
            terminalreporter.write_line(line)


@pytest.fixture(
    params=[
        pytest.param(False, id="small"),
        pytest.param(True, id="full", marks=[pytest.mark.chaos, pytest.mark.timeout(900)]),
    ]
)
def full(request: pytest.FixtureRequest) -> bool:
    """True for the full size of the test (reliability-notes §5)."""
    return bool(request.param)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """The test's row (ID from its name, ``test_r1_…`` -> R1), printed at teardown."""
    test_id = request.node.originalname.split("_")[1].upper()
    size = request.node.callspec.id if hasattr(request.node, "callspec") else ""
    made = Figures(test_id, "", size=size)
    RECORDED[request.node.nodeid] = made
    yield made
    print(made.line())


@pytest.fixture
def make_cluster(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., FaultCluster]]:
    """``make_cluster(2, 2, lease=3, appendonly=False, password=None)``: a FaultCluster with a
    c1 worker per concurrency; on failure the workers' log tails are printed. The lease is
    LEASE for small sizes and the workers' default for full ones."""
    made: list[FaultCluster] = []
    callspec = getattr(request.node, "callspec", None)
    full = bool(callspec and callspec.params.get("full"))
    with ExitStack() as stack:

        def make(*concurrencies: int, **options: Any) -> FaultCluster:
            options.setdefault("lease", None if full else LEASE)
            made.append(stack.enter_context(fault_cluster(tmp_path, *concurrencies, **options)))
            return made[-1]

        yield make
        if request.node.stash.get(_FAILED, False):
            for cluster in made:
                print(cluster.log_tails())
