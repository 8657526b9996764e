"""Which experts stay on the accelerator: a residency and device-assignment optimizer for MoE models.

Given the device memory left after the dense weights, the KV cache and activations, and the
routing statistics, it keeps the most popular experts resident (the same number in every MoE
layer) and streams the rest from host memory on a miss, and it assigns experts to devices for
expert parallelism so the busiest device carries as little as possible. Each choice is priced by
the estimate and set against naive ones: the first experts by index, a recency or frequency
cache of the same size, nothing resident; round-robin device assignment.
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base import units
from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.perf import moe
from hwsim.perf.estimate import estimate
from hwsim.perf.memory import memory_fit
from hwsim.specs.deployment import Deployment, ExpertSetup, OffloadOptions, Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model, Moe
from hwsim.specs.placement import parse
from hwsim.specs.routing import Routing


@dataclass(frozen=True)
class ResidencyOption:
    name: str
    resident: int  # experts per layer on the device
    hit_rate: float  # at the decode batch
    time_per_output_token_s: float
    output_tokens_per_s: float


@dataclass(frozen=True)
class ExpertPlan:
    budget_bytes: float
    expert_bytes: float  # one expert, one layer
    resident: int
    options: list[ResidencyOption]
    assignment: dict | None  # expert parallelism: busiest-device rows, balanced vs round robin


def expert_bytes(model: Model, precision: Precision) -> float:
    matrices = 3 if model.gated_mlp else 2
    return matrices * model.hidden_size * _moe(model).expert_intermediate_size * precision.weight_bytes_per_param


def device_budget_bytes(model: Model, system: System, precision: Precision, batch: int, context: int,
                        utilization: float = 0.9) -> float:
    """Device memory left for routed experts after everything else the deployment keeps there."""
    fit = memory_fit(model, system, precision, batch, context, batch * context)
    routed = expert_bytes(model, precision) * _moe(model).experts * model.moe_layers / max(1, system.accelerator_count)
    others = fit.weights_bytes - routed + fit.kv_cache_bytes + fit.activation_bytes + fit.reserve_bytes
    return system.compute.memory_bytes * utilization - others


def _given_budget(budget_bytes: float, system: System) -> float:
    """A budget for resident experts must be positive and no larger than one device's memory."""
    capacity = system.compute.memory_bytes
    if not 0 < budget_bytes <= capacity:
        raise HwsimError(f"budget: {units.format_bytes(budget_bytes)} for resident experts; expected more than 0 "
                         f"and at most one device's {units.format_bytes(capacity)}")
    return budget_bytes


def plan(model: Model, system: System, routing: Routing, precision: Precision, batch: int, prompt: int,
         output: int, budget_bytes: float | None = None, resident: int | None = None) -> ExpertPlan:
    if model.moe is None:
        raise HwsimError(f"{model.id} has no experts to place")
    per_expert = expert_bytes(model, precision)
    per_layer_set = per_expert * model.moe_layers / max(1, system.accelerator_count)  # one expert, every layer
    budget = device_budget_bytes(model, system, precision, batch, prompt + output) if budget_bytes is None \
        else _given_budget(budget_bytes, system)
    if budget < 0:
        raise DoesNotFitError(f"{model.id} leaves no device memory for experts on {system.id}: "
                              f"{units.format_bytes(-budget)} short before any expert")
    fits = min(_moe(model).experts, int(budget // per_layer_set))
    if resident is not None:
        if resident > _moe(model).experts:
            raise HwsimError(f"resident: {resident} experts per layer, but {model.id} has {_moe(model).experts}")
        if resident * per_layer_set > budget:
            raise DoesNotFitError(f"resident: {resident} experts per layer need "
                                  f"{units.format_bytes(resident * per_layer_set)} on each device; "
                                  f"{units.format_bytes(budget)} is free")
        fits = resident
    options = []
    share = fits / _moe(model).experts
    placement = parse("experts=device") if fits == _moe(model).experts else (
        parse(f"experts=device:{share:.6f},host:{1 - share:.6f}") if fits else parse("experts=host"))
    candidates = [
        (f"{fits} most popular resident", ExpertSetup(routing=routing, resident=moe.most_popular(routing, fits)),
         "static"),
        (f"LRU cache of {fits}", ExpertSetup(routing=routing), "lru"),
        (f"LFU cache of {fits}", ExpertSetup(routing=routing), "lfu"),
        (f"first {fits} by index", ExpertSetup(routing=routing, resident=tuple(range(fits))), "static"),
        ("none resident", ExpertSetup(routing=routing, resident=()), "static"),
    ]
    for name, setup, cache in candidates:
        where = parse("experts=host") if name == "none resident" else placement
        options_ = OffloadOptions(expert_cache=cache)
        deployment = Deployment(model, system, precision, placement=where, offload=options_, experts=setup)
        result = estimate(deployment, batch, prompt, output, check_memory=False)
        hit = _hit(routing, setup, cache, fits if name != "none resident" else 0, batch)
        options.append(ResidencyOption(name, fits if name != "none resident" else 0, hit,
                                       result.time_per_output_token_s, result.output_tokens_per_s))
    assignment = None
    devices = max(1, system.accelerator_count)
    if devices > 1:
        rr = moe.busiest_device(routing, batch, moe.round_robin(_moe(model).experts, devices))
        bal = moe.busiest_device(routing, batch, moe.balanced(routing, devices))
        assignment = {"round_robin_rows": rr[0], "balanced_rows": bal[0],
                      "mean_rows": batch * _moe(model).top_k / devices,
                      "balanced_owner": moe.balanced(routing, devices)}
    return ExpertPlan(budget, per_expert, fits, options, assignment)


def _hit(routing: Routing, setup: ExpertSetup, cache: str, capacity: int, tokens: int) -> float:
    if setup.resident is not None:
        return moe.set_hit_rate(routing, setup.resident, tokens)
    return moe.cache_hit_rate(routing, cache, capacity, tokens)


def _moe(model: Model) -> Moe:
    """The model's mixture-of-experts shape; expert planning needs one."""
    if model.moe is None:
        raise HwsimError(f"{model.id} has no experts to place")
    return model.moe
