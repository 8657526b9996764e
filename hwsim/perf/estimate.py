"""Analytic estimate of one batch: prefill, then decode token by token, all sequences in step.

This is the closed form the serving simulator must reproduce for a single static batch.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.perf.energy import step_energy_j
from hwsim.perf.memory import MemoryFit, memory_fit, require_fit
from hwsim.perf.offload import TierStep, check_fit, tier_needs
from hwsim.perf.step import StepCost
from hwsim.perf.step_model import StepModel
from hwsim.specs.deployment import Deployment
from hwsim.specs.hardware import System
from hwsim.specs.shape import StepShape

DECODE_SAMPLES = 9  # decode step time is smooth in context length; sample it, integrate exactly


def device_tdp_w(system: System) -> float:
    """TDP of one device: the accelerator, or all CPU sockets for a CPU-only system."""
    return system.accelerator.tdp_w if system.accelerator else system.cpu.tdp_w * system.sockets



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


def estimate(deployment: Deployment, batch: int, prompt_len: int, output_len: int,
             check_memory: bool = True) -> Estimate:
    """One static batch: prefill of `batch` prompts, then `output_len` tokens decoded in step."""
    model = deployment.model
    for name, value in (("batch", batch), ("prompt", prompt_len), ("output", output_len)):
        if value < 1:
            raise HwsimError(f"{name} must be at least 1; got {value}")
    if prompt_len + output_len > model.max_positions:
        raise HwsimError(f"prompt + output = {prompt_len + output_len} tokens exceeds the "
                         f"{model.max_positions}-token context of {model.id}")
    techniques = deployment.techniques
    if techniques is not None:
        deployment = replace(deployment, precision=techniques.precision(deployment.precision))
        prompt_len = techniques.prompt_tokens(prompt_len)
    fit = memory_fit(model, deployment.system, deployment.precision, batch, prompt_len + output_len,
                     batch * prompt_len)
    needs = _tier_needs(deployment, fit, batch, prompt_len + output_len, check_memory)
    steps = StepModel(deployment)
    prefill = steps.cost(StepShape.prefill(batch, prompt_len))
    decode_total, mid = decode_time_s(steps.cost, batch, prompt_len, output_len)
    tdp_w = device_tdp_w(deployment.system)
    energy = deployment.tp * (step_energy(prefill, tdp_w) + step_energy(mid, tdp_w) / mid.time_s * decode_total)
    return Estimate(batch, prompt_len, output_len, prefill, mid, decode_total, fit, needs, energy)


def _tier_needs(deployment: Deployment, fit: MemoryFit, batch: int, context_tokens: int,
                check: bool) -> dict | None:
    """Bytes per tier for an offloaded placement (None when everything is on the device); with
    `check`, an error when the deployment does not fit."""
    model, system, precision, placement = (deployment.model, deployment.system, deployment.precision,
                                           deployment.placement)
    if placement.on_device:
        if check:
            require_fit(fit, f"{model.id} ({precision.dtype}) with batch {batch} x {context_tokens} "
                             f"tokens on {system.accelerator_count or 1}x {system.device_name}")
        return None
    if check:
        check_fit(model, system, precision, placement, batch, context_tokens)
    return tier_needs(model, precision, placement, batch, context_tokens, deployment.tp)


MAX_BATCH = 1 << 20  # the largest batch the search for a feasible one tries


def largest_batch(deployment: Deployment, prompt_len: int, output_len: int) -> tuple[int, str]:
    """The largest batch of `prompt_len + output_len`-token sequences whose memory fits every tier
    the deployment names, and why one more does not (the error a batch one larger raises)."""

    def fits(batch: int) -> str | None:
        fit = memory_fit(deployment.model, deployment.system, deployment.precision, batch,
                         prompt_len + output_len, batch * prompt_len)
        try:
            _tier_needs(deployment, fit, batch, prompt_len + output_len, check=True)
        except DoesNotFitError as exc:
            return str(exc)
        return None

    reason = fits(1)
    if reason is not None:
        raise DoesNotFitError(f"not even one sequence fits: {reason}")
    low, high = 1, 2
    while high <= MAX_BATCH and fits(high) is None:
        low, high = high, high * 2
    if high > MAX_BATCH:
        return low, f"the search stops at {MAX_BATCH:,} sequences"
    while high - low > 1:  # fits(low), not fits(high)
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) is None else (low, middle)
    return low, fits(high) or ""


def step_energy(step: StepCost | TierStep, tdp_w: float) -> float:
    """One device's energy for a step, from its compute and memory busy times."""
    compute_s, memory_s = step.busy_s()
    return step_energy_j(tdp_w, step.time_s, compute_s, memory_s)


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
    points = list(zip(samples, times, strict=True))
    for (c0, t0), (c1, t1) in zip(points, points[1:], strict=False):
        total += (c1 - c0) * (t0 + t1) / 2 + (t1 - t0) / 2  # steps c0+1..c1 on the line
    return total, mid
