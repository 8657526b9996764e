"""The compiled build: which modules a wheel compiles, and how a process tells which ones it runs."""
import importlib
import importlib.machinery
import runpy
import sys
from pathlib import Path

import pytest

from hwsim.base import build

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_the_build_compiles_is_a_source_file_of_the_package():
    for name in build.COMPILED_MODULES:
        assert (ROOT / (name.replace(".", "/") + ".py")).is_file(), name


def test_setup_compiles_the_modules_the_package_names():
    setup = runpy.run_path(str(ROOT / "setup.py"), run_name="setup")  # setup() itself runs only as __main__
    assert setup["_compiled_sources"]() == [name.replace(".", "/") + ".py" for name in build.COMPILED_MODULES]


def test_a_module_counts_as_compiled_exactly_when_it_was_imported_from_an_extension():
    compiled = build.compiled_modules()
    for name in build.COMPILED_MODULES:
        origin = importlib.import_module(name).__file__
        assert origin is not None
        assert (name in compiled) == origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), origin
    assert compiled in ([], list(build.COMPILED_MODULES))  # a build compiles all of them or none
    assert build.describe() == ("compiled by mypyc" if compiled else "pure Python")


@pytest.mark.parametrize("argv, pure, compiles", [
    (["setup.py", "bdist_wheel", "--dist-dir", "d"], None, True),  # pip install .
    (["setup.py", "build_ext", "--inplace"], None, True),
    (["setup.py", "editable_wheel", "--dist-dir", "d"], None, False),  # pip install -e .: sources take effect as edited
    (["setup.py", "egg_info"], None, False),  # metadata only
    (["setup.py", "dist_info"], None, False),
    (["setup.py", "bdist_wheel"], "1", False),  # HWSIM_PURE_PYTHON=1
])
def test_setup_compiles_for_a_wheel_or_an_extension_build_only(monkeypatch, argv, pure, compiles):
    setup = runpy.run_path(str(ROOT / "setup.py"), run_name="setup")
    monkeypatch.setattr(sys, "argv", argv)
    if pure is None:
        monkeypatch.delenv("HWSIM_PURE_PYTHON", raising=False)
    else:
        monkeypatch.setenv("HWSIM_PURE_PYTHON", pure)
    assert setup["_compiling"]() is compiles
