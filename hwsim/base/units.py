"""Quantities with units, parsed into SI floats.

This is the only module that knows unit spellings. Everything else works in SI floats whose
names carry the unit (`_s`, `_bytes`, `_bytes_per_s`, `_flops_per_s`, `_w`, `_hz`).
GB means 1e9 bytes and GiB 2**30: both are accepted, and never confused. A unit written in one
case throughout ("80 gib", "4.8 TB/S") is read as its standard spelling; a mixed-case unit must be
the standard spelling itself, since mixed case is where SI draws its lines (Gb is bits, GB bytes).
"""
from __future__ import annotations

import functools
import math
import re

from hwsim.base.errors import brief

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}

# dimension -> {unit base spelling: scale to SI}
_BASES: dict[str, dict[str, float]] = {
    "bytes": {"B": 1.0},
    "bytes_per_s": {"B/s": 1.0},
    "flops_per_s": {"FLOP/s": 1.0, "FLOPS": 1.0, "OP/s": 1.0, "OPS": 1.0},
    "seconds": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9},
    "watts": {"W": 1.0},
    "hertz": {"Hz": 1.0},
}
_EXAMPLES = {
    "bytes": "'80 GiB' or '50 MB'",
    "bytes_per_s": "'4.8 TB/s'",
    "flops_per_s": "'989 TFLOP/s'",
    "seconds": "'20 us'",
    "watts": "'700 W'",
    "hertz": "'1980 MHz'",
}
# the largest value of each dimension any real device or workload reaches, with room to spare:
# beyond these a figure is a typo, and arithmetic on it would overflow or never finish
CEILINGS = {
    "bytes": 1e18,  # an exabyte
    "bytes_per_s": 1e16,  # 10 PB/s
    "flops_per_s": 1e20,  # 100 EFLOP/s
    "seconds": 1e7,  # about four months
    "watts": 1e8,  # 100 MW
    "hertz": 1e12,  # 1 THz
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/]+)\s*$")


class UnitError(ValueError):
    """A value that is not a quantity of the expected dimension."""


def example(dimension: str) -> str:
    """A quantity of `dimension` as a user would write it, for error messages."""
    return _EXAMPLES[dimension]


def parse(text: object, dimension: str) -> float:
    """Parse `text` such as "4.8 TB/s" into an SI float of `dimension`.

    Raises UnitError with the expectation spelled out when the unit is missing or of the
    wrong dimension: a bare number is rejected on purpose, since "80" could be GB or GiB.
    """
    if dimension not in _BASES:
        raise KeyError(f"unknown dimension {dimension!r}")
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError(f"expected a quantity with a unit, like {example(dimension)}; got {brief(text)}")
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"expected a quantity with a unit, like {example(dimension)}; got {brief(text)}")
    number, unit = float(match.group(1)), match.group(2)
    scale = _unit_scale(unit, dimension)
    if scale is None:
        raise UnitError(
            f"unit {unit!r} is not a unit of {dimension.replace('_', ' ')}; expected e.g. {example(dimension)}"
        )
    value = number * scale
    if not math.isfinite(value):
        raise UnitError(f"expected a finite quantity, like {example(dimension)}; got {brief(text)}")
    if abs(value) > CEILINGS[dimension]:
        raise UnitError(f"{text!r} is beyond any real hardware or workload; expected at most "
                        f"{CEILINGS[dimension]:g} {_SI_NAMES[dimension]}")
    return value


_SI_NAMES = {"bytes": "B", "bytes_per_s": "B/s", "flops_per_s": "FLOP/s", "seconds": "s", "watts": "W",
             "hertz": "Hz"}


def _unit_scale(unit: str, dimension: str) -> float | None:
    """The SI scale of `unit` in `dimension`: its standard spelling, else (for a unit written in one
    case throughout) the one standard spelling it folds to; None when it is neither."""
    scale = _standard_scale(unit, dimension)
    if scale is not None or not (unit.islower() or unit.isupper()):
        return scale
    return _folded_scales(dimension).get(unit.lower())


@functools.cache
def _folded_scales(dimension: str) -> dict[str, float]:
    """Lower-cased spelling -> scale for every standard spelling of `dimension` whose lower-cased form
    no other spelling of a different scale shares (those stay case-sensitive, being ambiguous)."""
    spellings: dict[str, set[float]] = {}
    for unit in _standard_spellings(dimension):
        scale = _standard_scale(unit, dimension)
        assert scale is not None  # every spelling listed is standard
        spellings.setdefault(unit.lower(), set()).add(scale)
    return {folded: scales.pop() for folded, scales in spellings.items() if len(scales) == 1}


def _standard_spellings(dimension: str) -> list[str]:
    """Every unit `_standard_scale` accepts in `dimension`: each base, bare and with each prefix."""
    prefixes = [""] if dimension == "seconds" else ["", *_DECIMAL, *_BINARY]
    return [prefix + base for base in _BASES[dimension] for prefix in prefixes]


def _standard_scale(unit: str, dimension: str) -> float | None:
    """The SI scale of `unit` in `dimension` (a base spelling with an optional prefix), None if it is not one."""
    if unit in _BASES[dimension]:
        return _BASES[dimension][unit]
    for base, base_scale in _BASES[dimension].items():
        if not unit.endswith(base):
            continue
        prefix = unit[: -len(base)]
        if dimension == "seconds":
            return None  # ms/us/ns are spelled out above; "ks" is not a thing we accept
        if prefix in _BINARY:
            return _BINARY[prefix] * base_scale
        if prefix in _DECIMAL and prefix:
            return _DECIMAL[prefix] * base_scale
    return None


def format_bytes(value_bytes: float) -> str:
    """Human form in decimal units (GB = 1e9), matching datasheets."""
    return _format(value_bytes, "B")


def format_rate(value_bytes_per_s: float) -> str:
    """Human form of a bandwidth in decimal units (GB/s = 1e9 B/s)."""
    return _format(value_bytes_per_s, "B/s")


def format_flops(value_flops_per_s: float) -> str:
    """Human form of a compute rate (TFLOP/s = 1e12 FLOP/s)."""
    return _format(value_flops_per_s, "FLOP/s")


def format_seconds(value_s: float) -> str:
    """Seconds, milliseconds or microseconds, whichever keeps the number readable."""
    magnitude = abs(value_s)
    if magnitude >= 1:
        return f"{value_s:.3f} s"
    if magnitude >= 1e-3:
        return f"{value_s * 1e3:.3f} ms"
    return f"{value_s * 1e6:.2f} us"


def _format(value: float, base: str) -> str:
    """`value` with the largest decimal prefix it reaches, to three significant digits."""
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{base}"
    return f"{value:.3g} {base}"
