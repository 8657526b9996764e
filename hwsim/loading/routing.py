"""How a mixture-of-experts model's tokens are routed: named distributions or measured histograms.

`--routing` and scenario files say `uniform`, `zipf:S` (the expert of popularity rank r gets a
share proportional to 1 / r^S) or the path of a CSV of per-layer expert counts taken from a
real run. Skew matters because it decides how many distinct experts a batch touches, and so
how many expert weights a step reads.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.base.errors import HwsimError, InputError
from hwsim.perf.moe import uniform, zipf
from hwsim.specs import routing
from hwsim.specs.models import Model

HISTOGRAM_COLUMNS = ("layer", "expert", "count")


def _layer_shares(path: Path, model: Model, experts: int, layer: object, group: pd.DataFrame) -> tuple[float, ...]:
    """One layer's histogram as shares of its tokens; every expert listed, the counts not all zero."""
    counts = np.zeros(experts)
    for expert, count in zip(group["expert"], group["count"], strict=True):
        if not 0 <= int(expert) < experts:
            raise InputError(str(path), "expert", f"layer {layer}: expert {expert} is outside 0..{experts - 1} "
                                                   f"({model.id} has {experts} experts)")
        counts[int(expert)] += float(count)
    if len(group) != experts:
        raise InputError(str(path), "expert", f"layer {layer}: {len(group)} experts listed, expected {experts}")
    if counts.sum() <= 0:
        raise InputError(str(path), "count", f"layer {layer}: counts add up to zero")
    return tuple(counts / counts.sum())


def empirical(path: Path, model: Model) -> routing.Routing:
    """Per-layer expert histograms from a CSV: columns `layer, expert, count` (one row per pair)."""
    if model.moe is None:
        raise HwsimError(f"{model.id} has no experts to route")
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(str(path), "", "file not found") from None
    for column in HISTOGRAM_COLUMNS:
        if column not in frame.columns:
            raise InputError(str(path), column, "column missing; expected layer, expert, count")
    experts = model.moe.experts
    shares = [_layer_shares(path, model, experts, layer, group) for layer, group in frame.groupby("layer", sort=True)]
    return routing.Routing(experts, model.moe.top_k, tuple(shares), "empirical")


def routing_for(model: Model, spec: str | None) -> routing.Routing:
    """`uniform`, `zipf:S` or a histogram CSV path; None means uniform."""
    if model.moe is None:
        raise HwsimError(f"{model.id} is not a mixture-of-experts model")
    moe = model.moe
    if spec is None or spec in ("", "uniform"):
        return uniform(moe.experts, moe.top_k)
    if spec.startswith("zipf"):
        _, _, exponent = spec.partition(":")
        try:
            return zipf(moe.experts, moe.top_k, float(exponent or 1.0))
        except ValueError:
            raise HwsimError(f"routing {spec!r}: expected zipf:EXPONENT, e.g. zipf:1.2") from None
    return empirical(Path(spec), model)
