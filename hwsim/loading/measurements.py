"""Reading files in the measurement schema: one CSV row per measured kernel, copy, step or run.

Cells are kept as text until a predictor asks for a field with a type, so a malformed cell
makes only its own row unpredictable ("column batch: expected a whole number, got 'x'").
Unknown extra columns are ignored, as the schema requires.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hwsim.base.errors import InputError
from hwsim.loading.fields import read_text

REQUIRED_COLUMNS = ("id", "kind", "metric", "value")
# every column of the schema, in its order (see the measurement README)
MEASUREMENT_COLUMNS = (
    "id", "kind", "hardware", "count", "model", "layers", "dtype", "kv_dtype", "weight_bits", "phase", "m", "n", "k",
    "batch", "q_len", "kv_len", "heads_q", "heads_kv", "head_dim", "prompt_len", "context_len", "bytes", "src", "dst",
    "chunk_bytes", "placement", "overlap", "launch", "active_experts", "requests", "input_len", "output_len",
    "concurrency", "request_rate", "pinned", "weight_format", "engine", "metric", "value", "source", "notes",
)

# columns where `inf` is a value of the schema: a request rate of inf is an offline run (all at once)
INFINITE_MEANS = ("request_rate",)


class RowError(Exception):
    """A row that cannot be predicted; the message says why."""


@dataclass(frozen=True)
class Row:
    """One measurement: its cells by column name (stripped text, "" for empty), and the file it came from."""

    cells: dict[str, str]
    source: str

    @property
    def id(self) -> str:
        return self.cells.get("id", "")

    @property
    def kind(self) -> str:
        return self.cells.get("kind", "")

    @property
    def metric(self) -> str:
        return self.cells.get("metric", "")

    def text(self, column: str, default: str | None = None) -> str:
        value = self.cells.get(column, "")
        if value == "":
            if default is None:
                raise RowError(f"column {column} is empty")
            return default
        return value

    def number(self, column: str, default: float | None = None) -> float:
        value = self.cells.get(column, "")
        if value == "":
            if default is None:
                raise RowError(f"column {column} is empty")
            return default
        try:
            number = float(value)
        except ValueError:
            raise RowError(f"column {column}: expected a number, got {value!r}") from None
        if math.isnan(number) or (math.isinf(number) and column not in INFINITE_MEANS):
            raise RowError(f"column {column}: expected a number, got {value!r}")
        return number

    def integer(self, column: str, default: int | None = None, minimum: int = 1) -> int:
        number = self.number(column, None if default is None else float(default))
        if not math.isfinite(number) or number != int(number) or number < minimum:
            raise RowError(f"column {column}: expected a whole number of at least {minimum}, got {number:g}")
        return int(number)

    def flag(self, column: str, default: bool) -> bool:
        value = self.cells.get(column, "").strip().lower()
        if value == "":
            return default
        if value in ("true", "1", "yes"):
            return True
        if value in ("false", "0", "no"):
            return False
        raise RowError(f"column {column}: expected true or false, got {value!r}")


def read(path: str | Path) -> list[Row]:
    """All rows of one measurement file; raises InputError only for an unreadable file."""
    text = read_text(Path(path), "a CSV file in the measurement schema")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(str(path), "", f"not a readable CSV: {' '.join(str(exc).split())}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(str(path), missing[0],
                         f"required column missing; the schema needs {', '.join(REQUIRED_COLUMNS)}")
    return [Row({str(k): str(v).strip() for k, v in record.items()}, str(path)) for record in frame.to_dict("records")]
