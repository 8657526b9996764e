"""Analytic estimate of one batch: prefill, then decode token by token, all sequences in step.

This is the closed form the serving simulator must reproduce for a single static batch.
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.energy import step_energy_j
from hwsim.perf.memory import MemoryFit, memory_fit, require_fit
from hwsim.perf.offload import TierStep, check_fit, offload_step, tier_needs
from hwsim.perf.step import StepCost, step_cost
from hwsim.perf.techniques import Techniques
from hwsim.specs.deployment import (
    FUSED,
    ExpertSetup,
    Implementation,
    OffloadOptions,
    Precision,
)
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.placement import Placement
from hwsim.specs.shape import StepShape


def device_tdp_w(system: System) -> float:
    """TDP of one device: the accelerator, or all CPU sockets for a CPU-only system."""
    return system.accelerator.tdp_w if system.accelerator else system.cpu.tdp_w * system.sockets

DECODE_SAMPLES = 9  # decode step time is smooth in context length; sample it, integrate exactly


@dataclass(frozen=True)
class Estimate:
    batch: int
    prompt_len: int
    output_len: int
    prefill: StepCost | TierStep  # TierStep when data lives outside the accelerator
    decode_mid: StepCost | TierStep  # a representative decode step, at the middle of generation
    decode_total_s: float  # all decode steps after the first token
    memory: MemoryFit
    tier_needs: dict | None = None  # bytes per tier, for an offloaded placement
    energy_j: float = 0.0  # all devices, prefill and every decode step

    @property
    def mean_power_w(self) -> float:
        return self.energy_j / self.end_to_end_s

    @property
    def output_tokens_per_j(self) -> float:
        return self.batch * self.output_len / self.energy_j if self.energy_j else 0.0

    @property
    def prefill_s(self) -> float:
        return self.prefill.time_s

    @property
    def time_per_output_token_s(self) -> float:
        steps = self.output_len - 1
        return self.decode_total_s / steps if steps else self.decode_mid.time_s

    @property
    def end_to_end_s(self) -> float:
        return self.prefill_s + self.decode_total_s

    @property
    def output_tokens_per_s(self) -> float:
        return self.batch * self.output_len / self.end_to_end_s

    @property
    def prefill_tokens_per_s(self) -> float:
        return self.batch * self.prompt_len / self.prefill_s


def estimate(
    model: Model,
    system: System,
    batch: int,
    prompt_len: int,
    output_len: int,
    precision: Precision = Precision(),
    launch: str = "graph",
    implementation: Implementation = FUSED,
    check_memory: bool = True,
    placement: Placement = Placement(),
    offload: OffloadOptions = OffloadOptions(),
    experts: ExpertSetup | None = None,
    techniques: Techniques | None = None,
) -> Estimate:
    for name, value in (("batch", batch), ("prompt", prompt_len), ("output", output_len)):
        if value < 1:
            raise HwsimError(f"{name} must be at least 1; got {value}")
    if prompt_len + output_len > model.max_positions:
        raise HwsimError(f"prompt + output = {prompt_len + output_len} tokens exceeds the "
                         f"{model.max_positions}-token context of {model.id}")
    if techniques is not None:
        precision = techniques.precision(precision)
        prompt_len = techniques.prompt_tokens(prompt_len)
    fit = memory_fit(model, system, precision, batch, prompt_len + output_len, batch * prompt_len)
    needs = None
    if not placement.on_device:
        needs = tier_needs(model, precision, placement, batch, prompt_len + output_len,
                           max(1, system.accelerator_count))
        if check_memory:
            check_fit(model, system, precision, placement, batch, prompt_len + output_len)

        def step(shape: StepShape):
            return offload_step(model, system, shape, precision, placement, offload, launch, implementation,
                                experts=experts, techniques=techniques)
    else:
        if check_memory:
            require_fit(fit, f"{model.id} ({precision.dtype}) with batch {batch} x {prompt_len + output_len} "
                             f"tokens on {system.accelerator_count or 1}x {system.device_name}")

        def step(shape: StepShape):
            spec = techniques.speculative if techniques else None
            if spec and shape.is_decode_only:
                from hwsim.perf.techniques import speculative_step

                verify = StepShape(spec.verify_groups(shape.groups))
                return speculative_step(
                    step_cost(model, system, verify, precision, launch, implementation, experts=experts,
                              techniques=techniques),
                    step_cost(catalog.model(spec.draft_model), system, shape, precision, launch, implementation),
                    spec)
            return step_cost(model, system, shape, precision, launch, implementation, experts=experts,
                             techniques=techniques)

    prefill = step(StepShape.prefill(batch, prompt_len))
    decode_total, mid = decode_time_s(step, batch, prompt_len, output_len)
    tdp_w = device_tdp_w(system)
    devices = max(1, system.accelerator_count)
    energy = devices * (step_energy(prefill, tdp_w) + step_energy(mid, tdp_w) / mid.time_s * decode_total)
    return Estimate(batch, prompt_len, output_len, prefill, mid, decode_total, fit, needs, energy)


def step_energy(step, tdp_w: float) -> float:
    """One device's energy for a step, from its compute and memory busy times."""
    if isinstance(step, TierStep):
        busy = step.parts_s["device"] * (step.time_s / step.layer_s if step.layer_s else 0.0)
        return step_energy_j(tdp_w, step.time_s, busy, busy)
    costs = [c for c in step.costs if c.op.kind != "collective"]
    compute = sum(c.compute_s * c.op.repeat for c in costs)
    memory = sum(c.memory_s * c.op.repeat for c in costs)
    return step_energy_j(tdp_w, step.time_s, compute, memory)


def decode_time_s(step, batch: int, prompt_len: int, output_len: int) -> tuple[float, StepCost]:
    """Sum of the decode steps that produce tokens 2..output_len (context prompt..prompt+output-2).

    Step time is piecewise smooth in the context length, so a few samples joined by straight
    lines integrate it closely; each sample is a full operator-level step.
    """
    first, last = prompt_len, prompt_len + output_len - 2
    mid = step(StepShape.decode(batch, (first + max(first, last)) // 2))
    if last < first:
        return 0.0, mid
    samples = sorted({round(first + (last - first) * i / (DECODE_SAMPLES - 1)) for i in range(DECODE_SAMPLES)})
    times = [step(StepShape.decode(batch, ctx)).time_s for ctx in samples]
    total = times[0]
    for (c0, t0), (c1, t1) in zip(zip(samples, times), zip(samples[1:], times[1:])):
        total += (c1 - c0) * (t0 + t1) / 2 + (t1 - t0) / 2  # steps c0+1..c1 on the line
    return total, mid
