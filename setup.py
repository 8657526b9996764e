"""Builds hwsim with its serving engine and step model compiled to C by mypyc (simulations 1.6-1.8x faster).

The modules `hwsim/base/build.py` names are ordinary typed Python; mypyc turns each into an extension
module that Python imports in place of the source. They are compiled when a wheel is built
(`pip install .`), not for an editable install (`pip install -e .`), whose sources must take effect
as they are edited, and not when HWSIM_PURE_PYTHON=1. Without a C compiler the build says so (in pip's
verbose output) and installs the pure-Python modules, which give the same results more slowly;
`hwsim.base.build.compiled_modules()` tells which ran.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_ext import build_ext


def _compiled_sources() -> list[str]:
    """The source files of the modules `hwsim/base/build.py` names (read without importing hwsim)."""
    spec = importlib.util.spec_from_file_location("hwsim_build", Path(__file__).parent / "hwsim" / "base" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return [name.replace(".", "/") + ".py" for name in build.COMPILED_MODULES]


def _compiling() -> bool:
    """Whether setuptools runs for a build (a wheel, or setup.py build_ext): not for an editable install,
    whose sources must take effect as they are edited, nor for metadata (which finalizes build_ext too)."""
    if os.environ.get("HWSIM_PURE_PYTHON") == "1" or "editable_wheel" in sys.argv:
        return False
    return bool({"bdist_wheel", "build", "build_ext", "install"} & set(sys.argv[1:]))


class CompiledDistribution(Distribution):
    """A distribution with extension modules, so that wheels are built per platform and `build_ext` runs."""

    def has_ext_modules(self) -> bool:
        return True


class MypycBuildExt(build_ext):
    """Compiles the modules `hwsim/base/build.py` names with mypyc, or nothing: for an editable install,
    with HWSIM_PURE_PYTHON=1, or when there is no compiler."""

    def finalize_options(self) -> None:
        if _compiling() and not getattr(self, "editable_mode", False):
            try:
                from mypyc.build import mypycify

                self.distribution.ext_modules = mypycify(
                    # the modules they import are type-checked by the project's own mypy run, with its stubs
                    ["--follow-imports=silent", "--ignore-missing-imports", *_compiled_sources()],
                    opt_level="3", group_name="hwsim")
            except Exception as error:  # no mypyc, or it refused the sources
                _pure_python(error)
        super().finalize_options()

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # no C compiler: the pure-Python modules serve
            for extension in self.extensions:
                Path(self.get_ext_fullpath(extension.name)).unlink(missing_ok=True)
            _pure_python(error)


def _pure_python(error: Exception) -> None:
    print(f"hwsim: the engine is not compiled ({type(error).__name__}: {error}); installing the pure-Python "
          "modules, which give the same results more slowly", file=sys.stderr)


if __name__ == "__main__":  # as setuptools runs it
    setup(distclass=CompiledDistribution, cmdclass={"build_ext": MypycBuildExt})
