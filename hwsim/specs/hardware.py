"""Hardware profiles: accelerators, CPUs, storage, links, and the systems that compose them.

Every profile is a frozen dataclass of SI floats. Datasheet figures come from YAML with a
`sources` mapping (field path -> citation); the loader records which figures have no source
so the shipped profiles can be held to "every figure cites where it came from".

The `performance` block holds the achievable fractions and fixed costs the roofline needs.
They are calibration, not datasheet: defaults below, per-device values in the profiles, and
`hwsim calibrate` overlays on top.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4")
MAX_SOCKETS = 64  # CPU sockets of one host
MAX_DRIVES = 1024  # drives of one kind in one system

# Fallback roofline parameters for a device whose profile says nothing; each profile may
# override any of them. Values are typical of datacenter GPUs measured with PyTorch.
DEFAULT_PERFORMANCE = {
    "gemm_efficiency": 0.75,  # large GEMM achieved / dense peak (all dtypes unless given)
    "attention_efficiency": 0.6,  # fused attention achieved / bf16 peak
    "memory_efficiency": 0.92,  # long streaming reads achieved / datasheet bandwidth
    "gemm_memory_efficiency": 0.85,  # weight streaming by a GEMV/skinny GEMM
    "copy_efficiency": 0.88,  # device-to-device copies (read + write)
    "elementwise_efficiency": 0.6,  # framework elementwise/reduction kernels (casts, broadcasts)
    "kernel_overhead_s": 3e-6,  # GPU-side cost of one kernel: launch, ramp-up, tail
    "copy_latency_s": 5e-6,  # fixed cost of one device-to-device copy
    "roofline_sharpness": 3.0,  # p of the p-norm that joins compute and memory time
    "eager_dispatch_s": 20e-6,  # host cost of one framework op in eager mode
    "eager_attention_dispatch_s": 40e-6,  # decode attention call
    "eager_prefill_attention_dispatch_s": 55e-6,  # causal attention call, which waits for its kernel
    "eager_copy_dispatch_s": 9e-6,  # host cost of issuing one copy of many
}


@dataclass(frozen=True)
class Performance:
    """Achievable fractions of the datasheet peaks and the fixed costs per kernel, copy and dispatch."""

    gemm_efficiency: dict[str, float]
    attention_efficiency: float
    memory_efficiency: float
    gemm_memory_efficiency: float
    copy_efficiency: float
    elementwise_efficiency: float
    kernel_overhead_s: float
    copy_latency_s: float
    roofline_sharpness: float
    eager_dispatch_s: float
    eager_attention_dispatch_s: float
    eager_prefill_attention_dispatch_s: float
    eager_copy_dispatch_s: float
    l2_bandwidth_bytes_per_s: float | None = None


@dataclass(frozen=True)
class Link:
    """An interconnect (PCIe, NVLink, a network) by its per-direction bandwidth and latency."""

    id: str
    name: str
    bandwidth_bytes_per_s: float  # per direction, theoretical
    efficiency: float  # achieved / theoretical for large pinned transfers
    latency_s: float  # fixed cost of one transfer
    pageable_bandwidth_bytes_per_s: float | None
    full_duplex: bool
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    missing_sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def achieved_bytes_per_s(self) -> float:
        return self.bandwidth_bytes_per_s * self.efficiency


@dataclass(frozen=True)
class ComputeSpec:
    """What the roofline needs of anything that computes: a GPU, a CPU socket, a CSD's FPGA."""

    peak_flops_per_s: dict[str, float]
    memory_bytes: float
    memory_bandwidth_bytes_per_s: float
    cache_bytes: float
    units: int  # SMs, CUs or cores: the parallel units work is spread over
    performance: Performance
    # what a 16-bit float type the processor has no rate for runs as: "fp32" on a CPU, which converts
    # it and computes in fp32 (F16C/AVX-512 conversions, as llama.cpp and PyTorch do); "half" on a
    # programmable engine whose 16-bit datapath takes either type; None on an accelerator, which
    # cannot run it
    missing_half_as: str | None = None

    def peak(self, dtype: str) -> float | None:
        """Peak FLOP/s in `dtype`; tf32 is fp32 where no tensor cores take it, int4 runs as int8, and a
        missing fp16 or bf16 rate follows `missing_half_as`."""
        if dtype in self.peak_flops_per_s:
            return self.peak_flops_per_s[dtype]
        fallback = {"tf32": "fp32", "int4": "int8"}.get(dtype)
        if dtype in ("bf16", "fp16") and self.missing_half_as is not None:
            fallback = "fp32" if self.missing_half_as == "fp32" else {"bf16": "fp16", "fp16": "bf16"}[dtype]
        return self.peak_flops_per_s.get(fallback) if fallback else None


@dataclass(frozen=True)
class Accelerator:
    """A GPU or other accelerator, with the links it uses and the server it typically sits in."""

    id: str
    name: str
    compute: ComputeSpec
    boost_clock_hz: float
    tdp_w: float
    host_link: Link
    peer_link: Link | None
    server: dict  # typical host of this device: cpu id, sockets, dram bytes, storage id
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    missing_sources: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Cpu:
    """One CPU socket: its cores, clocks and memory system."""

    id: str
    name: str
    cores: int
    compute: ComputeSpec  # per socket
    base_clock_hz: float
    boost_clock_hz: float
    memory_channels: int
    memory_type: str
    tdp_w: float
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    missing_sources: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Storage:
    """A drive: capacity, bandwidth, latency and IOPS; computational drives also carry an engine."""

    id: str
    name: str
    capacity_bytes: float
    read_bandwidth_bytes_per_s: float
    write_bandwidth_bytes_per_s: float
    read_latency_s: float  # queue depth 1, small read: latency to first byte
    random_read_iops: float  # 4 KiB at high queue depth
    host_link: Link
    tdp_w: float
    internal_bandwidth_bytes_per_s: float | None = None  # computational storage: flash to on-card compute
    compute: ComputeSpec | None = None  # computational storage: the on-card engine
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    missing_sources: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class System:
    """Accelerators, host and storage as deployed together. `accelerator` is None for CPU-only."""

    id: str
    name: str
    accelerator: Accelerator | None
    accelerator_count: int
    cpu: Cpu
    sockets: int
    dram_bytes: float
    storage: tuple[tuple[Storage, int], ...]
    host_link: Link | None
    notes: str = ""
    # memory-optimized devices that hold the KV cache and compute decode attention (Lamina-style)
    attention_pool: tuple | None = None  # (Accelerator, count, Link)

    @property
    def dram_bandwidth_bytes_per_s(self) -> float:
        return self.cpu.compute.memory_bandwidth_bytes_per_s * self.sockets

    @property
    def compute(self) -> ComputeSpec:
        """The device that runs the model by default: the accelerator, else the CPU sockets."""
        if self.accelerator is not None:
            return self.accelerator.compute
        return self.host_compute

    @property
    def host_compute(self) -> ComputeSpec:
        """All CPU sockets together, computing out of host DRAM."""
        return replace(
            self.cpu.compute,
            peak_flops_per_s={k: v * self.sockets for k, v in self.cpu.compute.peak_flops_per_s.items()},
            memory_bytes=self.dram_bytes,
            memory_bandwidth_bytes_per_s=self.dram_bandwidth_bytes_per_s,
            units=self.cpu.compute.units * self.sockets,
        )

    @property
    def device_name(self) -> str:
        return self.accelerator.name if self.accelerator else f"{self.sockets}x {self.cpu.name}"

    def with_count(self, count: int) -> System:
        return replace(self, accelerator_count=count)
