"""Reading the fitted error bands (`validation/intervals.yaml`, written by benchmarks/fit_intervals.py)."""
from __future__ import annotations

import functools
from pathlib import Path

from hwsim.loading.catalog import data_dir
from hwsim.loading.fields import load_yaml
from hwsim.specs.intervals import Band, Coverage

INTERVALS_FILE = "intervals.yaml"


def _file(path: str | None) -> Path:
    return Path(path) if path else data_dir("validation") / INTERVALS_FILE


@functools.cache
def bands(path: str | None = None) -> dict[str, Band]:
    """The bands by regime name; none when the file is absent (a checkout without the corpus)."""
    file = _file(path)
    if not file.exists():
        return {}
    fields = load_yaml(file)
    section = fields.section("regimes")
    found = {}
    for name in section:
        band = section.section(name)
        found[name] = Band(name, band.integer("rows"), band.number("error_low", low=-0.99, high=100.0),
                           band.number("error_high", low=-0.99, high=100.0))
        band.finish()
    section.finish()
    for key in ("coverage", "min_rows", "generated", "files", "excluded", "cross_calibrated", "note", "covered"):
        fields.raw(key, None)
    fields.finish()
    return found


@functools.cache
def coverage(path: str | None = None) -> tuple[Coverage, ...]:
    """How often each regime group's band covered the corpus (the file's `covered` list); none when
    the file is absent."""
    file = _file(path)
    if not file.exists():
        return ()
    found = []
    for group in load_yaml(file).sections("covered", []):
        found.append(Coverage(group.string("group"), group.integer("rows"),
                              group.number("in_sample", low=0.0, high=1.0), group.number("held_out", low=0.0, high=1.0),
                              group.number("median_half_width", low=0.0)))
        group.finish()
    return tuple(found)
