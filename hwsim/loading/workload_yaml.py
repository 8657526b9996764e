"""Reading workload YAML (arrivals, prompt and output lengths) and request traces into a `Workload`.

A workload is a preset file in `workloads/`, a file of the user's, or a mapping inside a
scenario or plan; all three go through `load_workload`. Files it points to (traces, length
samples) are found beside the YAML that names them, so a workload folder can be moved whole.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from hwsim.base.errors import HwsimError, InputError, brief
from hwsim.loading import traces
from hwsim.loading.fields import Fields, load_yaml, read_text
from hwsim.specs.benchmark import MEASUREMENTS, STEADY_REQUESTS_PER_USER, TOOLS, Benchmark
from hwsim.specs.workload import (
    ARRIVALS,
    LENGTHS,
    MAX_CV,
    MAX_REQUESTS,
    MAX_SIGMA,
    MAX_TOKENS_PER_REQUEST,
    MAX_ZIPF,
    Lengths,
    Prefix,
    Sessions,
    Workload,
)

OPEN_LOOP = ("poisson", "gamma")  # arrivals at a rate, which may run for a duration instead of a count


class _Arrival(NamedTuple):
    kind: str
    rate_per_s: float = 0.0
    cv: float = 0.0
    concurrency: int = 0
    trace: pd.DataFrame | None = None
    trace_summary: str = ""


def _trace_options(arrival: Fields) -> traces.TraceOptions:
    """How the `arrival` block reads its trace: format, bad rows, sorting, speedup and window."""
    window = (0.0, math.inf)
    if arrival.has("window"):
        section = arrival.section("window")
        start = section.quantity("start", "seconds", 0.0, positive=False)
        end = section.quantity("end", "seconds", math.inf)
        if end <= start:
            raise section.error("end", f"must be after start ({start:g} s); got {end:g} s")
        section.finish()
        window = (start, end)
    return traces.TraceOptions(
        format=arrival.string("format", "csv", choices=traces.FORMATS),
        on_bad_row=arrival.string("on_bad_row", "fail", choices=traces.BAD_ROWS),
        sort=arrival.boolean("sort", False),
        speedup=arrival.number("speedup", 1.0, low=1e-6, high=1e6),
        window_s=window)


def _whole_tokens(text: str) -> int | None:
    """A cell of a lengths file as a token count, None unless it is a whole number in range."""
    try:
        number = float(text)
    except ValueError:
        return None
    if not (math.isfinite(number) and number == int(number) and 1 <= number <= MAX_TOKENS_PER_REQUEST):
        return None
    return int(number)


def _empirical_values(section: Fields, folder: Path) -> tuple[int, ...]:
    """The token counts of a one-column file of lengths to sample from."""
    file = folder / section.string("file")
    if not file.exists():
        raise section.error("file", f"expected a one-column file of token counts: {file} not found")
    cells = [line.split(",")[0].strip() for line in read_text(file, "a one-column file of token counts").splitlines()]
    values = []
    for number, cell in enumerate(cells, start=1):
        if not cell:
            continue
        value = _whole_tokens(cell)
        if value is None:
            raise InputError(str(file), "", f"line {number}: expected a whole token count from 1 to "
                                            f"{MAX_TOKENS_PER_REQUEST:,}, got {brief(cell)}")
        values.append(value)
    if not values or len(values) > MAX_REQUESTS:
        raise section.error("file", f"expected 1 to {MAX_REQUESTS:,} token counts, all of them 1 or more")
    return tuple(values)


def _tokens(section: Fields, key: str, default: int | None = None) -> int:
    """A token count of one request, from 1 to `MAX_TOKENS_PER_REQUEST`."""
    if default is None:
        return section.integer(key, high=MAX_TOKENS_PER_REQUEST)
    return section.integer(key, default, high=MAX_TOKENS_PER_REQUEST)


def _lognormal(section: Fields) -> Lengths:
    """A lognormal length: median and sigma of log(length), clipped to [min, max]."""
    median = section.number("median", low=1.0, high=MAX_TOKENS_PER_REQUEST)
    sigma = section.number("sigma", low=0.0, high=MAX_SIGMA)
    low, high = _tokens(section, "min", 1), _tokens(section, "max")
    if high < low:
        raise section.error("max", f"must be at least min ({low}); got {high}")
    if not low <= median <= high:  # every draw would be clipped to one bound
        raise section.error("median", f"must be between min ({low}) and max ({high}); got {median:g}")
    return Lengths("lognormal", median=median, sigma=sigma, low=low, high=high)


def _lengths(fields: Fields, key: str, folder: Path) -> Lengths:
    """A length distribution (prompt or output tokens) of one of the kinds `LENGTHS`."""
    section = fields.section(key)
    kind = section.string("kind", choices=LENGTHS)
    if kind == "fixed":
        lengths = Lengths(kind, value=_tokens(section, "value"))
    elif kind == "uniform":
        low, high = _tokens(section, "low"), _tokens(section, "high")
        if high < low:
            raise section.error("high", f"must be at least low ({low}); got {high}")
        lengths = Lengths(kind, low=low, high=high)
    elif kind == "lognormal":
        lengths = _lognormal(section)
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
        cv = arrival.number("cv", 1.0, low=0.01, high=MAX_CV) if kind == "gamma" else 1.0
        result = _Arrival(kind, rate_per_s=rate, cv=cv)
    elif kind == "closed_loop":
        result = _Arrival(kind, concurrency=arrival.integer("concurrency", high=MAX_REQUESTS))
    elif kind == "trace":
        trace = traces.read_trace(folder / arrival.string("file"), _trace_options(arrival))
        result = _Arrival(kind, trace=trace.requests, trace_summary=trace.summary())
    else:
        result = _Arrival(kind)
    arrival.finish()
    return result


def load_workload(path: Path, fields: Fields | None = None) -> Workload:
    """The workload at `path`, or in `fields` read from the file at `path` (which locates its files)."""
    fields = fields or load_yaml(path)
    arrival = _arrival(fields.section("arrival"), Path(path).parent)
    benchmark = _benchmark(fields.section("benchmark")) if fields.has("benchmark") else None
    if benchmark is not None and benchmark.measurement == "steady":
        if arrival.kind != "closed_loop":
            raise fields.error("benchmark.measurement", "steady is measured at a concurrency: the arrival must "
                                                        f"be closed_loop; got {arrival.kind}")
        benchmark = benchmark.steady(arrival.concurrency)
    count = fields.integer("requests", 0, low=0, high=MAX_REQUESTS)
    duration = fields.quantity("duration", "seconds", 0.0)
    traced = arrival.trace is not None
    count_source = ""
    if benchmark and not traced and not count and not duration:
        count, count_source = _tool_default_requests(fields, benchmark, arrival)
    if not traced and not count and not (duration and arrival.kind in OPEN_LOOP):
        raise fields.error("requests", "give the number of requests (or a duration, for poisson/gamma arrivals, "
                                       "or a benchmark tool whose default applies)")
    if not count and arrival.kind in OPEN_LOOP and duration * arrival.rate_per_s > MAX_REQUESTS:
        raise fields.error("duration", f"{duration:g} s at {arrival.rate_per_s:g} requests/s is about "
                                       f"{duration * arrival.rate_per_s:,.0f} requests; at most {MAX_REQUESTS:,} "
                                       f"can be simulated")
    workload = _workload(fields, path, arrival, count, duration, benchmark, count_source)
    fields.finish()
    return workload


def _prefix(section: Fields, suffix: Lengths, traced: bool) -> Prefix:
    """The `prefix` block: shared prefixes every prompt starts with (prompt_tokens then gives the
    suffix that follows), drawn uniformly or by a Zipf law."""
    if traced:
        raise section.error("tokens", "a trace gives its own prompts; shared prefixes are for generated ones")
    prefix = Prefix(_tokens(section, "tokens"), section.integer("groups", high=MAX_REQUESTS),
                    section.number("zipf", 0.0, low=0.0, high=MAX_ZIPF))
    section.finish()
    if prefix.tokens + _longest(suffix) > MAX_TOKENS_PER_REQUEST:
        raise section.error("tokens", f"{prefix.tokens:,} shared tokens and a suffix of up to {_longest(suffix):,} "
                                      f"exceed {MAX_TOKENS_PER_REQUEST:,} tokens per request")
    return prefix


def _sessions(section: Fields, arrival: str, prefix: Prefix | None) -> Sessions:
    """The `sessions` block: the turns of each conversation (a length distribution of whole
    numbers) and the user's think time between an answer and the next message."""
    if arrival not in OPEN_LOOP:
        raise section.error("turns", f"sessions start at poisson or gamma arrivals; got {arrival}")
    if prefix is not None:
        raise section.error("turns", "a workload has either shared prefixes or sessions, not both")
    sessions = Sessions(_lengths(section, "turns", Path(".")), section.quantity("think_time", "seconds", 0.0,
                                                                              positive=False))
    section.finish()
    return sessions


def _longest(lengths: Lengths) -> int:
    """The longest length a distribution draws."""
    if lengths.kind == "fixed":
        return lengths.value
    return max(lengths.values) if lengths.kind == "empirical" else lengths.high


def _benchmark(section: Fields) -> Benchmark:
    """The `benchmark` block: the client tool whose run this reproduces, and its warm-up requests."""
    benchmark = Benchmark(section.string("tool", choices=tuple(TOOLS)),
                          section.integer("warmup_requests", 0, low=0, high=MAX_REQUESTS),
                          section.string("measurement", "count", choices=MEASUREMENTS))
    section.finish()
    return benchmark


def _tool_default_requests(fields: Fields, benchmark: Benchmark, arrival: _Arrival) -> tuple[int, str]:
    """The requests the benchmark tool sends when its command line does not say, and a note saying so."""
    tool = benchmark.spec
    concurrency = arrival.concurrency if arrival.kind == "closed_loop" else None
    count = benchmark.requests_for(concurrency)
    if count is None:
        raise fields.error("requests", f"{tool.name} has no known default request count for {arrival.kind} "
                                       f"arrivals; give the number of requests")
    if benchmark.measurement == "steady":
        return count, f"steady state: {STEADY_REQUESTS_PER_USER} per user after {benchmark.warmup_requests} warm-up"
    rule = (f"max({tool.default_requests}, {tool.requests_per_concurrency} x concurrency)"
            if tool.requests_per_concurrency else str(tool.default_requests))
    return count, f"{tool.name}'s default, {rule}"


def _workload(fields: Fields, path: Path, arrival: _Arrival, count: int, duration: float,
              benchmark: Benchmark | None = None, count_source: str = "") -> Workload:
    """The Workload the fields describe; a check of its own that names no field is reported on the block."""
    folder = Path(path).parent
    traced = arrival.trace is not None
    name = fields.string("name", Path(path).stem)
    description = fields.string("description", "")
    prompt = Lengths("fixed", 1) if traced else _lengths(fields, "prompt_tokens", folder)
    output = Lengths("fixed", 1) if traced else _lengths(fields, "output_tokens", folder)
    seed = fields.integer("seed", 0, low=0)
    prefix = _prefix(fields.section("prefix"), prompt, traced) if fields.has("prefix") else None
    sessions = _sessions(fields.section("sessions"), arrival.kind, prefix) if fields.has("sessions") else None
    try:
        return Workload(name=name, description=description, arrival=arrival.kind, rate_per_s=arrival.rate_per_s,
                        cv=arrival.cv, concurrency=arrival.concurrency, prompt=prompt, output=output, count=count,
                        duration_s=duration, seed=seed, trace=arrival.trace, benchmark=benchmark,
                        count_source=count_source, trace_summary=arrival.trace_summary, prefix=prefix,
                        sessions=sessions)
    except HwsimError as exc:
        raise InputError(fields.source, fields.path, str(exc)) from None
