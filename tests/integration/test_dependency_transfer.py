"""The user's own modules travel with the job: a project the workers have never seen (not on
their sys.path, not in their working directory) runs unchanged on the session's cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from picloud.client import Cloud
from picloud.exceptions import CloudException
from tests.services import keyed_engine, picloud_env


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A project folder on this process's sys.path only, and a name prefix unique to the test
    (its modules must not meet another test's in sys.modules)."""
    root = tmp_path / "project"
    root.mkdir()
    prefix = f"p{uuid.uuid4().hex[:8]}"
    sys.path.insert(0, str(root))
    yield root, prefix
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


@pytest.fixture
def client(cluster) -> Iterator[Cloud]:
    made = Cloud(keyed_engine(cluster.url), lambda: "cluster")
    yield made
    made.close()


def _package(root: Path, p: str, extra: int) -> None:
    _write(
        root,
        {
            f"{p}pkg/__init__.py": "from .core import base\n",
            f"{p}pkg/core.py": "def base(x):\n    return x + 1\n",
            f"{p}pkg/sub/__init__.py": "",
            f"{p}pkg/sub/deep.py": "from ..core import base\ndef deep(x):\n    return 2 * base(x)",
            f"{p}pkg/extra.py": f"VALUE = {extra}\n",
            f"{p}mod.py": f"""
                from {p}pkg.sub.deep import deep

                def work(x):
                    import {p}pkg.extra as extra  # an import inside the function
                    return deep(x) + extra.VALUE
            """,
        },
    )


def test_a_project_with_packages_and_relative_imports_runs_unchanged(client, project):
    root, p = project
    _package(root, p, 100)
    work = __import__(f"{p}mod").work
    assert work(3) == 108
    assert client.result(client.call(work, 3), timeout=60) == 108
    assert client.result(client.map(work, [1, 2]), timeout=60) == [104, 106]


def test_an_edited_module_is_new_in_the_next_job(client, project):
    root, p = project
    _package(root, p, 100)
    work = __import__(f"{p}mod").work
    assert client.result(client.call(work, 3), timeout=60) == 108
    time.sleep(0.01)  # a new mtime
    (root / f"{p}pkg" / "extra.py").write_text("VALUE = 200\n")
    assert client.result(client.call(work, 3), timeout=60) == 208


def test_two_keys_with_a_module_of_the_same_name_each_get_their_own(cluster, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        import samename
        from picloud.client import Cloud
        from tests.services import keyed_engine, picloud_env
        cloud = Cloud(keyed_engine(sys.argv[2], sys.argv[3], sys.argv[3] * 5), lambda: "cluster")
        print(cloud.result(cloud.map(samename.which, range(4)), timeout=60))
        cloud.close()
        """
    )
    runs = []
    for key, value in (("5005", "alice"), ("6006", "bob")):
        folder = tmp_path / key
        _write(folder, {"samename.py": f"def which(i):\n    return '{value}'\n"})
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        command = [sys.executable, "-c", script, str(folder), cluster.url, key, key[:4] * 2]
        runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
    outputs = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert outputs == [str(["alice"] * 4), str(["bob"] * 4)]


def test_a_compiled_module_that_cannot_travel_is_named_in_the_error(client, project):
    root, p = project
    name = f"{p}fast"
    (root / f"{name}.c").write_text(
        textwrap.dedent(
            f"""
            #include <Python.h>
            static PyObject *answer(PyObject *m, PyObject *a) {{ return PyLong_FromLong(42); }}
            static PyMethodDef methods[] = {{{{"answer", answer, METH_NOARGS, ""}}, {{0}}}};
            static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "{name}", "", -1, methods}};
            PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&module); }}
            """
        )
    )
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            f"-I{include}",
            str(root / f"{name}.c"),
            "-o",
            str(root / f"{name}{suffix}"),
        ],
        check=True,
    )
    _write(root, {f"{p}user.py": f"import {name}\n\ndef work():\n    return {name}.answer()\n"})
    work = __import__(f"{p}user").work
    assert work() == 42
    with pytest.raises(CloudException) as failed:
        client.result(client.call(work), timeout=60)
    text = str(failed.value)
    assert f"module '{name}' is a compiled extension ({name}{suffix})" in text
    assert "install it on the workers of pool c1" in text


def test_turned_off_nothing_travels_and_the_error_says_so(client, project):
    root, p = project
    _package(root, p, 100)
    work = __import__(f"{p}mod").work
    with picloud_env(automatic_dependency_transfer="0"):
        with pytest.raises(CloudException, match="automatic_dependency_transfer is off"):
            client.result(client.call(work, 3), timeout=60)


def test_jobs_a_job_submits_import_the_same_modules(client, project):
    root, p = project
    _package(root, p, 100)
    _write(
        root,
        {
            f"{p}fan.py": f"""
                import cloud
                from {p}mod import work

                def fan(n):
                    return cloud.result(cloud.map(work, range(n)), timeout=60)
            """
        },
    )
    fan = __import__(f"{p}fan").fan
    assert client.result(client.call(fan, 3), timeout=120) == [102, 104, 106]
