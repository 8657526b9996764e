"""placeholder"""
from __future__ import annotations

import itertools
from pathlib import Path

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog, pricing_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.loading.scenario_yaml import engine_settings, workload_field
from hwsim.specs import deployment, plan
from hwsim.specs.models import Model
from hwsim.specs.placement import parse
from hwsim.specs.plan import PERCENTILES
from hwsim.specs.pricing import DEFAULT_PRICING, Pricing


def _space(fields: Fields, prices: Pricing, model: Model) -> tuple[plan.Candidate, ...]:
    """Every combination of the search space, checked up front: unknown ids, impossible shapes."""

    def listed(key: str, default: list) -> list:
        value = fields.raw(key, default)
        values = value if isinstance(value, list) else [value]
        if not values:
            raise fields.error(key, "expected at least one value")
        return values

    hardware = listed("hardware", [])
    for hardware_id in hardware:
        try:
            system = catalog.system(str(hardware_id))
        except HwsimError as exc:
            raise fields.error("hardware", str(exc)) from None
        if system.accelerator is None or system.accelerator.id not in prices.priced():
            raise fields.error("hardware", f"{hardware_id} has no price in pricing {prices.id} "
                                           f"(priced: {', '.join(prices.priced())})")
    tps = [int(v) for v in listed("tensor_parallel", [1])]
    has_devices = fields.has("devices")
    replicas = [int(v) for v in listed("replicas", [1])] if not has_devices else []
    devices = [int(v) for v in listed("devices", [])] if has_devices else []
    if has_devices and fields.has("replicas"):
        raise fields.error("devices", "give devices (total) or replicas, not both")
    for tp in tps:
        if tp < 1 or model.num_heads % tp:
            raise fields.error("tensor_parallel", f"{tp} does not divide the {model.num_heads} heads of {model.id}")
        for total in devices:
            if tp > total:
                raise fields.error("tensor_parallel", f"{tp} is larger than devices {total}")
    dtypes = [str(v) for v in listed("dtype", ["bf16"])]
    kv_dtypes = [None if v in (None, "null", "") else str(v) for v in listed("kv_dtype", [None])]
    for value in dtypes + [k for k in kv_dtypes if k]:
        try:
            deployment.Precision(value)
        except HwsimError as exc:
            raise fields.error("dtype", str(exc)) from None
    seqs = [int(v) for v in listed("max_num_seqs", [256])]
    tokens = [int(v) for v in listed("max_num_batched_tokens", [8192])]
    placements = [str(v) for v in listed("placement", ["device"])]
    for text in placements:
        try:
            parse(text)
        except HwsimError as exc:
            raise fields.error("placement", str(exc)) from None
    fields.finish()
    result = []
    for hw, tp, dt, kv, ns, nt, pl in itertools.product(hardware, tps, dtypes, kv_dtypes, seqs, tokens, placements):
        counts = [total // tp for total in devices if total % tp == 0] if has_devices else replicas
        for count in counts:
            result.append(plan.Candidate(str(hw), tp, count, dt, kv, ns, nt, pl))
    return tuple(result)


def load_plan(path: Path) -> plan.PlanSpec:
    fields = load_yaml(path)
    try:
        model = catalog.model(fields.string("model"))
    except HwsimError as exc:
        raise fields.error("model", str(exc)) from None
    workload = workload_field(fields, Path(path))
    slo_fields = fields.section("slo")
    slo = plan.PlanSlo(
        ttft_s=slo_fields.quantity("ttft", "seconds", None),
        tpot_s=slo_fields.quantity("tpot", "seconds", None),
        percentile=int(slo_fields.number("percentile", 99, low=1, high=100)),
        min_output_tokens_per_s=slo_fields.number("min_output_tokens_per_s", None, low=0.0),
    )
    if int(slo.percentile) not in PERCENTILES:
        raise slo_fields.error("percentile", f"expected one of {', '.join(map(str, PERCENTILES))}; got {slo.percentile}")
    slo_fields.finish()
    if slo.ttft_s is None and slo.tpot_s is None and slo.min_output_tokens_per_s is None:
        raise fields.error("slo", "give at least one of ttft, tpot, min_output_tokens_per_s")
    pricing_id = fields.string("pricing", DEFAULT_PRICING)
    try:
        prices = pricing_yaml.pricing(pricing_id)
    except HwsimError as exc:
        raise fields.error("pricing", str(exc)) from None
    engine = engine_settings(fields.section("engine", {}))
    candidates = _space(fields.section("search"), prices, model)
    fields.finish()
    return plan.PlanSpec(model, workload, slo, candidates, prices, engine)
