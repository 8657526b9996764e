"""placeholder"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.base.errors import InputError
from hwsim.loading.fields import Fields, load_yaml
from hwsim.specs.workload import ARRIVALS, LENGTHS, TRACE_COLUMNS, Lengths, Workload


def _read_trace(path: Path, fields: Fields) -> pd.DataFrame:
    try:
        if path.suffix == ".jsonl":
            frame = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
        else:
            frame = pd.read_csv(path)
    except FileNotFoundError:
        raise fields.error("file", f"trace {path} not found") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise fields.error("file", f"trace {path} is not readable: {exc}") from None
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


def _lengths(fields: Fields, key: str, folder: Path) -> Lengths:
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
        file = folder / section.string("file")
        try:
            values = tuple(int(v) for v in pd.read_csv(file, header=None)[0])
        except (FileNotFoundError, ValueError, pd.errors.ParserError) as exc:
            raise section.error("file", f"expected a one-column file of token counts: {exc}") from None
        if not values or min(values) < 1:
            raise section.error("file", "expected at least one token count, all of them 1 or more")
        lengths = Lengths(kind, values=values)
    section.finish()
    return lengths


def load_workload(path: Path, fields: Fields | None = None) -> Workload:
    fields = fields or load_yaml(path)
    arrival = fields.section("arrival")
    kind = arrival.string("kind", choices=ARRIVALS)
    rate = cv = 0.0
    concurrency = 0
    trace = None
    if kind in ("poisson", "gamma"):
        rate = arrival.number("rate", low=None)
        if rate <= 0:
            raise arrival.error("rate", f"must be greater than zero requests per second; got {rate:g}")
        cv = arrival.number("cv", 1.0, low=0.01) if kind == "gamma" else 1.0
    elif kind == "closed_loop":
        concurrency = arrival.integer("concurrency")
    elif kind == "trace":
        trace = _read_trace(Path(path).parent / arrival.string("file"), arrival)
    arrival.finish()
    count = fields.integer("requests", 0, low=0)
    duration = fields.quantity("duration", "seconds", 0.0)
    if trace is None and not count and not (duration and kind in ("poisson", "gamma")):
        raise fields.error("requests", "give the number of requests (or a duration, for poisson/gamma arrivals)")
    workload = Workload(
        name=fields.string("name", Path(path).stem),
        description=fields.string("description", ""),
        arrival=kind,
        rate_per_s=rate,
        cv=cv,
        concurrency=concurrency,
        prompt=_lengths(fields, "prompt_tokens", Path(path).parent) if trace is None else Lengths("fixed", 1),
        output=_lengths(fields, "output_tokens", Path(path).parent) if trace is None else Lengths("fixed", 1),
        count=count,
        duration_s=duration,
        seed=fields.integer("seed", 0, low=0),
        trace=trace,
    )
    fields.finish()
    return workload
