"""Reading capacity-plan YAML: a model, a workload, SLOs, a pricing, and the space of deployments to search.

Every value of the search space is checked as the plan is read (ids known, tensor parallelism
dividing the heads, dtypes and placements valid), so a typo fails at once with the field named
instead of after an hour of simulating the candidates before it.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hwsim.base.errors import HwsimError, InputError, brief
from hwsim.loading import catalog, pricing_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.loading.scenario_yaml import engine_settings, workload_field
from hwsim.specs import deployment, plan
from hwsim.specs.models import Model
from hwsim.specs.placement import parse
from hwsim.specs.plan import PERCENTILES
from hwsim.specs.pricing import DEFAULT_PRICING, Pricing
from hwsim.specs.scenario import MAX_BATCHED_TOKENS, MAX_DEVICES, MAX_NUM_SEQS, MAX_REPLICAS


def _listed(fields: Fields, key: str, default: list[Any]) -> list[Any]:
    """A search dimension: a list of values, or one value standing for a list of one."""
    value = fields.raw(key, default)
    values = value if isinstance(value, list) else [value]
    if not values:
        raise fields.error(key, "expected at least one value")
    return values


def _whole_numbers(fields: Fields, key: str, default: list[int], high: int) -> list[int]:
    """A search dimension of counts: whole numbers from 1 to `high`, each checked as it is read."""
    values = _listed(fields, key, default)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fields.error(key, f"expected whole numbers; got {brief(value)}")
        if not 1 <= value <= high:
            raise fields.error(key, f"expected whole numbers from 1 to {high:,}; got {brief(value)}")
    return values


def _texts(fields: Fields, key: str, default: list[Any], nullable: bool = False) -> list[Any]:
    """A search dimension of names (ids, dtypes, placements); with `nullable`, null (or "null") stands for none."""
    values = _listed(fields, key, default)
    names = [None if nullable and value in (None, "null", "") else value for value in values]
    for name in names:
        if not (isinstance(name, str) or (nullable and name is None)):
            raise fields.error(key, f"expected text; got {brief(name)}")
    return names


def _hardware(fields: Fields, prices: Pricing) -> list[Any]:
    """Hardware ids to try, each known and priced (an unpriced candidate could never be ranked)."""
    hardware = _texts(fields, "hardware", [])
    for hardware_id in hardware:
        try:
            system = catalog.system(hardware_id)
        except HwsimError as exc:
            raise fields.error("hardware", str(exc)) from None
        if system.accelerator is None or system.accelerator.id not in prices.priced():
            raise fields.error("hardware", f"{hardware_id} has no price in pricing {prices.id} "
                                           f"(priced: {', '.join(prices.priced())})")
    return hardware


def _check_tensor_parallel(fields: Fields, tps: list[int], device_totals: list[int], model: Model) -> None:
    for tp in tps:
        if tp < 1 or model.num_heads % tp:
            raise fields.error("tensor_parallel", f"{tp} does not divide the {model.num_heads} heads of {model.id}")
        for total in device_totals:
            if tp > total:
                raise fields.error("tensor_parallel", f"{tp} is larger than devices {total}")


def _parallelism(fields: Fields, model: Model) -> tuple[list[int], dict[int, list[int]]]:
    """Tensor-parallel sizes, and for each the replica counts to try.

    The counts come from `replicas`, or from `devices` (totals): a total makes one candidate per
    tensor-parallel size that divides it, with total / size replicas.
    """
    tps = _whole_numbers(fields, "tensor_parallel", [1], MAX_DEVICES)
    has_devices = fields.has("devices")
    replicas = _whole_numbers(fields, "replicas", [1], MAX_REPLICAS) if not has_devices else []
    device_totals = _whole_numbers(fields, "devices", [], MAX_DEVICES * MAX_REPLICAS) if has_devices else []
    if has_devices and fields.has("replicas"):
        raise fields.error("devices", "give devices (total) or replicas, not both")
    _check_tensor_parallel(fields, tps, device_totals, model)
    if has_devices:
        return tps, {tp: [total // tp for total in device_totals if total % tp == 0] for tp in tps}
    return tps, {tp: replicas for tp in tps}


def _precisions(fields: Fields) -> tuple[list[str], list[str | None]]:
    """Weight dtypes and KV-cache dtypes (None: the KV cache in the weight dtype), all known."""
    dtypes = _texts(fields, "dtype", ["bf16"])
    kv_dtypes = _texts(fields, "kv_dtype", [None], nullable=True)
    for value in dtypes + [k for k in kv_dtypes if k]:
        try:
            deployment.Precision(value)
        except HwsimError as exc:
            raise fields.error("dtype", str(exc)) from None
    return dtypes, kv_dtypes


def _placements(fields: Fields, model: Model) -> list[str]:
    """Placements in the measurement schema's syntax, each one parsed to check it."""
    placements = _texts(fields, "placement", ["device"])
    for text in placements:
        try:
            deployment.check_experts_placement(parse(text), model)
        except HwsimError as exc:
            raise fields.error("placement", str(exc)) from None
    return placements


def _space(fields: Fields, prices: Pricing, model: Model) -> tuple[plan.Candidate, ...]:
    """Every combination of the search space, checked up front: unknown ids, impossible shapes."""
    hardware = _hardware(fields, prices)
    tps, replica_counts = _parallelism(fields, model)
    dtypes, kv_dtypes = _precisions(fields)
    seqs = _whole_numbers(fields, "max_num_seqs", [256], MAX_NUM_SEQS)
    tokens = _whole_numbers(fields, "max_num_batched_tokens", [8192], MAX_BATCHED_TOKENS)
    placements = _placements(fields, model)
    fields.finish()
    size = len(hardware) * len(dtypes) * len(kv_dtypes) * len(seqs) * len(tokens) * len(placements)
    size *= sum(len(replica_counts[tp]) for tp in tps)
    if size > plan.MAX_CANDIDATES:
        raise InputError(fields.source, fields.path, f"the search space has {size:,} candidates; at most "
                                                     f"{plan.MAX_CANDIDATES:,} can be simulated: search fewer values")
    return tuple(
        plan.Candidate(str(hw), tp, count, dt, kv, ns, nt, pl)
        for hw, tp, dt, kv, ns, nt, pl in itertools.product(hardware, tps, dtypes, kv_dtypes, seqs, tokens, placements)
        for count in replica_counts[tp]
    )


def _percentile(fields: Fields) -> int:
    """The SLO percentile: one a plan reports, exactly (99.9 is not 99, and is refused as such)."""
    value = fields.number("percentile", 99, low=1, high=100)
    if value not in PERCENTILES:
        raise fields.error("percentile", f"expected one of {', '.join(map(str, PERCENTILES))}; got {value:g}")
    return int(value)


def _slo(fields: Fields) -> plan.PlanSlo:
    """The `slo` block: at least one target, judged at one of the percentiles a plan reports."""
    slo_fields = fields.section("slo")
    slo = plan.PlanSlo(
        ttft_s=slo_fields.quantity("ttft", "seconds", None),
        tpot_s=slo_fields.quantity("tpot", "seconds", None),
        percentile=_percentile(slo_fields),
        min_output_tokens_per_s=slo_fields.number("min_output_tokens_per_s", None, low=0.0),
    )
    slo_fields.finish()
    if slo.ttft_s is None and slo.tpot_s is None and slo.min_output_tokens_per_s is None:
        raise fields.error("slo", "give at least one of ttft, tpot, min_output_tokens_per_s")
    return slo


def load_plan(path: Path) -> plan.PlanSpec:
    """A plan file: model, workload, SLOs, pricing, engine settings and the search space."""
    fields = load_yaml(path)
    model_name = fields.string("model")
    try:
        model = catalog.model(model_name)
    except HwsimError as exc:
        raise fields.error("model", str(exc)) from None
    workload = workload_field(fields, Path(path))
    slo = _slo(fields)
    pricing_id = fields.string("pricing", DEFAULT_PRICING)
    try:
        prices = pricing_yaml.pricing(pricing_id)
    except HwsimError as exc:
        raise fields.error("pricing", str(exc)) from None
    engine = engine_settings(fields.section("engine", {}))
    candidates = _space(fields.section("search"), prices, model)
    fields.finish()
    return plan.PlanSpec(model, workload, slo, candidates, prices, engine)
