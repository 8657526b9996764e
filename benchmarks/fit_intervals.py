"""Fit the 90% error bands of every regime on the validation corpus and write validation/intervals.yaml.

    python benchmarks/fit_intervals.py validation/*.csv validation/*/*.csv

Every row hwsim predicts is used except those that set a parameter: kernel rows on calibrated
hardware (the H200 efficiencies were fitted on them) and int4 tinygemm GEMM rows (the kernel curve
was fitted on them). Prints the coverage table for the README: per top-level regime, how often the
interval covered the measurement, fitted on all rows (in sample) and with each file's rows held out
of the fit that judges them (leave one file out).
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pandas as pd
import yaml

from hwsim.studies import intervals, regimes, validate

OUT = Path(__file__).resolve().parent.parent / "validation" / "intervals.yaml"


def corpus(paths: list[str]) -> tuple[pd.DataFrame, int]:
    """Predicted rows with their signed error and regime chain, and how many rows were left out for
    having set a parameter."""
    rows = validate.validate(paths).dropna(subset=["predicted"])
    rows = rows.assign(error=rows["predicted"].astype(float) / rows["measured"].astype(float) - 1.0)
    parts = rows["regime"].str.split("/")
    fitted_on = (parts.str[0] == "kernel") & ((parts.str[3] == "calibrated") | (parts.str[4] == "quantized"))
    used = rows[~fitted_on].copy()
    used["regimes"] = [regimes.chain(tuple(p)) for p in used["regime"].str.split("/")]
    return used, int(fitted_on.sum())


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
        "excluded": f"{left_out} kernel rows that set a parameter (calibrated hardware, int4 tinygemm)",
        "note": "error = predicted / measured - 1; a prediction p has the interval [p / (1 + error_high), "
                "p / (1 + error_low)]; written by benchmarks/fit_intervals.py",
        "regimes": {b.regime: {"rows": b.rows, "error_low": round(b.error_low, 6), "error_high": round(b.error_high, 6)}
                    for b in sorted(bands.values(), key=lambda b: b.regime)},
        "covered": groups,
    }
    OUT.write_text(yaml.safe_dump(document, sort_keys=False, width=110))
    print(f"wrote {OUT}: {len(bands)} regimes from {len(rows)} rows ({left_out} left out)\n")
    print(coverage_table(groups))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
