"""90% intervals around predictions, from how wrong hwsim has been on measured and published rows.

For each regime (`regimes.py`) the signed errors e = predicted / measured - 1 of `hwsim validate`
on the validation corpus give, split-conformal style, the order statistics that bracket the middle
`coverage` of errors with the finite-sample correction ((n + 1) quantile levels). A new prediction p
in that regime then has the interval [p / (1 + e_high), p / (1 + e_low)] for what would be measured.
A regime with fewer than `MIN_ROWS` rows uses its closest parent that has enough, and says which.
Rows that set a parameter (the calibration kernels) are never used.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hwsim.specs.intervals import Band
from hwsim.studies import regimes

COVERAGE = 0.9
MIN_ROWS = 8


def fit_bands(errors: pd.DataFrame, coverage: float = COVERAGE, min_rows: int = MIN_ROWS) -> dict[str, Band]:
    """A band per regime name in `errors` (columns `regimes`: each row's chain of names, and
    `error`), for every name with at least `min_rows` rows."""
    by_name: dict[str, list[float]] = {}
    for chain, error in zip(errors["regimes"], errors["error"], strict=True):
        for name in chain:
            by_name.setdefault(name, []).append(float(error))
    bands = {}
    for name, values in by_name.items():
        if len(values) >= min_rows:
            low, high = conformal_quantiles(np.asarray(values), coverage)
            bands[name] = Band(name, len(values), low, high)
    return bands


def conformal_quantiles(errors: np.ndarray, coverage: float) -> tuple[float, float]:
    """The order statistics holding the middle `coverage` of `errors`, with the split-conformal
    (n + 1) correction: the k-th smallest and the k-th largest, k = floor((n + 1)(1 - coverage) / 2)
    (at least 1)."""
    ordered = np.sort(errors)
    k = max(1, math.floor((len(ordered) + 1) * (1.0 - coverage) / 2.0))
    return float(ordered[k - 1]), float(ordered[len(ordered) - k])


def band_for(chain: list[str], bands: dict[str, Band]) -> Band | None:
    """The finest band of the chain that was fitted (None when not even `all` was)."""
    return next((bands[name] for name in chain if name in bands), None)


# the summary figures an interval is given to, and what each measures (see `regimes.measure`)
SUMMARY_FIGURES = {"output_tokens_per_s": "throughput", "ttft_mean_s": "ttft", "tpot_mean_s": "inter-token",
                   "e2e_mean_s": "e2e"}


def summary_intervals(regime_of, summary: dict, bands: dict[str, Band]) -> dict:
    """`_low`/`_high` fields for the summary's headline figures and, per figure, the regime whose
    band gave them (`regime_of(measure)` is the scenario's regime for a figure of that measure)."""
    out: dict = {}
    for key, measured in SUMMARY_FIGURES.items():
        value = summary.get(key)
        band = band_for(regimes.chain(regime_of(measured)), bands)
        if value is None or band is None:
            continue
        out[f"{key}_low"], out[f"{key}_high"] = band.around(value)
        out.setdefault("interval_regimes", {})[key] = f"{band.regime} ({band.rows} rows)"
    out |= cost_interval(summary, out)
    if out:
        out["interval_coverage"] = COVERAGE
    return out


def cost_interval(summary: dict, found: dict) -> dict:
    """The interval of the cost per 1M output tokens, from the throughput's (see `per_token_cost_interval`)."""
    cost, throughput = summary.get("usd_per_1m_output_tokens"), summary.get("output_tokens_per_s")
    low, high = found.get("output_tokens_per_s_low"), found.get("output_tokens_per_s_high")
    if cost is None or not throughput or not low or not high:
        return {}
    cost_low, cost_high = per_token_cost_interval(cost, throughput, low, high)
    return {"usd_per_1m_output_tokens_low": cost_low, "usd_per_1m_output_tokens_high": cost_high}


def per_token_cost_interval(cost: float, throughput: float, throughput_low: float,
                            throughput_high: float) -> tuple[float, float]:
    """A cost per token's interval from its throughput's: at the same price per hour a token costs
    in inverse proportion to the throughput (the share of an owned machine's electricity that moves
    with power is left as predicted)."""
    return cost * throughput / throughput_high, cost * throughput / throughput_low
