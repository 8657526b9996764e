"""A forward step's time: its operators on the device, plus tensor-parallel collectives."""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base.errors import HwsimError
from hwsim.perf import ops as ops_mod
from hwsim.perf import roofline
from hwsim.specs.deployment import FUSED, ExpertSetup, Implementation, Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.shape import StepShape


@dataclass(frozen=True)
class StepCost:
    time_s: float
    costs: tuple[roofline.OpCost, ...]
    shape: StepShape

    def by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for cost in self.costs:
            totals[cost.op.kind] = totals.get(cost.op.kind, 0.0) + cost.time_s
        return totals

    @property
    def flops(self) -> float:
        return sum(c.op.flops * c.op.repeat for c in self.costs)

    @property
    def bytes(self) -> float:
        return sum(c.op.bytes * c.op.repeat for c in self.costs if c.op.kind != "collective")


def step_cost(
    model: Model,
    system: System,
    shape: StepShape,
    precision: Precision = Precision(),
    launch: str = "graph",
    implementation: Implementation = FUSED,
    layers: int | None = None,
    active_experts: float | None = None,
    experts: ExpertSetup | None = None,
    techniques=None,
) -> StepCost:
    """One forward step on `system`, tensor-parallel over all its accelerators."""
    tp = max(1, system.accelerator_count)
    if tp > 1 and system.accelerator is None:
        raise HwsimError("tensor parallelism needs accelerators; this system has none")
    device = system.compute
    op_list = ops_mod.step_ops(model, shape, precision, implementation, tp, layers, active_experts, experts)
    if techniques is not None:
        op_list = techniques.transform(op_list, shape)
    costs = []
    for op in op_list:
        if op.kind == "collective":
            link = system.accelerator.peer_link or system.accelerator.host_link
            if op.role in ops_mod.ALL_TO_ALL:
                one = roofline.alltoall_s(op.act_bytes / tp, tp, link)  # each device sends its share
            else:
                one = roofline.allreduce_s(op.act_bytes, tp, link)
            costs.append(roofline.OpCost(op, one * op.repeat, 0.0, 0.0, 0.0, "link"))
        else:
            cost = roofline.op_cost(op, device, launch)
            costs.append(techniques.apply(cost) if techniques is not None else cost)
    if launch == "eager":
        time_s = launch_queue_s(costs, layers or model.num_layers)
    else:
        time_s = sum(c.time_s for c in costs)
    return StepCost(time_s, tuple(costs), shape)


def launch_queue_s(costs: list[roofline.OpCost], layers: int) -> float:
    """Wall time of an eager step: the host enqueues ops in layer order, the device runs them.

    host_t advances by each op's dispatch; the device starts an op when both it is enqueued
    and the previous op is done. A synchronizing op makes the host wait for the device.
    Ops repeated per layer are interleaved layer by layer, as the model runs them.
    """
    before = [c for c in costs if c.op.block == "embedding"]
    after = [c for c in costs if c.op.block == "head"]
    per_layer = [c for c in costs if c.op.block not in ("embedding", "head")]
    sequence = before + [c for layer in range(layers) for c in per_layer if layer < c.op.repeat] + after
    host_t = device_t = 0.0
    for cost in sequence:
        host_t += cost.launch_s
        device_t = max(device_t, host_t) + _device_s(cost)
        if cost.syncs:
            host_t = device_t
    return max(host_t, device_t)


def _device_s(cost: roofline.OpCost) -> float:
    """One instance's time on the device: a kernel's, or a collective's share of its total."""
    return cost.gpu_s if cost.op.kind != "collective" else cost.time_s / cost.op.repeat
