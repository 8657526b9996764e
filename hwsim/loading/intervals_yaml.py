"""Reading the fitted error bands (`validation/intervals.yaml`, written by benchmarks/fit_intervals.py)."""
from __future__ import annotations

import functools
from pathlib import Path

from hwsim.loading.catalog import data_dir
from hwsim.loading.fields import load_yaml
from hwsim.specs.intervals import Band

INTERVALS_FILE = "intervals.yaml"


@functools.cache
def bands(path: str | None = None) -> dict[str, Band]:
    """The bands by regime name; none when the file is absent (a checkout without the corpus)."""
    file = Path(path) if path else data_dir("validation") / INTERVALS_FILE
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
    for key in ("coverage", "min_rows", "generated", "files", "excluded", "note"):
        fields.raw(key, None)
    fields.finish()
    return found
