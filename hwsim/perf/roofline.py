"""Time of one operator on one device: a roofline with achievable rates and fixed costs.

    busy  = (compute^p + memory^p)^(1/p)      compute = FLOPs / (peak x efficiency)
                                               memory  = bytes / (bandwidth x efficiency)
    gpu   = kernels x kernel_overhead + busy
    host  = kernels x dispatch                 eager mode only: the framework's work per op

In eager mode the host enqueues kernels asynchronously, so a run of identical ops takes
max(host, gpu) each; a call that synchronizes (PyTorch's prefill attention call returns only
after its kernel, as measured on H200) takes host + gpu. `step.py` runs the launch queue over a
whole step, where cheap ops let the device catch up on expensive ones.

The p-norm joins the two bounds smoothly: far from the ridge it is the larger one, near the
ridge both pipelines are partly exposed (a skinny GEMM is neither purely memory- nor purely
compute-bound). p comes from the device profile (`roofline_sharpness`); p -> infinity is the
textbook max(). `graph` launch replays kernels with no host work per kernel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim.base.errors import HwsimError
from hwsim.perf.ops import Op
from hwsim.specs.hardware import ComputeSpec, Link, Performance

LAUNCH_MODES = ("graph", "eager")


@dataclass(frozen=True)
class OpCost:
    op: Op
    time_s: float  # all `repeat` instances
    compute_s: float  # one instance, at the achievable rate
    memory_s: float  # one instance, at the achievable bandwidth
    launch_s: float  # one instance: host dispatch in eager mode, else 0
    bound: str  # compute | memory | launch | link
    gpu_s: float = 0.0  # one instance on the device, fixed costs included
    syncs: bool = False  # the host waits for this op's kernel before going on

    @property
    def roofline_s(self) -> float:
        """One instance at the achievable rates, no fixed costs: the op's roofline bound."""
        return max(self.compute_s, self.memory_s)


def smooth_max(a: float, b: float, p: float) -> float:
    hi = a if a >= b else b  # max(a, b), without the call: the engine asks for this at every step
    if a <= 0 or b <= 0:
        return hi
    return hi * ((a / hi) ** p + (b / hi) ** p) ** (1.0 / p)


def op_cost(op: Op, device: ComputeSpec, launch: str = "graph") -> OpCost:
    if launch not in LAUNCH_MODES:
        raise HwsimError(f"unknown launch mode {launch!r}; expected one of {', '.join(LAUNCH_MODES)}")
    perf = device.performance
    if op.kind == "gemm" and op.weight_format:
        compute_s, memory_s, sharpness, overhead_s = _kernel_gemm(op, device)
        return _timed(op, perf, launch, compute_s, memory_s, smooth_max(compute_s, memory_s, sharpness), overhead_s)
    compute_s = 0.0
    if op.flops:
        peak = device.peak(op.dtype)
        if not peak:
            raise HwsimError(f"the device has no {op.dtype} compute rate (op {op.name})")
        if op.kind == "attention":
            efficiency = perf.attention_efficiency
        else:
            efficiency = perf.gemm_efficiency.get(op.dtype, perf.gemm_efficiency.get("bf16", 0.75))
        compute_s = op.flops / (peak * efficiency)
    memory_efficiency = {
        "gemm": perf.gemm_memory_efficiency,
        "attention": perf.memory_efficiency,
    }.get(op.kind, perf.elementwise_efficiency)
    memory_s = op.bytes / (device.memory_bandwidth_bytes_per_s * memory_efficiency)
    busy_s = smooth_max(compute_s, memory_s, perf.roofline_sharpness)
    return _timed(op, perf, launch, compute_s, memory_s, busy_s, perf.kernel_overhead_s)


def _timed(op: Op, perf: Performance, launch: str, compute_s: float, memory_s: float, busy_s: float,
           overhead_s: float) -> OpCost:
    """The op's cost from its busy time: fixed cost per kernel, then the host's dispatch in eager mode."""
    gpu_s = op.kernels * overhead_s + busy_s
    launch_s, syncs = 0.0, False
    if launch == "eager":
        launch_s, syncs = _dispatch(op, perf)
    time_s = launch_s + gpu_s if syncs else max(gpu_s, launch_s)
    if launch_s >= gpu_s:
        bound = "launch"
    else:
        bound = "compute" if compute_s >= memory_s else "memory"
    return OpCost(op, time_s * op.repeat, compute_s, memory_s, launch_s, bound, gpu_s, syncs)


def _kernel_gemm(op: Op, device: ComputeSpec) -> tuple[float, float, float, float]:
    """Compute time, memory time, roofline sharpness and fixed cost of a GEMM over quantized weights,
    from the kernel that runs its weight format on `device` (`hwsim.specs.kernels.GemmKernel`)."""
    kernel = device.kernel(op.weight_format or "")
    perf = device.performance
    rows = op.m / op.experts if op.experts else op.m  # activation rows per weight matrix
    efficiency = (kernel.compute_efficiency.at(rows) if kernel.compute_efficiency is not None
                  else perf.gemm_efficiency.get(kernel.compute_dtype, perf.gemm_efficiency.get("bf16", 0.75)))
    compute_s = op.flops / (device.kernel_peak(kernel, kernel.compute_dtype) * efficiency)
    if kernel.dequant_ops_per_weight:
        unpacked = kernel.dequant_passes(rows) * op.experts * op.n * op.k * kernel.dequant_ops_per_weight
        compute_s += unpacked / device.kernel_peak(kernel, kernel.dequant_dtype)
    streamed = (kernel.memory_efficiency.at(rows) if kernel.memory_efficiency is not None
                else perf.gemm_memory_efficiency)
    staged_bytes = op.experts * op.n * op.k * kernel.staging_bytes_per_weight
    memory_s = (op.bytes + staged_bytes) / (device.memory_bandwidth_bytes_per_s * streamed)
    sharpness = kernel.roofline_sharpness or perf.roofline_sharpness
    overhead_s = perf.kernel_overhead_s if kernel.call_overhead_s is None else kernel.call_overhead_s
    return compute_s, memory_s, sharpness, overhead_s


def _dispatch(op: Op, perf) -> tuple[float, bool]:
    """Host time of one eager op, and whether the call waits for its kernel."""
    if op.kind == "attention" and op.causal:
        return op.kernels * perf.eager_prefill_attention_dispatch_s, True
    if op.kind == "attention":
        return op.kernels * perf.eager_attention_dispatch_s, False
    return op.kernels * perf.eager_dispatch_s, False


def transfer_s(bytes_moved: float, link: Link, chunk_bytes: float | None = None, pageable: bool = False,
               issue_s: float = 0.0) -> float:
    """Time to move `bytes_moved` over `link`, optionally as many separate copies of `chunk_bytes`.

    One copy costs the link latency plus bytes at the achieved bandwidth. Many small copies
    each pay that latency and a host issue cost (`issue_s`, the framework's per-copy work), the
    two overlapping like the stages of a pipeline; this is why swapping KV blocks one by one is
    far slower than one large copy.
    """
    if bytes_moved <= 0:
        return 0.0
    bandwidth, latency_s = link.achieved_bytes_per_s, link.latency_s
    if pageable:  # staged through a pinned buffer by the driver
        if not link.pageable_bandwidth_bytes_per_s:
            raise HwsimError(f"link {link.id} has no pageable_bandwidth in its profile: copies from pageable "
                             f"host memory over it cannot be priced; pin the host buffers or add the figure")
        bandwidth, latency_s = link.pageable_bandwidth_bytes_per_s, latency_s + link.pageable_latency_s
    if not chunk_bytes or chunk_bytes >= bytes_moved:
        return latency_s + bytes_moved / bandwidth
    copies = bytes_moved / chunk_bytes
    one_copy_s = latency_s + chunk_bytes / bandwidth
    return copies * smooth_max(one_copy_s, issue_s, 2.0)


def device_copy_s(bytes_copied: float, device: ComputeSpec) -> float:
    """A device-to-device copy: read and write every byte; from L2 when both fit in it."""
    perf = device.performance
    moved = 2.0 * bytes_copied
    if perf.l2_bandwidth_bytes_per_s and moved <= device.cache_bytes:
        bandwidth = perf.l2_bandwidth_bytes_per_s
    else:
        bandwidth = device.memory_bandwidth_bytes_per_s * perf.copy_efficiency
    return perf.copy_latency_s + moved / bandwidth


def allreduce_s(bytes_reduced: float, devices: int, link: Link) -> float:
    """All-reduce as NCCL runs it: bandwidth-optimal for large messages (2(n-1)/n of the data crosses
    each link, as in a ring), latency-optimal for small ones (a tree: 2 log2(n) hops)."""
    if devices <= 1:
        return 0.0
    hops = 2 * math.ceil(math.log2(devices))
    return hops * link.latency_s + 2 * (devices - 1) / devices * bytes_reduced / link.achieved_bytes_per_s


def alltoall_s(bytes_sent: float, devices: int, link: Link) -> float:
    """All-to-all: each device keeps 1/n of its data and sends the rest, (n-1) peers at a time."""
    if devices <= 1:
        return 0.0
    return (devices - 1) * link.latency_s + bytes_sent * (devices - 1) / devices / link.achieved_bytes_per_s
