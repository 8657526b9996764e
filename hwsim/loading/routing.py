"""placeholder"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.base.errors import HwsimError, InputError
from hwsim.perf.moe import uniform, zipf
from hwsim.specs import routing
from hwsim.specs.models import Model


def routing_for(model: Model, spec: str | None) -> routing.Routing:
    """`uniform`, `zipf:S` or a histogram CSV path; None means uniform."""
    if model.moe is None:
        raise HwsimError(f"{model.id} is not a mixture-of-experts model")
    moe = model.moe
    if spec in (None, "", "uniform"):
        return uniform(moe.experts, moe.top_k)
    if spec.startswith("zipf"):
        _, _, exponent = spec.partition(":")
        try:
            return zipf(moe.experts, moe.top_k, float(exponent or 1.0))
        except ValueError:
            raise HwsimError(f"routing {spec!r}: expected zipf:EXPONENT, e.g. zipf:1.2") from None
    return empirical(Path(spec), model)


def empirical(path: Path, model: Model) -> routing.Routing:
    """Per-layer expert histograms from a CSV: columns `layer, expert, count` (one row per pair)."""
    if model.moe is None:
        raise HwsimError(f"{model.id} has no experts to route")
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(str(path), "", "file not found") from None
    for column in ("layer", "expert", "count"):
        if column not in frame.columns:
            raise InputError(str(path), column, "column missing; expected layer, expert, count")
    experts = model.moe.experts
    shares = []
    for layer, group in frame.groupby("layer", sort=True):
        counts = np.zeros(experts)
        for expert, count in zip(group["expert"], group["count"]):
            if not 0 <= int(expert) < experts:
                raise InputError(str(path), "expert", f"layer {layer}: expert {expert} is outside 0..{experts - 1} "
                                                       f"({model.id} has {experts} experts)")
            counts[int(expert)] += float(count)
        if len(group) != experts:
            raise InputError(str(path), "expert", f"layer {layer}: {len(group)} experts listed, expected {experts}")
        if counts.sum() <= 0:
            raise InputError(str(path), "count", f"layer {layer}: counts add up to zero")
        shares.append(tuple(counts / counts.sum()))
    return routing.Routing(experts, model.moe.top_k, tuple(shares), "empirical")
