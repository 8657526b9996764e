"""Request traces, read in their published formats into one table of arrivals and lengths.

Formats (`arrival: {kind: trace, file: PATH, format: ...}`):
- `csv`: hwsim's own CSV, or JSON lines for a `.jsonl` file, with `timestamp_s, prompt_tokens,
  output_tokens`.
- `azure`: the Azure LLM inference traces (2023, and the 2024 week-long ones): `TIMESTAMP`
  (a date and time, with or without a UTC offset), `ContextTokens`, `GeneratedTokens`.
- `burstgpt`: BurstGPT: `Timestamp` (seconds), `Request tokens`, `Response tokens` (0 marks a
  failed request, which no simulation can replay: a bad row).
- `mooncake`: Mooncake's JSON lines: `timestamp` (milliseconds), `input_length`, `output_length`
  and `hash_ids` (one id per 512-token block of the prompt, kept for prefix reuse).

Every row is checked; a bad one is reported with its row number, column and value, and either stops
the load (`on_bad_row: fail`, the default) or is left out and counted (`skip`). Times must not go
backwards unless `sort: true`, which sorts them and says so. `speedup` divides every gap, and
`window` keeps the requests that arrived within it (in the trace's own seconds from its start).
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.base.errors import InputError
from hwsim.loading.fields import read_text, shown
from hwsim.specs.workload import MAX_REQUESTS, MAX_TOKENS_PER_REQUEST, TRACE_COLUMNS

FORMATS = ("csv", "azure", "burstgpt", "mooncake")
BAD_ROWS = ("fail", "skip")
# each format's columns for (time, prompt tokens, output tokens), and the seconds in one time unit
COLUMNS = {
    "csv": ("timestamp_s", "prompt_tokens", "output_tokens"),
    "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    "burstgpt": ("Timestamp", "Request tokens", "Response tokens"),
    "mooncake": ("timestamp", "input_length", "output_length"),
}
TIME_UNIT_S = {"csv": 1.0, "azure": 1.0, "burstgpt": 1.0, "mooncake": 1e-3}


@dataclass(frozen=True)
class TraceOptions:
    """How to read a trace: its format, what to do with bad rows, whether to sort, how to rescale
    time, and the window of the trace (seconds from its first arrival) to keep."""

    format: str = "csv"
    on_bad_row: str = "fail"
    sort: bool = False
    speedup: float = 1.0
    window_s: tuple[float, float] = (0.0, math.inf)


@dataclass(frozen=True)
class Trace:
    """The requests of a trace (`TRACE_COLUMNS`, time from zero) and what loading it left out."""

    requests: pd.DataFrame
    skipped: tuple[str, ...] = ()  # one line per bad row left out
    notes: tuple[str, ...] = field(default=())  # e.g. that the rows were sorted

    def summary(self) -> str:
        """Requests, duration, rate and length quantiles: what a trace looks like on load."""
        table = self.requests
        span = float(table["timestamp_s"].max() - table["timestamp_s"].min())
        rate = f"{len(table) / span:.2f} requests/s" if span > 0 else "all at once"
        parts = []
        for column, name in (("prompt_tokens", "prompt"), ("output_tokens", "output")):
            p50, p90, p99 = np.percentile(table[column], (50, 90, 99))
            parts.append(f"{name} tokens p50 {p50:,.0f}, p90 {p90:,.0f}, p99 {p99:,.0f}")
        line = f"trace: {len(table):,} requests over {span:,.1f} s ({rate}); " + "; ".join(parts)
        extra = [f"{len(self.skipped)} bad rows skipped (first: {self.skipped[0]})"] if self.skipped else []
        return "\n".join([line, *[f"trace: {note}" for note in [*self.notes, *extra]]])


def read_trace(path: Path, options: TraceOptions) -> Trace:
    """The trace at `path` in `options.format`, checked row by row."""
    if not path.exists():
        raise InputError(str(path), "", "trace file not found")
    frame = _frame(path, options.format)
    columns = COLUMNS[options.format]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(str(path), missing[0], f"trace column missing; a {options.format} trace has "
                                                f"{', '.join(columns)}")
    if frame.empty:
        raise InputError(str(path), "", "the trace has no requests; expected one row per request")
    times = _times(frame, options.format, columns[0])
    table = pd.DataFrame({"timestamp_s": times, "prompt_tokens": _numbers(frame, columns[1]),
                          "output_tokens": _numbers(frame, columns[2])})
    if options.format == "mooncake" and "hash_ids" in frame.columns:
        table["hash_ids"] = frame["hash_ids"]
    table, skipped = _checked(path, frame, table, columns, options.on_bad_row)
    table, notes = _ordered(path, frame, table, columns[0], options.sort)
    table = _windowed(path, table, options)
    if len(table) > MAX_REQUESTS:
        raise InputError(str(path), "", f"the trace has {len(table):,} requests; at most {MAX_REQUESTS:,} can be "
                                        f"simulated (choose a window)")
    return Trace(table.reset_index(drop=True), tuple(skipped), tuple(notes))


def _frame(path: Path, fmt: str) -> pd.DataFrame:
    """The file as read: CSV, or JSON lines (one object per request) for mooncake and `.jsonl`."""
    text = read_text(path, f"a {fmt} trace")
    if not text.strip():
        raise InputError(str(path), "", "the trace is empty; expected a header and one row per request")
    if fmt == "mooncake" or path.suffix == ".jsonl":
        return pd.DataFrame(_json_lines(path, text, COLUMNS[fmt]))
    try:
        return pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(str(path), "", f"not a readable CSV: {' '.join(str(exc).split())}") from None


def _json_lines(path: Path, text: str, columns: tuple[str, ...]) -> list[dict]:
    """The objects of a JSON-lines trace, one per non-blank line; anything else names its line."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            raise InputError(str(path), "", f"line {number}: not valid JSON; expected one object per line") from None
        if not isinstance(record, dict):
            raise InputError(str(path), "", f"line {number}: expected a JSON object with {', '.join(columns)}; "
                                            f"got {type(record).__name__}")
        records.append(record)
    return records


def _number(cell: object) -> float:
    """One cell as a float; text that is not a number, true/false, lists and blanks as NaN."""
    if isinstance(cell, bool) or not isinstance(cell, (int, float, str, np.number)):
        return math.nan
    try:
        return float(cell)
    except (ValueError, OverflowError):
        return math.nan


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.array([_number(cell) for cell in frame[column]], dtype=float)


def _times(frame: pd.DataFrame, fmt: str, column: str) -> np.ndarray:
    """Arrival times in seconds (NaN where a cell is not a time): Azure's date-times as seconds
    since the epoch, every other format's numbers in its own unit."""
    if fmt != "azure":
        return _numbers(frame, column) * TIME_UNIT_S[fmt]
    stamps = pd.to_datetime(frame[column].astype(str).str.strip(), format="mixed", utc=True, errors="coerce")
    seconds = (stamps - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=float, na_value=math.nan)


def _bad_rows(table: pd.DataFrame, columns: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """(row, column, expectation) for every bad cell, first bad column of each row only."""
    found = []
    times = table["timestamp_s"].to_numpy()
    bad = [~(np.isfinite(times) & (times >= 0))]
    for name in ("prompt_tokens", "output_tokens"):
        counts = table[name].to_numpy()
        whole = np.isfinite(counts) & (counts >= 1) & (counts <= MAX_TOKENS_PER_REQUEST)
        whole &= counts == np.floor(np.where(whole, counts, 0.0))
        bad.append(~whole)
    tokens = f"a whole token count from 1 to {MAX_TOKENS_PER_REQUEST:,}"
    expectations = ("a time in seconds, finite and not negative", tokens, tokens)
    for row in np.flatnonzero(bad[0] | bad[1] | bad[2]):
        index = next(i for i in range(3) if bad[i][row])
        found.append((int(row), columns[index], expectations[index]))
    return found


def _checked(path: Path, frame: pd.DataFrame, table: pd.DataFrame, columns: tuple[str, ...],
             on_bad_row: str) -> tuple[pd.DataFrame, list[str]]:
    """The rows whose time and token counts are valid; a bad row stops the load unless skipped."""
    bad = _bad_rows(table, columns)
    if bad and on_bad_row == "fail":
        row, column, expected = bad[0]
        raise InputError(str(path), column, f"row {row + 1}: expected {expected}, got {shown(frame[column].iloc[row])}"
                                            f" (on_bad_row: skip leaves such rows out)")
    lines = [f"row {row + 1}, column {column}: expected {expected}, got {shown(frame[column].iloc[row])}"
             for row, column, expected in bad]
    keep = np.ones(len(table), dtype=bool)
    keep[[row for row, _, _ in bad]] = False
    if not keep.any():
        raise InputError(str(path), "", f"every row is bad; the first: {lines[0]}")
    table = table[keep].copy()
    table["prompt_tokens"] = table["prompt_tokens"].astype(np.int64)
    table["output_tokens"] = table["output_tokens"].astype(np.int64)
    return table, lines


def _ordered(path: Path, frame: pd.DataFrame, table: pd.DataFrame, column: str,
             sort: bool) -> tuple[pd.DataFrame, list[str]]:
    """The rows in time order: as given, or sorted when `sort` asks (saying how many moved)."""
    times = table["timestamp_s"].to_numpy()
    earlier = np.flatnonzero(np.diff(times) < 0)
    if not len(earlier):
        return table, []
    row = int(table.index[earlier[0] + 1])
    if not sort:
        raise InputError(str(path), column, f"row {row + 1}: expected times in order (no earlier than the row "
                                            f"before), got {shown(frame[column].iloc[row])} (sort: true sorts them)")
    return table.sort_values("timestamp_s", kind="stable"), [f"{len(earlier)} rows out of time order were sorted"]


def _windowed(path: Path, table: pd.DataFrame, options: TraceOptions) -> pd.DataFrame:
    """Times from zero, the window's requests only, every gap divided by the speedup."""
    table = table.assign(timestamp_s=table["timestamp_s"] - table["timestamp_s"].min())
    start, end = options.window_s
    table = table[(table["timestamp_s"] >= start) & (table["timestamp_s"] < end)]
    if table.empty:
        raise InputError(str(path), "window", f"no request arrived between {start:g} s and {end:g} s of the trace")
    return table.assign(timestamp_s=(table["timestamp_s"] - table["timestamp_s"].min()) / options.speedup)


__all__ = ["BAD_ROWS", "FORMATS", "TRACE_COLUMNS", "Trace", "TraceOptions", "read_trace"]
