"""How a mixture-of-experts model's tokens are routed: named distributions or measured histograms.

`--routing` and scenario files say `uniform`, `zipf:S` (the expert of popularity rank r gets a
share proportional to 1 / r^S) or the path of a CSV of per-layer expert counts taken from a
real run. Skew matters because it decides how many distinct experts a batch touches, and so
how many expert weights a step reads.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading.fields import read_text, shown
from hwsim.perf.moe import uniform, zipf
from hwsim.specs import routing
from hwsim.specs.models import Model

HISTOGRAM_COLUMNS = ("layer", "expert", "count")


MAX_ZIPF_EXPONENT = 100.0  # beyond it every token goes to the most popular expert already


def _layer_shares(path: Path, model: Model, experts: int, layer: object, group: pd.DataFrame) -> tuple[float, ...]:
    """One layer's histogram as shares of its tokens; every expert listed, the counts not all zero."""
    counts = np.zeros(experts)
    for expert, count in zip(group["expert"], group["count"], strict=True):
        if not 0 <= int(expert) < experts:
            raise InputError(str(path), "expert", f"layer {layer}: expert {expert:g} is outside 0..{experts - 1} "
                                                   f"({model.id} has {experts} experts)")
        counts[int(expert)] += float(count)
    if len(group) != experts:
        raise InputError(str(path), "expert", f"layer {layer}: {len(group)} experts listed, expected {experts}")
    if counts.sum() <= 0:
        raise InputError(str(path), "count", f"layer {layer}: counts add up to zero")
    return tuple(counts / counts.sum())


def _numbers(path: Path, frame: pd.DataFrame, column: str, whole: bool) -> pd.Series:
    """A histogram column as finite numbers of at least zero (whole ones for `whole`); a bad cell names its row."""
    values = pd.to_numeric(frame[column], errors="coerce").astype(float)
    numbers = values.to_numpy()
    good = np.isfinite(numbers) & (numbers >= 0)
    if whole:
        good &= numbers == np.floor(numbers)
    if not good.all():
        row = int(np.flatnonzero(~good)[0])
        kind = "a whole number" if whole else "a number"
        raise InputError(str(path), column, f"row {row + 1}: expected {kind} of at least 0, "
                                            f"got {shown(frame[column].iloc[row])}")
    return values


def _histogram(path: Path) -> pd.DataFrame:
    """The histogram CSV with its three columns checked: layer and expert whole, count finite, none negative."""
    text = read_text(path, "a CSV of layer, expert, count")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as exc:  # an empty file included
        raise InputError(str(path), "", f"not a readable CSV: {' '.join(str(exc).split())}") from None
    for column in HISTOGRAM_COLUMNS:
        if column not in frame.columns:
            raise InputError(str(path), column, "column missing; expected layer, expert, count")
    if frame.empty:
        raise InputError(str(path), "", "no rows; expected one row per layer and expert")
    frame = frame.reset_index(drop=True)
    return pd.DataFrame({"layer": _numbers(path, frame, "layer", whole=True),
                         "expert": _numbers(path, frame, "expert", whole=True),
                         "count": _numbers(path, frame, "count", whole=False)})


def empirical(path: Path, model: Model) -> routing.Routing:
    """Per-layer expert histograms from a CSV: columns `layer, expert, count` (one row per pair)."""
    if model.moe is None:
        raise HwsimError(f"{model.id} has no experts to route")
    frame = _histogram(path)
    experts = model.moe.experts
    shares = [_layer_shares(path, model, experts, f"{layer:g}", group)
              for layer, group in frame.groupby("layer", sort=True)]
    return routing.Routing(experts, model.moe.top_k, tuple(shares), "empirical")


def _zipf_exponent(spec: str) -> float:
    """The S of `zipf:S` (1 when left out): a finite number from 0 to `MAX_ZIPF_EXPONENT`."""
    _, _, exponent = spec.partition(":")
    try:
        value = float(exponent or 1.0)
    except ValueError:
        raise HwsimError(f"routing {spec!r}: expected zipf:EXPONENT, e.g. zipf:1.2") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_ZIPF_EXPONENT):
        raise HwsimError(f"routing {spec!r}: the exponent must be a number from 0 to {MAX_ZIPF_EXPONENT:g}")
    return value


def routing_for(model: Model, spec: str | None) -> routing.Routing:
    """`uniform`, `zipf:S` or a histogram CSV path; None means uniform."""
    if model.moe is None:
        raise HwsimError(f"{model.id} is not a mixture-of-experts model")
    moe = model.moe
    if spec is None or spec in ("", "uniform"):
        return uniform(moe.experts, moe.top_k)
    if spec.startswith("zipf"):
        return zipf(moe.experts, moe.top_k, _zipf_exponent(spec))
    return empirical(Path(spec), model)
