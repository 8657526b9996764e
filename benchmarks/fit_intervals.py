"""Fit the 90% error bands of every regime on the validation corpus and write validation/intervals.yaml.

    python benchmarks/fit_intervals.py validation/*.csv validation/*/*.csv

Every row hwsim predicts is used. The rows that set a parameter (kernel rows on calibrated hardware,
whose efficiencies were fitted on them, and the int4 tinygemm GEMMs, whose kernel curve was) are not
used as the shipped profile predicts them but cross-calibrated: each predicted by parameters fitted
on the other folds, as `hwsim calibrate` fits them. Prints the coverage table for the README: per
top-level regime, how often the interval covered the measurement, fitted on all rows (in sample) and
with each file's rows held out of the fit that judges them (leave one file out).
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pandas as pd
import yaml

from hwsim.studies import calibrate, intervals, predict, regimes, validate

OUT = Path(__file__).resolve().parent.parent / "validation" / "intervals.yaml"


FOLDS = 5  # cross-calibration folds for the kernel rows that set the calibrated hardware's parameters


def corpus(paths: list[str]) -> tuple[pd.DataFrame, int]:
    """Predicted rows with their signed error and regime chain, and how many kernel rows set a
    parameter. Those (kernel rows of calibrated hardware, int4 tinygemm GEMMs) are not used as
    predicted by the shipped profile, which was fitted on them: each is predicted instead by
    parameters fitted without it (`cross_calibrated`)."""
    rows = validate.validate(paths).dropna(subset=["predicted"])
    rows = rows.assign(error=rows["predicted"].astype(float) / rows["measured"].astype(float) - 1.0)
    parts = rows["regime"].str.split("/")
    fitted_on = (parts.str[0] == "kernel") & ((parts.str[3] == "calibrated") | (parts.str[4] == "quantized"))
    used = rows[~fitted_on].copy()
    used["regimes"] = [regimes.chain(tuple(p)) for p in used["regime"].str.split("/")]
    crossed = pd.concat([cross_calibrated(paths, hardware_id) for hardware_id in regimes.CALIBRATED_HARDWARE],
                        ignore_index=True)
    # their errors speak for calibrated hardware only: a kernel on datasheet figures, with no band of its
    # own, must not borrow them through a parent regime
    crossed["regimes"] = [[name for name in regimes.chain(tuple(p)) if "/calibrated" in name]
                          for p in crossed["regime"].str.split("/")]
    return pd.concat([used, crossed], ignore_index=True), int(fitted_on.sum())


def cross_calibrated(paths: list[str], hardware_id: str) -> pd.DataFrame:
    """The kernel rows that `hwsim calibrate` fits `hardware_id` on, each predicted by parameters
    fitted (from the shipped profile, as `calibrate` does) on the other folds only: their errors are
    what calibrating on measured kernels leaves for kernels it has not seen. Folds take every
    FOLDS-th row in file order, so each spans the sweep's shapes; a row id seen twice counts once."""
    every, seen = [], set()
    for row in calibrate.fitted_rows(paths, hardware_id):
        if row.id not in seen:
            seen.add(row.id)
            every.append(row)
    records = []
    for fold in range(FOLDS):
        perf, _ = calibrate.fit_rows([r for i, r in enumerate(every) if i % FOLDS != fold], hardware_id)
        for row in every[fold::FOLDS]:
            predicted, measured = predict.predict(row, {hardware_id: perf}), row.number("value")
            records.append({"id": row.id, "kind": row.kind, "hardware": hardware_id, "file": row.source,
                            "measured": measured, "predicted": predicted, "regime": "/".join(regimes.regime(row)),
                            "error": predicted / measured - 1.0})
    return pd.DataFrame.from_records(records)


def covered(rows: pd.DataFrame, bands: dict) -> pd.Series:
    """Whether each row's measurement lies in its interval."""
    hits = []
    for chain, predicted, measured in zip(rows["regimes"], rows["predicted"], rows["measured"], strict=True):
        band = intervals.band_for(chain, bands)
        low, high = band.around(float(predicted)) if band else (float("nan"), float("nan"))
        hits.append(bool(low <= float(measured) <= high))
    return pd.Series(hits, index=rows.index)


def coverage_groups(rows: pd.DataFrame, bands: dict) -> list[dict]:
    """Per kind/measure/where, and over all: rows, in-sample and leave-one-file-out coverage, and
    the median half-width of the interval over the prediction."""
    in_sample = covered(rows, bands)
    held_out = pd.Series(False, index=rows.index)
    for file in rows["file"].unique():
        others = rows[rows["file"] != file]
        mine = rows[rows["file"] == file]
        held_out[mine.index] = covered(mine, intervals.fit_bands(others))
    widths = []
    for chain, predicted in zip(rows["regimes"], rows["predicted"], strict=True):
        low, high = intervals.band_for(chain, bands).around(float(predicted))
        widths.append((high - low) / 2 / float(predicted))
    rows = rows.assign(in_sample=in_sample, held_out=held_out, half_width=widths,
                       group=rows["regime"].str.split("/").str[:3].str.join("/"))
    return [{"group": group, "rows": len(part), "in_sample": round(float(part["in_sample"].mean()), 4),
             "held_out": round(float(part["held_out"].mean()), 4),
             "median_half_width": round(float(part["half_width"].median()), 4)}
            for group, part in list(rows.groupby("group")) + [("all", rows)]]


def coverage_table(groups: list[dict]) -> str:
    """The groups as the README's markdown table."""
    lines = ["| regime (kind/measure/where) | rows | covered, fitted on all | covered, file held out "
             "| median half-width |", "|---|---:|---:|---:|---:|"]
    for g in groups:
        lines.append(f"| {g['group']} | {g['rows']} | {g['in_sample']:.0%} | {g['held_out']:.0%} | "
                     f"{g['median_half_width']:.0%} |")
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    rows, left_out = corpus(paths)
    bands = intervals.fit_bands(rows)
    groups = coverage_groups(rows, bands)
    document = {
        "generated": datetime.date.today().isoformat(),
        "coverage": intervals.COVERAGE, "min_rows": intervals.MIN_ROWS,
        "files": sorted({str(Path(p)) for p in paths}),
        "cross_calibrated": f"{left_out} kernel rows that set a parameter (calibrated hardware, int4 tinygemm) are "
                            f"predicted by parameters fitted on the other {FOLDS - 1} of {FOLDS} folds",
        "note": "error = predicted / measured - 1; a prediction p has the interval [p / (1 + error_high), "
                "p / (1 + error_low)]; written by benchmarks/fit_intervals.py",
        "regimes": {b.regime: {"rows": b.rows, "error_low": round(b.error_low, 6), "error_high": round(b.error_high, 6)}
                    for b in sorted(bands.values(), key=lambda b: b.regime)},
        "covered": groups,
    }
    OUT.write_text(yaml.safe_dump(document, sort_keys=False, width=110))
    print(f"wrote {OUT}: {len(bands)} regimes from {len(rows)} rows ({left_out} kernel rows cross-calibrated)\n")
    print(coverage_table(groups))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
