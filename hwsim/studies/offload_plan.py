"""Search offloading policies for the best throughput (FlexGen-style), with the reasons others lose.

A policy is a weight split over device/host (disk takes what host memory cannot hold), a KV
tier, an activation tier, where attention runs, and a batch size. Each feasible policy is
priced by the analytic estimate (prefill, then every decode step over the growing context), all
sequences of the batch processed together so each weight transfer serves the whole batch.
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base import units
from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.perf.estimate import Estimate, estimate
from hwsim.perf.memory import RUNTIME_RESERVE_BYTES
from hwsim.perf.offload import TierStep, tier_needs
from hwsim.specs.deployment import Deployment, OffloadOptions, Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.placement import Placement, tier_capacity_bytes

WEIGHT_STEPS = 10  # device share of weights in tenths
# the device computes a large batch as a block of micro-batches (FlexGen's zig-zag schedule), so
# its working activations are those of one micro-batch while each weight transfer serves the block
MICRO_BATCH = 48
BATCHES = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 144, 192, 256, 384, 512, 768, 1024)


@dataclass(frozen=True)
class Candidate:
    placement: Placement
    batch: int
    result: Estimate

    @property
    def throughput(self) -> float:
        return self.result.output_tokens_per_s

    def why(self) -> str:
        """What sets this policy's pace: the busiest resource of its decode and prefill steps."""
        decode, prefill = self.result.decode_mid, self.result.prefill
        if not isinstance(decode, TierStep) or not isinstance(prefill, TierStep):
            return (f"everything on the device: decode {units.format_seconds(decode.time_s)} per step, "
                    f"batch limited by device memory")
        parts = ", ".join(f"{k} {units.format_seconds(v)}" for k, v in decode.parts_s.items() if v)
        return (f"decode bound by {decode.bound} ({parts} per layer); prefill bound by {prefill.bound}, "
                f"{units.format_seconds(self.result.prefill_s)}")


def _placements(model: Model, system: System, precision: Precision) -> list[Placement]:
    weights = model.weight_bytes(8 * precision.weight_bytes_per_param)
    host_room = tier_capacity_bytes(system, "host") * 0.9
    has_disk = bool(system.storage)
    result = []
    for tenth in range(WEIGHT_STEPS + 1):
        device = tenth / WEIGHT_STEPS
        rest = 1.0 - device
        host = min(rest, host_room / weights) if rest else 0.0
        disk = rest - host
        if disk > 1e-9 and not has_disk:
            continue
        split = tuple((t, round(s, 4)) for t, s in (("device", device), ("host", host), ("disk", disk)) if s > 1e-9)
        total = sum(s for _, s in split)
        split = tuple((t, s / total) for t, s in split)
        for kv in ("device", "host"):
            for act in ("device", "host"):
                attention = ("host", "device") if kv == "host" else ("device",)
                for where in attention:
                    result.append(Placement(weights=split, kv=((kv, 1.0),), act=((act, 1.0),),
                                            attention_compute=where))
    return result


def _fits(model: Model, system: System, precision: Precision, placement: Placement, batch: int,
          context: int, prompt: int) -> bool:
    needs = tier_needs(model, precision, placement, batch, context, max(1, system.accelerator_count))
    # the device also holds the layer being computed and its activations
    layer_bytes = model.weight_bytes(8 * precision.weight_bytes_per_param) / model.num_layers
    micro = min(batch, MICRO_BATCH)
    working = 2 * layer_bytes + micro * prompt * model.hidden_size * precision.act_bytes * 4 + RUNTIME_RESERVE_BYTES
    needs["device"] = needs.get("device", 0.0) + working
    return all(need <= tier_capacity_bytes(system, tier) for tier, need in needs.items())


def search(model: Model, system: System, prompt: int, output: int, precision: Precision = Precision(),
           options: OffloadOptions = OffloadOptions(), batches: tuple[int, ...] = BATCHES) -> list[Candidate]:
    """Every feasible policy's best batch, best first."""
    if system.accelerator is None:
        raise HwsimError(f"offload planning needs an accelerator; {system.id} has none")
    best: list[Candidate] = []
    for placement in _placements(model, system, precision):
        top = None
        for batch in sorted(batches, reverse=True):  # throughput grows with batch until memory runs out
            if not _fits(model, system, precision, placement, batch, prompt + output, prompt):
                continue
            try:
                result = estimate(Deployment(model, system, precision, placement=placement, offload=options),
                                  batch, prompt, output, check_memory=False)
            except DoesNotFitError:
                continue
            candidate = Candidate(placement, batch, result)
            if top is None or candidate.throughput > top.throughput:
                top = candidate
            elif candidate.throughput < 0.5 * top.throughput:
                break
        if top is not None:
            best.append(top)
    if not best:
        raise DoesNotFitError(f"no placement of {model.id} fits {system.id}, even at batch 1")
    return sorted(best, key=lambda c: -c.throughput)
