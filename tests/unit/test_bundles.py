"""The worker's import hook (picloud/bundles.py): a job imports the modules its client sent,
by digest, and only its own key's, in the versions sent.

Each test builds manifests on the "client" first, then forgets the project (off sys.path, out
of sys.modules) and runs the "jobs" in this process, as a worker would."""

from __future__ import annotations

import importlib
import importlib.machinery
import pickle
import sys
import traceback
from collections.abc import Iterator

import pytest

from picloud import serialization
from picloud.bundles import BUNDLE_ROOT, Bundle, cannot_travel_message
from picloud.dependencies import DependencyFinder

PROJECT = {
    "shop/__init__.py": "from . import prices\n",
    "shop/prices.py": """\
        from .stock import levels


        def price(item):
            from .tax import rates
            return rates.vat * len(item) + levels.count


        def fail():
            raise ValueError("the price is wrong")
        """,
    "shop/stock/__init__.py": "",
    "shop/stock/levels.py": "count = 3\n",
    "shop/tax/__init__.py": "",
    "shop/tax/rates.py": "vat = 2\n",
}


class Client:
    """What a client sends: each job's manifest and pickled function, and the sources."""

    def __init__(self) -> None:
        self.finder = DependencyFinder()
        self.sources: dict[str, bytes] = {}
        self.fetched: list[str] = []

    def job(self, module: str, function: str) -> tuple[dict, bytes]:
        func = getattr(importlib.import_module(module), function)
        blob = serialization.dumps_function(func)
        manifest = self.finder.manifest(func, blob, [])
        for entry in manifest["modules"].values():
            self.sources[entry["digest"]] = self.finder.source(entry["digest"])
        return manifest, blob

    def fetch(self, digest: str) -> bytes:
        self.fetched.append(digest)
        return self.sources[digest]


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture(autouse=True)
def no_bundle_left() -> Iterator[None]:
    yield
    Bundle({}, lambda digest: b"", "the test's cleanup").install()  # drops every other key's
    for finder in [f for f in sys.meta_path if isinstance(f, Bundle)]:
        sys.meta_path.remove(finder)


def test_a_job_imports_its_modules_from_the_bundle(client, project):
    project.write(PROJECT)
    manifest, blob = client.job("shop.prices", "price")
    project.forget()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("shop")
    bundle = Bundle(manifest, client.fetch, "1001")
    with bundle:
        assert sys.meta_path[0] is bundle
        assert pickle.loads(blob)("ab") == 7
        shop = sys.modules["shop"]
        assert shop.__file__ == f"{BUNDLE_ROOT}/1001/shop/__init__.py"
        assert shop.__path__ == [f"{BUNDLE_ROOT}/1001/shop"]
        assert sys.modules["shop.tax.rates"].__file__ == f"{BUNDLE_ROOT}/1001/shop/tax/rates.py"
    assert bundle not in sys.meta_path
    digests = {e["digest"] for e in manifest["modules"].values()}
    assert sorted(client.fetched) == sorted(digests)  # each version once (two __init__ are empty)


def test_a_source_that_does_not_match_its_digest_is_refused(client, project):
    project.write(PROJECT)
    manifest, blob = client.job("shop.prices", "price")
    project.forget()
    with Bundle(manifest, lambda digest: b"vat = 1000\n", "1001"):
        with pytest.raises(ImportError, match="does not match its digest"):
            pickle.loads(blob)


def test_tracebacks_show_the_source_lines(client, project):
    project.write(PROJECT)
    manifest, blob = client.job("shop.prices", "fail")
    project.forget()
    with Bundle(manifest, client.fetch, "1001"):
        with pytest.raises(ValueError) as raised:
            pickle.loads(blob)()
    text = "".join(traceback.format_exception(raised.value))
    assert f'File "{BUNDLE_ROOT}/1001/shop/prices.py", line 10, in fail' in text
    assert 'raise ValueError("the price is wrong")' in text


def test_a_job_of_another_key_never_sees_the_modules(client, project):
    project.write(PROJECT)
    manifest, blob = client.job("shop.prices", "price")
    project.forget()
    with Bundle(manifest, client.fetch, "1001"):
        pickle.loads(blob)("a")
    assert "shop.prices" in sys.modules  # kept for the next job of key 1001
    with Bundle({}, client.fetch, "2002"):
        assert not [name for name in sys.modules if name.partition(".")[0] == "shop"]
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("shop.prices")


def test_the_next_job_with_the_same_versions_keeps_the_modules(client, project):
    project.write(PROJECT)
    manifest, blob = client.job("shop.prices", "price")
    project.forget()
    with Bundle(manifest, client.fetch, "1001"):
        first = pickle.loads(blob)
    with Bundle(manifest, client.fetch, "1001"):
        assert pickle.loads(blob) is first


def test_a_module_edited_between_two_calls_is_new_in_the_second_job(client, project):
    project.write(PROJECT)
    first_manifest, blob = client.job("shop.prices", "price")
    project.write({"shop/tax/rates.py": "vat = 10\n"})
    second_manifest, second_blob = client.job("shop.prices", "price")
    project.forget()
    with Bundle(first_manifest, client.fetch, "1001"):
        assert pickle.loads(blob)("a") == 5
    with Bundle(second_manifest, client.fetch, "1001"):
        assert pickle.loads(second_blob)("a") == 13
        from shop.tax import rates  # the parent package's attribute is the new module too

        assert rates.vat == 10


def test_a_copy_not_from_a_bundle_is_dropped(client, project):
    project.write(PROJECT)
    manifest, blob = client.job("shop.prices", "price")
    project.forget()
    stale = importlib.util.module_from_spec(importlib.machinery.ModuleSpec("shop", None))
    sys.modules["shop"] = stale
    with Bundle(manifest, client.fetch, "1001"):
        assert pickle.loads(blob)("a") == 5
        assert sys.modules["shop"] is not stale


def test_a_compiled_extension_left_behind_is_named_with_what_to_install(client, project):
    so_name = "fastthing" + importlib.machinery.EXTENSION_SUFFIXES[0]
    project.write(
        {so_name: "not compiled", "usesfast.py": "def f():\n    import fastthing\n    return 1\n"}
    )
    manifest, blob = client.job("usesfast", "f")
    project.forget()
    with Bundle(manifest, client.fetch, "1001"):
        with pytest.raises(ModuleNotFoundError) as raised:
            pickle.loads(blob)()
    assert cannot_travel_message(raised.value, manifest, "c1") == (
        f"module 'fastthing' is a compiled extension ({so_name}) on the client and cannot "
        "travel with a job: install it on the workers of pool c1"
    )


CANNOT = {
    "cannot_travel": {
        "yaml": {"kind": "distribution", "requirement": "PyYAML==6.0.1"},
        "loose": {"kind": "distribution", "requirement": None},
    }
}


def missing(name: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_a_missing_distribution_is_named_with_what_to_install():
    expected = (
        "module 'yaml' comes from the distribution PyYAML==6.0.1 on the client, which the "
        "workers of pool c2 do not have: pip install PyYAML==6.0.1 on them"
    )
    assert cannot_travel_message(missing("yaml"), CANNOT, "c2") == expected
    assert cannot_travel_message(missing("yaml.cyaml"), CANNOT, "c2") == expected
    assert "module 'loose' is installed on the client" in cannot_travel_message(
        missing("loose"), CANNOT, "m1"
    )


def test_other_missing_modules_are_not_explained():
    assert cannot_travel_message(missing("elsewhere"), CANNOT, "c1") is None
    assert cannot_travel_message(ModuleNotFoundError("no name"), CANNOT, "c1") is None
    assert cannot_travel_message(missing("yaml"), {"modules": {}}, "c1") is None
