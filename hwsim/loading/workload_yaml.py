"""Reading workload YAML (arrivals, prompt and output lengths) and request traces into a `Workload`.

A workload is a preset file in `workloads/`, a file of the user's, or a mapping inside a
scenario or plan; all three go through `load_workload`. Files it points to (traces, length
samples) are found beside the YAML that names them, so a workload folder can be moved whole.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from hwsim.base.errors import InputError
from hwsim.loading.fields import Fields, load_yaml
from hwsim.specs.workload import ARRIVALS, LENGTHS, TRACE_COLUMNS, Lengths, Workload

OPEN_LOOP = ("poisson", "gamma")  # arrivals at a rate, which may run for a duration instead of a count


class _Arrival(NamedTuple):
    kind: str
    rate_per_s: float = 0.0
    cv: float = 0.0
    concurrency: int = 0
    trace: pd.DataFrame | None = None


def _trace_frame(path: Path, fields: Fields) -> pd.DataFrame:
    """A trace file as read: CSV, or JSON lines for a `.jsonl` file."""
    try:
        if path.suffix == ".jsonl":
            return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
        return pd.read_csv(path)
    except FileNotFoundError:
        raise fields.error("file", f"trace {path} not found") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise fields.error("file", f"trace {path} is not readable: {exc}") from None


def _read_trace(path: Path, fields: Fields) -> pd.DataFrame:
    """The trace's columns `TRACE_COLUMNS`, typed; every token count must be 1 or more."""
    frame = _trace_frame(path, fields)
    missing = [c for c in TRACE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(str(path), missing[0], f"trace column missing; a trace needs {', '.join(TRACE_COLUMNS)}")
    frame = frame[list(TRACE_COLUMNS)]
    for column in ("prompt_tokens", "output_tokens"):
        bad = frame.index[~(pd.to_numeric(frame[column], errors="coerce") >= 1)]
        if len(bad):
            raise InputError(str(path), column, f"row {bad[0] + 1}: expected a token count of 1 or more, "
                                                f"got {frame.loc[bad[0], column]!r}")
    return frame.astype({"timestamp_s": float, "prompt_tokens": np.int64, "output_tokens": np.int64})


def _empirical_values(section: Fields, folder: Path) -> tuple[int, ...]:
    """The token counts of a one-column file of lengths to sample from."""
    file = folder / section.string("file")
    try:
        values = tuple(int(v) for v in pd.read_csv(file, header=None)[0])
    except (FileNotFoundError, ValueError, pd.errors.ParserError) as exc:
        raise section.error("file", f"expected a one-column file of token counts: {exc}") from None
    if not values or min(values) < 1:
        raise section.error("file", "expected at least one token count, all of them 1 or more")
    return values


def _lengths(fields: Fields, key: str, folder: Path) -> Lengths:
    """A length distribution (prompt or output tokens) of one of the kinds `LENGTHS`."""
    section = fields.section(key)
    kind = section.string("kind", choices=LENGTHS)
    if kind == "fixed":
        lengths = Lengths(kind, value=section.integer("value"))
    elif kind == "uniform":
        lengths = Lengths(kind, low=section.integer("low"), high=section.integer("high"))
        if lengths.high < lengths.low:
            raise section.error("high", f"must be at least low ({lengths.low}); got {lengths.high}")
    elif kind == "lognormal":
        lengths = Lengths(kind, median=section.number("median", low=1.0), sigma=section.number("sigma", low=0.0),
                          low=section.integer("min", 1), high=section.integer("max"))
    else:
        lengths = Lengths(kind, values=_empirical_values(section, folder))
    section.finish()
    return lengths


def _arrival(arrival: Fields, folder: Path) -> _Arrival:
    """The `arrival` block: its kind, and the rate, concurrency or trace that kind needs."""
    kind = arrival.string("kind", choices=ARRIVALS)
    if kind in OPEN_LOOP:
        rate = arrival.number("rate", low=None)
        if rate <= 0:
            raise arrival.error("rate", f"must be greater than zero requests per second; got {rate:g}")
        cv = arrival.number("cv", 1.0, low=0.01) if kind == "gamma" else 1.0
        result = _Arrival(kind, rate_per_s=rate, cv=cv)
    elif kind == "closed_loop":
        result = _Arrival(kind, concurrency=arrival.integer("concurrency"))
    elif kind == "trace":
        result = _Arrival(kind, trace=_read_trace(folder / arrival.string("file"), arrival))
    else:
        result = _Arrival(kind)
    arrival.finish()
    return result


def load_workload(path: Path, fields: Fields | None = None) -> Workload:
    """The workload at `path`, or in `fields` read from the file at `path` (which locates its files)."""
    fields = fields or load_yaml(path)
    folder = Path(path).parent
    arrival = _arrival(fields.section("arrival"), folder)
    count = fields.integer("requests", 0, low=0)
    duration = fields.quantity("duration", "seconds", 0.0)
    traced = arrival.trace is not None
    if not traced and not count and not (duration and arrival.kind in OPEN_LOOP):
        raise fields.error("requests", "give the number of requests (or a duration, for poisson/gamma arrivals)")
    workload = Workload(
        name=fields.string("name", Path(path).stem),
        description=fields.string("description", ""),
        arrival=arrival.kind,
        rate_per_s=arrival.rate_per_s,
        cv=arrival.cv,
        concurrency=arrival.concurrency,
        prompt=Lengths("fixed", 1) if traced else _lengths(fields, "prompt_tokens", folder),
        output=Lengths("fixed", 1) if traced else _lengths(fields, "output_tokens", folder),
        count=count,
        duration_s=duration,
        seed=fields.integer("seed", 0, low=0),
        trace=arrival.trace,
    )
    fields.finish()
    return workload
