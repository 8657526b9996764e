"""Predict every row of measurement files and measure the error: the project's accuracy check."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from hwsim.loading import intervals_yaml, measurements
from hwsim.loading.measurements import RowError
from hwsim.studies import intervals, predict, regimes

# reason: why a row was not predicted; note: what a predicted row's prediction assumed
ROW_COLUMNS = ["id", "kind", "hardware", "metric", "measured", "predicted", "ape", "reason", "note", "regime", "file"]


def validate(paths: list[str], overlays: predict.Overlays | None = None) -> pd.DataFrame:
    """One record per row: measured, predicted (None when not predictable), ape and reason.

    A bad row never stops the run: its reason says what was wrong with it.
    """
    records = []
    seen: dict[str, str] = {}
    for path in paths:
        for row in measurements.read(path):
            if row.id in seen:  # flagged, not predicted: a second row must not count twice
                records.append(_rejected(row, f"duplicate id: {row.id} is already a row of {seen[row.id]}"))
                continue
            seen[row.id] = row.source
            records.append(_record(row, overlays or {}))
    return pd.DataFrame.from_records(records, columns=ROW_COLUMNS)


def _rejected(row: measurements.Row, reason: str) -> dict:
    return {"id": row.id, "kind": row.kind, "hardware": row.cells.get("hardware", ""), "metric": row.metric,
            "measured": None, "predicted": None, "ape": None, "reason": reason, "note": "", "regime": "",
            "file": row.source}


def _record(row: measurements.Row, overlays: predict.Overlays) -> dict:
    record: dict[str, Any] = {"id": row.id, "kind": row.kind, "hardware": row.cells.get("hardware", ""),
              "metric": row.metric, "measured": None, "predicted": None, "ape": None, "reason": "",
              "note": "", "regime": "/".join(regimes.regime(row)), "file": row.source}
    try:
        measured = row.number("value")
        if measured <= 0 or math.isinf(measured):
            raise RowError(f"column value: expected a positive measured number, got {measured:g}")
        record["measured"] = measured
        predicted = predict.predict(row, overlays)
    except RowError as exc:
        record["reason"] = str(exc)
        return record
    except Exception as exc:  # a row must never stop validation; report it instead
        record["reason"] = f"error while predicting: {type(exc).__name__}: {exc}"
        return record
    if not math.isfinite(predicted):
        record["reason"] = "not predictable: the row's shape gives a non-finite prediction"
        return record
    record["predicted"] = predicted
    record["ape"] = abs(predicted - measured) / measured
    record["note"] = predict.engine_note(row)
    return record


def summarize(rows: pd.DataFrame, by: tuple[str, ...] = ("kind",)) -> pd.DataFrame:
    """Per kind (or per group of the `by` columns, shown joined by " / "): rows, rows predicted,
    MAPE, median and max APE, and the worst row's id."""
    summary = []
    for key, group in rows.groupby(list(by), sort=False):
        kind = " / ".join(str(part) for part in key) if isinstance(key, tuple) else str(key)
        done = group.dropna(subset=["ape"])
        entry = {"kind": kind, "rows": len(group), "predicted": len(done),
                 "mape": None, "median_ape": None, "max_ape": None, "worst": ""}
        if len(done):
            apes = done["ape"].astype(float)
            entry.update(mape=apes.mean(), median_ape=apes.median(), max_ape=apes.max(),
                         worst=str(done.loc[apes.idxmax(), "id"]))
        summary.append(entry)
    return pd.DataFrame(summary, columns=["kind", "rows", "predicted", "mape", "median_ape", "max_ape", "worst"])


def to_json(rows: pd.DataFrame, summary: pd.DataFrame) -> dict:
    def clean(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value

    out_rows = []
    fitted = intervals_yaml.bands()
    for record in rows.to_dict("records"):
        item = {key: clean(record[key]) for key in ("id", "kind", "metric", "measured", "predicted", "ape")}
        if item["predicted"] is None:
            item["reason"] = record["reason"]
        else:
            item.update(_interval(item["predicted"], record["regime"], fitted))
            if record["note"]:
                item["note"] = record["note"]
        out_rows.append(item)
    kinds = {r["kind"]: {k: clean(v) for k, v in r.items() if k != "kind"} for r in summary.to_dict("records")}
    done = rows.dropna(subset=["ape"])
    overall = {"rows": len(rows), "predicted": len(done),
               "mape": clean(float(done["ape"].mean())) if len(done) else None}
    return {"rows": out_rows, "summary": {"overall": overall, "kinds": kinds}}


def _interval(predicted: float, regime: str, fitted: dict) -> dict:
    """The 90% interval of a prediction in its regime (or the closest fitted parent), as JSON fields."""
    band = intervals.band_for(regimes.chain(tuple(regime.split("/"))), fitted)
    if band is None:
        return {"regime": regime}
    low, high = band.around(predicted)
    return {"predicted_low": low, "predicted_high": high, "regime": regime, "interval_regime": band.regime}


def _percent(fraction: float, signed: bool = True) -> str:
    """An error in percent, in at most a few digits even when the prediction is absurd."""
    sign = "+" if signed else ""
    return f"{fraction:{sign}.1%}" if abs(fraction) < 100 else f"{fraction * 100:{sign}.2g}%"


def format_rows(rows: pd.DataFrame) -> str:
    lines = [f"{'id':<12} {'kind':<10} {'metric':<20} {'measured':>12} {'predicted':>12} {'error':>8}"]
    for r in rows.to_dict("records"):
        if r["predicted"] is None or (isinstance(r["predicted"], float) and math.isnan(r["predicted"])):
            lines.append(f"{r['id']:<12} {r['kind']:<10} {r['metric']:<20} {_num(r['measured']):>12} "
                         f"{'-':>12} {'-':>8}  {r['reason']}")
        else:
            signed = (r["predicted"] - r["measured"]) / r["measured"]
            note = f"  {r['note']}" if r.get("note") else ""
            lines.append(f"{r['id']:<12} {r['kind']:<10} {r['metric']:<20} {_num(r['measured']):>12} "
                         f"{_num(r['predicted']):>12} {_percent(signed):>8}{note}")
    return "\n".join(lines)


def format_summary(summary: pd.DataFrame, markdown_label: str | None = None) -> str:
    """The per-kind table as text, or as Markdown rows labelled `markdown_label` (a file name)."""
    if markdown_label is None:
        line = "{kind:<10} {rows:>5} {predicted:>9} {mape:>7} {median:>7} {max:>7}  {worst}"
        lines = [line.format(kind="kind", rows="rows", predicted="predicted", mape="MAPE", median="median",
                             max="max", worst="worst")]
    else:
        line = (f"| {markdown_label} | {{kind}} | {{rows}} | {{predicted}} | {{mape}} | {{median}} | {{max}} "
                "| {worst} |")
        lines = []
    for r in summary.to_dict("records"):
        done = bool(r["predicted"])
        lines.append(line.format(
            kind=r["kind"], rows=r["rows"], predicted=r["predicted"],
            mape=_percent(r["mape"], signed=False) if done else "-",
            median=_percent(r["median_ape"], signed=False) if done else "-",
            max=_percent(r["max_ape"], signed=False) if done else "-",
            worst=r["worst"] if done else "not predictable yet"))
    return "\n".join(lines)


def _num(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"
