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

from hwsim.base.errors import HwsimError
from hwsim.specs.kernels import GemmKernel

DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4")
# rates a peak table may give beyond the dtypes: fp16 multiplies with fp16 accumulation, which
# GeForce tensor cores run at twice their fp32-accumulate rate (datacenter parts: the same rate)
RATES = DTYPES + ("fp16_acc16",)
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
    # weight format -> the GEMM kernel that runs it here (backend defaults overlaid by measurements)
    kernels: dict[str, GemmKernel] = field(default_factory=dict)


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
    # a copy from pageable memory is staged by the driver through a pinned buffer: a fixed cost
    # per copy on top of the link latency, then the staging memcpy's rate (pageable bandwidth)
    pageable_latency_s: float = 0.0
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
    backend: str = "cuda"  # whose kernels run here: cuda, rocm, metal, cpu, csd
    # CPUs: instruction set -> dtype -> peak FLOP/s; `peak_flops_per_s` is the best of them per dtype
    isa_peaks: dict[str, dict[str, float]] = field(default_factory=dict)

    def peak(self, dtype: str) -> float | None:
        """Peak FLOP/s in `dtype`; tf32 is fp32 where no tensor cores take it, int4 runs as int8,
        fp16 accumulated in fp16 runs at the fp16 rate unless the profile gives its own (GeForce), and
        a missing fp16 or bf16 rate follows `missing_half_as`."""
        if dtype in self.peak_flops_per_s:
            return self.peak_flops_per_s[dtype]
        fallback = {"tf32": "fp32", "int4": "int8", "fp16_acc16": "fp16"}.get(dtype)
        if dtype in ("bf16", "fp16") and self.missing_half_as is not None:
            fallback = "fp32" if self.missing_half_as == "fp32" else {"bf16": "fp16", "fp16": "bf16"}[dtype]
        return self.peak_flops_per_s.get(fallback) if fallback else None

    def kernel(self, format_id: str) -> GemmKernel:
        """The GEMM kernel that runs weights in `format_id` here; a format with no kernel on this
        device (Marlin on a CPU) is an error, never a silent stand-in."""
        kernels = self.performance.kernels
        if format_id not in kernels:
            have = ", ".join(sorted(kernels)) or "none"
            raise HwsimError(f"no {format_id} GEMM kernel on this {self.backend} device (it has: {have})")
        return kernels[format_id]

    def kernel_peak(self, kernel: GemmKernel, dtype: str) -> float:
        """Peak FLOP/s of `dtype` for `kernel`: on a CPU, from the first instruction set the kernel is
        built for that this CPU has with a `dtype` rate (no fallback to another set); elsewhere the
        device's peak."""
        if kernel.isa and self.isa_peaks:
            for isa in kernel.isa:
                rate = self.isa_peaks.get(isa, {}).get(dtype)
                if rate:
                    return rate
            have = ", ".join(f"{isa}: {'/'.join(rates)}" for isa, rates in self.isa_peaks.items())
            raise HwsimError(f"the {kernel.format} kernel computes {dtype} with {' or '.join(kernel.isa)}; "
                             f"this CPU has {have}")
        peak = self.peak(dtype)
        if not peak:
            raise HwsimError(f"the {kernel.format} kernel computes in {dtype}; the device has no {dtype} rate")
        return peak


@dataclass(frozen=True)
class Accelerator:
    """A GPU or other accelerator, with the links it uses and the server it typically sits in."""

    id: str
    name: str
    compute: ComputeSpec
    boost_clock_hz: float
    tdp_w: float
    host_link: Link | None  # None: unified memory
    peer_link: Link | None
    server: dict  # typical host of this device: cpu id, sockets, dram bytes, storage id
    # the GPU computes out of the host's DRAM (Apple silicon): its memory is the share of DRAM the
    # OS lets it wire, and host-resident data needs no copy to be read
    unified_memory: bool = False
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
    numa_nodes: int = 1  # memory domains per socket in its default configuration
    socket_link_bandwidth_bytes_per_s: float | None = None  # per direction between two sockets (UPI, xGMI)
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
    # where one process's host memory lives on a multi-socket host: `local` on one socket (the
    # default of Linux's first-touch allocation), `interleave` page by page over every socket
    # (numactl --interleave=all), `replicate` a copy per socket, each socket's cores reading their
    # own (ktransformers' NUMA mode, which needs the memory twice over)
    numa: str = "local"

    @property
    def dram_bandwidth_bytes_per_s(self) -> float:
        """DRAM bandwidth one process's data is read at. Local: one socket's, whichever socket's
        cores read it (the others over the socket link). Interleaved: every socket's, each socket's
        cores reading the remote share of their data over the link, so at most twice its bandwidth.
        Replicated: every socket's, each reading its own copy."""
        socket_bytes_per_s = self.cpu.compute.memory_bandwidth_bytes_per_s
        if self.sockets == 1 or self.numa == "local":
            return socket_bytes_per_s
        if self.numa == "replicate":
            return self.sockets * socket_bytes_per_s
        link_bytes_per_s = self.cpu.socket_link_bandwidth_bytes_per_s or socket_bytes_per_s
        return self.sockets * min(socket_bytes_per_s, 2.0 * link_bytes_per_s)

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
            isa_peaks={isa: {k: v * self.sockets for k, v in rates.items()}
                       for isa, rates in self.cpu.compute.isa_peaks.items()},
            memory_bytes=self.dram_bytes,
            memory_bandwidth_bytes_per_s=self.dram_bandwidth_bytes_per_s,
            units=self.cpu.compute.units * self.sockets,
        )

    @property
    def device_name(self) -> str:
        return self.accelerator.name if self.accelerator else f"{self.sockets}x {self.cpu.name}"

    def with_count(self, count: int) -> System:
        return replace(self, accelerator_count=count)
