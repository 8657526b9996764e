"""Reading capacity-plan YAML: a model, a workload, SLOs, a pricing, and the space of deployments to search.

Every value of the search space is checked as the plan is read (ids known, tensor parallelism
dividing the heads, dtypes and placements valid), so a typo fails at once with the field named
instead of after an hour of simulating the candidates before it.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog, pricing_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.loading.scenario_yaml import engine_settings, workload_field
from hwsim.specs import deployment, plan
from hwsim.specs.models import Model
from hwsim.specs.placement import parse
from hwsim.specs.plan import PERCENTILES
from hwsim.specs.pricing import DEFAULT_PRICING, Pricing


def _listed(fields: Fields, key: str, default: list[Any]) -> list[Any]:
    """A search dimension: a list of values, or one value standing for a list of one."""
    value = fields.raw(key, default)
    values = value if isinstance(value, list) else [value]
    if not values:
        raise fields.error(key, "expected at least one value")
    return values


def _hardware(fields: Fields, prices: Pricing) -> list[Any]:
    """Hardware ids to try, each known and priced (an unpriced candidate could never be ranked)."""
    hardware = _listed(fields, "hardware", [])
    for hardware_id in hardware:
        try:
            system = catalog.system(str(hardware_id))
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
    tps = [int(v) for v in _listed(fields, "tensor_parallel", [1])]
    has_devices = fields.has("devices")
    replicas = [int(v) for v in _listed(fields, "replicas", [1])] if not has_devices else []
    device_totals = [int(v) for v in _listed(fields, "devices", [])] if has_devices else []
    if has_devices and fields.has("replicas"):
        raise fields.error("devices", "give devices (total) or replicas, not both")
    _check_tensor_parallel(fields, tps, device_totals, model)
    if has_devices:
        return tps, {tp: [total // tp for total in device_totals if total % tp == 0] for tp in tps}
    return tps, {tp: replicas for tp in tps}


def _precisions(fields: Fields) -> tuple[list[str], list[str | None]]:
    """Weight dtypes and KV-cache dtypes (None: the KV cache in the weight dtype), all known."""
    dtypes = [str(v) for v in _listed(fields, "dtype", ["bf16"])]
    kv_dtypes = [None if v in (None, "null", "") else str(v) for v in _listed(fields, "kv_dtype", [None])]
    for value in dtypes + [k for k in kv_dtypes if k]:
        try:
            deployment.Precision(value)
        except HwsimError as exc:
            raise fields.error("dtype", str(exc)) from None
    return dtypes, kv_dtypes


def _placements(fields: Fields) -> list[str]:
    """Placements in the measurement schema's syntax, each one parsed to check it."""
    placements = [str(v) for v in _listed(fields, "placement", ["device"])]
    for text in placements:
        try:
            parse(text)
        except HwsimError as exc:
            raise fields.error("placement", str(exc)) from None
    return placements


def _space(fields: Fields, prices: Pricing, model: Model) -> tuple[plan.Candidate, ...]:
    """Every combination of the search space, checked up front: unknown ids, impossible shapes."""
    hardware = _hardware(fields, prices)
    tps, replica_counts = _parallelism(fields, model)
    dtypes, kv_dtypes = _precisions(fields)
    seqs = [int(v) for v in _listed(fields, "max_num_seqs", [256])]
    tokens = [int(v) for v in _listed(fields, "max_num_batched_tokens", [8192])]
    placements = _placements(fields)
    fields.finish()
    return tuple(
        plan.Candidate(str(hw), tp, count, dt, kv, ns, nt, pl)
        for hw, tp, dt, kv, ns, nt, pl in itertools.product(hardware, tps, dtypes, kv_dtypes, seqs, tokens, placements)
        for count in replica_counts[tp]
    )


def _slo(fields: Fields) -> plan.PlanSlo:
    """The `slo` block: at least one target, judged at one of the percentiles a plan reports."""
    slo_fields = fields.section("slo")
    slo = plan.PlanSlo(
        ttft_s=slo_fields.quantity("ttft", "seconds", None),
        tpot_s=slo_fields.quantity("tpot", "seconds", None),
        percentile=int(slo_fields.number("percentile", 99, low=1, high=100)),
        min_output_tokens_per_s=slo_fields.number("min_output_tokens_per_s", None, low=0.0),
    )
    if int(slo.percentile) not in PERCENTILES:
        raise slo_fields.error("percentile",
                               f"expected one of {', '.join(map(str, PERCENTILES))}; got {slo.percentile}")
    slo_fields.finish()
    if slo.ttft_s is None and slo.tpot_s is None and slo.min_output_tokens_per_s is None:
        raise fields.error("slo", "give at least one of ttft, tpot, min_output_tokens_per_s")
    return slo


def load_plan(path: Path) -> plan.PlanSpec:
    """A plan file: model, workload, SLOs, pricing, engine settings and the search space."""
    fields = load_yaml(path)
    try:
        model = catalog.model(fields.string("model"))
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
