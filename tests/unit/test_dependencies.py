"""Dependency discovery: which of the user's modules a job needs (picloud/dependencies.py), on
real projects written into tmp dirs."""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import json

import pytest

from picloud import serialization
from picloud.dependencies import DependencyFinder

PACKAGE = {
    "shop/__init__.py": "from . import prices\nfrom .stock import count\n",
    "shop/prices.py": """\
        import json
        from .stock import levels


        def price(item):
            from .tax import rates  # imported when called
            return rates.vat * len(item)


        def never_called():
            from ..outside import nothing  # beyond the top package: ignored
        """,
    "shop/stock/__init__.py": "from .levels import count\n",
    "shop/stock/levels.py": "import os\n\ncount = 3\n",
    "shop/tax/__init__.py": "",
    "shop/tax/rates.py": "vat = 2\n",
    "unused.py": "x = 1\n",
}


@pytest.fixture
def finder() -> DependencyFinder:
    return DependencyFinder()


def manifest_of(finder, func, *args):
    blob = serialization.dumps_function(func)
    return finder.manifest(func, blob, [serialization.dumps((args, {}))])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dynamic_function(source: str, name: str, **globals_):
    """A function cloudpickle copies by value (as one of __main__), with given globals."""
    namespace = {"__name__": "__main__", **globals_}
    exec(source, namespace)
    return namespace[name]


def test_a_package_with_a_subpackage_relative_imports_and_an_import_inside_a_function(
    finder, project
):
    project.write(PACKAGE)
    prices = importlib.import_module("shop.prices")
    found = manifest_of(finder, prices.price, "x")
    modules = found["modules"]
    assert set(modules) == {
        "shop",
        "shop.prices",
        "shop.stock",
        "shop.stock.levels",
        "shop.tax",
        "shop.tax.rates",
    }
    assert modules["shop.stock"]["package"] is True
    assert modules["shop.stock.levels"]["package"] is False
    levels = project.root / "shop" / "stock" / "levels.py"
    assert modules["shop.stock.levels"]["path"] == str(levels)
    assert modules["shop.stock.levels"]["digest"] == sha256(levels.read_bytes())
    assert found["cannot_travel"] == {}
    assert json.loads(json.dumps(found)) == found


def test_the_sources_are_kept_by_digest(finder, project):
    project.write(PACKAGE)
    prices = importlib.import_module("shop.prices")
    for name, entry in manifest_of(finder, prices.price)["modules"].items():
        assert sha256(finder.source(entry["digest"])) == entry["digest"], name


def test_an_instance_of_a_project_class_as_an_argument(finder, project):
    project.write({"things.py": "import helpers\n\nclass Thing:\n    pass\n", "helpers.py": ""})
    things = importlib.import_module("things")
    found = manifest_of(finder, repr, things.Thing())
    assert set(found["modules"]) == {"things", "helpers"}
    assert manifest_of(finder, repr, 5)["modules"] == {}


def test_a_function_pickled_by_value_brings_its_imports_and_module_globals(finder, project):
    project.write(PACKAGE | {"tools.py": "def tool():\n    return 1\n", "extra.py": ""})
    source = """\
def job(x):
    import shop.tax.rates
    from shop import prices
    return tools.tool() + helper()

def helper():
    import extra
    return 0
"""
    job = dynamic_function(source, "job", tools=importlib.import_module("tools"))
    modules = manifest_of(finder, job, 1)["modules"]
    assert {"tools", "extra", "shop", "shop.prices", "shop.tax", "shop.tax.rates"} <= set(modules)


def test_a_literal_dynamic_import_and_from_import_of_a_submodule(finder, project):
    project.write(
        {
            "plugins/__init__.py": "",
            "plugins/one.py": "",
            "plugins/two.py": "",
            "loader.py": """\
                import importlib
                from plugins import one


                def load():
                    from plugins import __doc__, not_a_module  # attributes, not modules
                    return importlib.import_module("plugins.two")
                """,
        }
    )
    loader = importlib.import_module("loader")
    assert set(manifest_of(finder, loader.load)["modules"]) == {
        "loader",
        "plugins",
        "plugins.one",
        "plugins.two",
    }


def test_a_namespace_package_travels_as_an_empty_package(finder, project):
    project.write({"space/inner.py": "def f():\n    return 1\n"})
    inner = importlib.import_module("space.inner")
    modules = manifest_of(finder, inner.f)["modules"]
    assert modules["space"] == {
        "path": str(project.root / "space"),
        "package": True,
        "digest": sha256(b""),
    }
    assert finder.source(modules["space"]["digest"]) == b""
    assert set(modules) == {"space", "space.inner"}


def test_the_standard_library_installed_distributions_and_picloud_stay_home(finder, project):
    project.write(
        {
            "mixed.py": """\
                import json, os.path, collections.abc
                import picloud.api
                import redis
                import _pytest.fixtures


                def f():
                    return 1
                """
        }
    )
    mixed = importlib.import_module("mixed")
    found = manifest_of(finder, mixed.f)
    assert set(found["modules"]) == {"mixed"}
    assert found["cannot_travel"] == {
        "redis": {"kind": "distribution", "requirement": f"redis=={_version('redis')}"},
        "_pytest": {"kind": "distribution", "requirement": f"pytest=={_version('pytest')}"},
    }


def _version(name: str) -> str:
    return importlib.metadata.version(name)


def test_a_compiled_extension_of_the_project_cannot_travel(finder, project):
    so_name = "fastthing" + importlib.machinery.EXTENSION_SUFFIXES[0]
    project.write(
        {
            so_name: "not really compiled",
            "usesfast.py": "def f():\n    import fastthing\n    return fastthing.go()\n",
        }
    )
    usesfast = importlib.import_module("usesfast")
    found = manifest_of(finder, usesfast.f)
    assert set(found["modules"]) == {"usesfast"}
    assert found["cannot_travel"] == {"fastthing": {"kind": "extension", "file": so_name}}


def test_a_module_edited_between_two_calls_gets_a_new_digest(finder, project):
    project.write(PACKAGE)
    prices = importlib.import_module("shop.prices")
    first = manifest_of(finder, prices.price)
    assert manifest_of(finder, prices.price) is first  # unchanged: the same manifest
    project.write({"shop/tax/rates.py": "vat = 3  # raised\n"})
    second = manifest_of(finder, prices.price)
    assert second is not first
    edited = second["modules"]["shop.tax.rates"]["digest"]
    assert edited == sha256(project.read("shop/tax/rates.py"))
    assert edited != first["modules"]["shop.tax.rates"]["digest"]
    assert finder.source(edited) == b"vat = 3  # raised\n"
    unchanged = {n: e for n, e in second["modules"].items() if n != "shop.tax.rates"}
    assert unchanged == {n: e for n, e in first["modules"].items() if n != "shop.tax.rates"}


def test_an_edit_that_adds_an_import_is_followed(finder, project):
    project.write(PACKAGE)
    prices = importlib.import_module("shop.prices")
    assert "unused" not in manifest_of(finder, prices.price)["modules"]
    project.write({"shop/tax/rates.py": "import unused\n\nvat = 2\n"})
    assert "unused" in manifest_of(finder, prices.price)["modules"]


def test_later_calls_only_stat_the_files(finder, project, monkeypatch):
    project.write(PACKAGE)
    prices = importlib.import_module("shop.prices")
    first = manifest_of(finder, prices.price, "a")

    def no_walk(*args):
        raise AssertionError("walked the modules again")

    monkeypatch.setattr(DependencyFinder, "_closure", no_walk)
    monkeypatch.setattr("picloud.dependencies._code_imports", no_walk)
    assert manifest_of(finder, prices.price, "b") is first
