"""Traffic: when requests arrive and how long their prompts and outputs are.

A `Workload` is read from YAML (`workloads/*.yaml` ships presets) and turned into a table of
requests by `requests()`, deterministically for a given seed. Closed-loop workloads leave
arrival times to the simulator (a new request starts when one finishes), so their `arrival_s`
column is NaN.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.errors import HwsimError, InputError
from hwsim.fields import Fields, load_yaml

ARRIVALS = ("poisson", "gamma", "closed_loop", "offline", "trace")
LENGTHS = ("fixed", "uniform", "lognormal", "empirical")
TRACE_COLUMNS = ("timestamp_s", "prompt_tokens", "output_tokens")


@dataclass(frozen=True)
class Lengths:
    kind: str
    value: int = 0  # fixed
    low: int = 0  # uniform, and the floor of lognormal
    high: int = 0  # uniform, and the ceiling of lognormal
    median: float = 0.0  # lognormal
    sigma: float = 0.0  # lognormal: standard deviation of log(length)
    values: tuple[int, ...] = ()  # empirical: lengths sampled with replacement

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        if self.kind == "fixed":
            return np.full(count, self.value, dtype=np.int64)
        if self.kind == "uniform":
            return rng.integers(self.low, self.high + 1, size=count)
        if self.kind == "lognormal":
            drawn = rng.lognormal(np.log(self.median), self.sigma, size=count)
            return np.clip(np.rint(drawn), self.low, self.high).astype(np.int64)
        return rng.choice(np.asarray(self.values, dtype=np.int64), size=count)


@dataclass(frozen=True)
class Workload:
    name: str
    arrival: str
    rate_per_s: float = 0.0  # poisson, gamma
    cv: float = 1.0  # gamma: coefficient of variation of inter-arrival gaps (1 = Poisson)
    concurrency: int = 0  # closed_loop
    prompt: Lengths = Lengths("fixed", 128)
    output: Lengths = Lengths("fixed", 128)
    count: int = 0  # number of requests (0 with a duration)
    duration_s: float = 0.0  # open-loop arrivals until this time
    seed: int = 0
    trace: pd.DataFrame | None = None
    description: str = ""

    def __post_init__(self):
        if self.arrival not in ARRIVALS:
            raise HwsimError(f"workload {self.name}: arrival {self.arrival!r} is not one of {', '.join(ARRIVALS)}")
        if self.arrival in ("poisson", "gamma") and not self.rate_per_s > 0:
            raise HwsimError(f"workload {self.name}: arrival rate must be greater than zero; got {self.rate_per_s:g}")
        if self.arrival == "closed_loop" and self.concurrency < 1:
            raise HwsimError(f"workload {self.name}: closed_loop concurrency must be at least 1")

    def requests(self) -> pd.DataFrame:
        """Columns: request (id), arrival_s, prompt_tokens, output_tokens."""
        if self.trace is not None:
            frame = self.trace.rename(columns={"timestamp_s": "arrival_s"})
            frame = frame.assign(arrival_s=frame["arrival_s"] - frame["arrival_s"].min())
            return frame.reset_index(drop=True).rename_axis("request").reset_index()
        rng = np.random.default_rng(self.seed)
        arrivals = self._arrivals(rng)
        count = len(arrivals)
        return pd.DataFrame({
            "request": np.arange(count),
            "arrival_s": arrivals,
            "prompt_tokens": self.prompt.sample(rng, count),
            "output_tokens": self.output.sample(rng, count),
        })

    def _arrivals(self, rng: np.random.Generator) -> np.ndarray:
        if self.arrival == "offline":
            return np.zeros(self.count)
        if self.arrival == "closed_loop":
            return np.full(self.count, np.nan)
        mean_gap = 1.0 / self.rate_per_s
        if self.arrival == "poisson":
            shape = 1.0
        else:  # gamma gaps with the given coefficient of variation: shape = 1 / cv^2
            shape = 1.0 / self.cv**2
        if self.count:
            gaps = rng.gamma(shape, mean_gap / shape, size=self.count)
            return np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        times, now = [], 0.0
        while now < self.duration_s:
            times.append(now)
            now += rng.gamma(shape, mean_gap / shape)
        return np.asarray(times)


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
