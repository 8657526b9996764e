"""Every step's time, in one place: `StepModel` prices a step of a `Deployment`.

A step is its operators on the device (tensor-parallel shards with their collectives, expert
parallelism, attention data parallelism), run in CUDA-graph or eager launch; when data lives
outside the accelerator, the tier model (`offload.tier_step`) prices each layer's resources; with
speculative decoding a decode step is the draft steps plus one verification per yielded token.
`estimate`, the serving engine, the planners, `validate` and the report all ask a `StepModel`.
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base.errors import HwsimError
from hwsim.perf import ops as ops_mod
from hwsim.perf import roofline
from hwsim.perf.techniques import apply_to_cost, transform_ops
from hwsim.specs.deployment import Deployment
from hwsim.specs.hardware import System
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

    def busy_s(self) -> tuple[float, float]:
        """(compute, memory) busy time of one device over the step, for the power model."""
        kernels = [c for c in self.costs if c.op.kind != "collective"]
        return (sum(c.compute_s * c.op.repeat for c in kernels), sum(c.memory_s * c.op.repeat for c in kernels))

    @property
    def flops(self) -> float:
        return sum(c.op.flops * c.op.repeat for c in self.costs)

    @property
    def bytes(self) -> float:
        return sum(c.op.bytes * c.op.repeat for c in self.costs if c.op.kind != "collective")


def operator_step(deployment: Deployment, shape: StepShape, layers: int | None = None,
                  active_experts: float | None = None) -> StepCost:
    """One forward step on the deployment's device(s), tensor-parallel over all its accelerators:
    every operator priced on the roofline, collectives on the peer link, launch as configured."""
    d = deployment
    tp = d.tp
    op_list = ops_mod.step_ops(d.model, shape, d.precision, d.implementation, tp, layers, active_experts, d.experts)
    if d.techniques is not None:
        op_list = transform_ops(d.techniques, op_list, shape)
    costs = [price_op(op, d) for op in op_list]
    if d.launch == "eager":
        time_s = launch_queue_s(costs, layers or d.model.num_layers)
    else:
        time_s = sum(c.time_s for c in costs)
    return StepCost(time_s, tuple(costs), shape)


def price_op(op: ops_mod.Op, deployment: Deployment) -> roofline.OpCost:
    """One operator of a step on the deployment: a collective on the peer link, a kernel on the device."""
    if op.kind == "collective":
        return _collective_cost(op, deployment.system, deployment.tp)
    return _kernel_cost(op, deployment)


def _kernel_cost(op: ops_mod.Op, deployment: Deployment) -> roofline.OpCost:
    cost = roofline.op_cost(op, deployment.system.compute, deployment.launch)
    if deployment.techniques is None:
        return cost
    return apply_to_cost(deployment.techniques, cost, deployment.system.compute, deployment.precision.dtype)


def _collective_cost(op: ops_mod.Op, system: System, tp: int) -> roofline.OpCost:
    accelerator = system.accelerator
    assert accelerator is not None  # collectives exist only with tensor parallelism over accelerators
    link = accelerator.peer_link or accelerator.host_link
    if link is None:
        raise HwsimError(f"{accelerator.name} has no link to other devices for tensor parallelism")
    if op.role in ops_mod.ALL_TO_ALL:
        one = roofline.alltoall_s(op.act_bytes / tp, tp, link)  # each device sends its share
    else:
        one = roofline.allreduce_s(op.act_bytes, tp, link)
    return roofline.OpCost(op, one * op.repeat, 0.0, 0.0, 0.0, "link")


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
