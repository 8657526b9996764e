"""Which modules a wheel build compiles to C with mypyc, and which of them this process runs compiled.

The serving engine spends its time in many small Python calls per scheduling round; compiled, the
same typed source runs 1.6-1.8x faster and gives the same results. `setup.py` reads
`COMPILED_MODULES` from this file (it imports nothing but the standard library, so the build needs
none of hwsim's dependencies).
"""
from __future__ import annotations

import importlib.machinery
import importlib.util

COMPILED_MODULES = (
    "hwsim.perf.roofline",
    "hwsim.perf.energy",
    "hwsim.perf.linear_body",
    "hwsim.perf.step_model",
    "hwsim.serving.kvcache",
    "hwsim.serving.prefix_cache",
    "hwsim.serving.cohort",
    "hwsim.serving.policies",
    "hwsim.serving.engine",
)


def compiled_modules() -> list[str]:
    """The modules of `COMPILED_MODULES` that import from a compiled extension here (none when
    hwsim was installed editable, with HWSIM_PURE_PYTHON=1, or without a C compiler)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    compiled = []
    for name in COMPILED_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None and spec.origin.endswith(suffixes):
            compiled.append(name)
    return compiled


def describe() -> str:
    """How this process runs the engine, for benchmark outputs and `hwsim --version`."""
    compiled = compiled_modules()
    if not compiled:
        return "pure Python"
    if len(compiled) == len(COMPILED_MODULES):
        return "compiled by mypyc"
    return f"partly compiled by mypyc ({len(compiled)} of {len(COMPILED_MODULES)} modules)"
