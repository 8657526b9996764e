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

from hwsim.fields import REQUIRED, Fields

DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4")

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

    def peak(self, dtype: str) -> float | None:
        if dtype in self.peak_flops_per_s:
            return self.peak_flops_per_s[dtype]
        fallback = {"bf16": "fp16", "fp16": "bf16", "tf32": "fp32", "int4": "int8"}.get(dtype)
        return self.peak_flops_per_s.get(fallback) if fallback else None


@dataclass(frozen=True)
class Accelerator:
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

    def with_count(self, count: int) -> "System":
        return replace(self, accelerator_count=count)


# --- loading -------------------------------------------------------------------------------


class _Sourced:
    """Collects the datasheet fields read from a profile and checks each has a source."""

    def __init__(self, fields: Fields):
        self.sources = {str(k): str(v) for k, v in (fields.raw("sources", {}) or {}).items()}
        self.read: list[str] = []

    def note(self, path: str) -> None:
        self.read.append(path)

    def missing(self) -> tuple[str, ...]:
        def covered(path: str) -> bool:
            parts = path.split(".")
            return any(".".join(parts[:i]) in self.sources for i in range(1, len(parts) + 1))

        return tuple(p for p in self.read if not covered(p))


def _quantity(fields: Fields, sourced: _Sourced, key: str, dimension: str, default=None, prefix: str = ""):
    value = fields.quantity(key, dimension, REQUIRED if default is None else default)
    if fields.has(key):
        sourced.note(f"{prefix}{key}")
    return value


def load_performance(fields: Fields, base: Performance | None = None) -> Performance:
    """Read a `performance` block; anything absent comes from `base` (or the defaults)."""
    if base is None:
        d = DEFAULT_PERFORMANCE
        base = Performance(
            gemm_efficiency={dt: d["gemm_efficiency"] for dt in DTYPES},
            **{k: v for k, v in d.items() if k != "gemm_efficiency"},
        )
    gemm = dict(base.gemm_efficiency)
    if fields.has("gemm_efficiency"):
        section = fields.section("gemm_efficiency")
        for dtype in section.keys():
            if dtype not in DTYPES:
                raise section.error(dtype, f"unknown dtype; expected one of {', '.join(DTYPES)}")
            gemm[dtype] = section.number(dtype, low=0.01, high=1.0)
        section.finish()

    def frac(key: str) -> float:
        return fields.number(key, getattr(base, key), low=0.01, high=1.0)

    def secs(key: str, attr: str) -> float:
        return fields.quantity(key, "seconds", getattr(base, attr), positive=False)

    perf = Performance(
        gemm_efficiency=gemm,
        attention_efficiency=frac("attention_efficiency"),
        memory_efficiency=frac("memory_efficiency"),
        gemm_memory_efficiency=frac("gemm_memory_efficiency"),
        copy_efficiency=frac("copy_efficiency"),
        elementwise_efficiency=frac("elementwise_efficiency"),
        kernel_overhead_s=secs("kernel_overhead", "kernel_overhead_s"),
        copy_latency_s=secs("copy_latency", "copy_latency_s"),
        roofline_sharpness=fields.number("roofline_sharpness", base.roofline_sharpness, low=1.0, high=50.0),
        eager_dispatch_s=secs("eager_dispatch", "eager_dispatch_s"),
        eager_attention_dispatch_s=secs("eager_attention_dispatch", "eager_attention_dispatch_s"),
        eager_prefill_attention_dispatch_s=secs("eager_prefill_attention_dispatch", "eager_prefill_attention_dispatch_s"),
        eager_copy_dispatch_s=secs("eager_copy_dispatch", "eager_copy_dispatch_s"),
        l2_bandwidth_bytes_per_s=fields.quantity("l2_bandwidth", "bytes_per_s", base.l2_bandwidth_bytes_per_s or 0.0)
        or None,
    )
    fields.finish()
    return perf


def _peaks(fields: Fields, sourced: _Sourced, prefix: str = "") -> dict[str, float]:
    peak = fields.section("peak")
    result = {}
    for dtype in peak.keys():
        if dtype not in DTYPES:
            raise peak.error(dtype, f"unknown dtype; expected one of {', '.join(DTYPES)}")
        result[dtype] = peak.quantity(dtype, "flops_per_s")
        sourced.note(f"{prefix}peak.{dtype}")
    peak.finish()
    if not result:
        raise fields.error("peak", "expected at least one dtype with its peak rate")
    return result


def load_link(fields: Fields) -> Link:
    sourced = _Sourced(fields)
    link = Link(
        id=fields.string("id"),
        name=fields.string("name"),
        bandwidth_bytes_per_s=_quantity(fields, sourced, "bandwidth", "bytes_per_s"),
        efficiency=fields.number("efficiency", low=0.01, high=1.0),
        latency_s=fields.quantity("latency", "seconds"),
        pageable_bandwidth_bytes_per_s=_quantity(fields, sourced, "pageable_bandwidth", "bytes_per_s", default=0.0)
        or None,
        full_duplex=fields.boolean("full_duplex", True),
        sources=sourced.sources,
    )
    fields.string("kind", choices=("link",))
    fields.finish()
    return replace(link, missing_sources=sourced.missing())


def load_accelerator(fields: Fields, links: dict[str, Link]) -> Accelerator:
    sourced = _Sourced(fields)
    memory = fields.section("memory")
    compute = ComputeSpec(
        peak_flops_per_s=_peaks(fields, sourced),
        memory_bytes=_quantity(memory, sourced, "capacity", "bytes", prefix="memory."),
        memory_bandwidth_bytes_per_s=_quantity(memory, sourced, "bandwidth", "bytes_per_s", prefix="memory."),
        cache_bytes=_quantity(memory, sourced, "l2", "bytes", prefix="memory."),
        units=fields.integer("sm_count"),
        performance=load_performance(fields.section("performance", {})),
    )
    memory.string("type", "")
    memory.finish()
    sourced.note("sm_count")
    accelerator = Accelerator(
        id=fields.string("id"),
        name=fields.string("name"),
        compute=compute,
        boost_clock_hz=_quantity(fields, sourced, "boost_clock", "hertz"),
        tdp_w=_quantity(fields, sourced, "tdp", "watts"),
        host_link=_link_ref(fields, "host_link", links),
        peer_link=_link_ref(fields, "peer_link", links, optional=True),
        server=_server(fields.section("server")),
        sources=sourced.sources,
    )
    fields.string("kind", choices=("gpu",))
    fields.finish()
    return replace(accelerator, missing_sources=sourced.missing())


def _server(fields: Fields) -> dict:
    server = {
        "cpu": fields.string("cpu"),
        "sockets": fields.integer("sockets", 1),
        "dram_bytes": fields.quantity("dram", "bytes"),
        "storage": fields.string("storage", ""),
    }
    fields.finish()
    return server


def _link_ref(fields: Fields, key: str, links: dict[str, Link], optional: bool = False) -> Link | None:
    name = fields.string(key, "" if optional else REQUIRED)
    if not name:
        return None
    if name not in links:
        raise fields.error(key, f"unknown link {name!r}; expected one of {', '.join(sorted(links))}")
    return links[name]


def load_cpu(fields: Fields) -> Cpu:
    sourced = _Sourced(fields)
    memory = fields.section("memory")
    cores = fields.integer("cores")
    sourced.note("cores")
    compute = ComputeSpec(
        peak_flops_per_s=_peaks(fields, sourced),
        memory_bytes=_quantity(memory, sourced, "capacity", "bytes", prefix="memory."),
        memory_bandwidth_bytes_per_s=_quantity(memory, sourced, "bandwidth", "bytes_per_s", prefix="memory."),
        cache_bytes=_quantity(memory, sourced, "l3", "bytes", prefix="memory."),
        units=cores,
        performance=load_performance(fields.section("performance", {})),
    )
    channels = memory.integer("channels")
    memory_type = memory.string("type")
    memory.finish()
    cpu = Cpu(
        id=fields.string("id"),
        name=fields.string("name"),
        cores=cores,
        compute=compute,
        base_clock_hz=_quantity(fields, sourced, "base_clock", "hertz"),
        boost_clock_hz=_quantity(fields, sourced, "boost_clock", "hertz"),
        memory_channels=channels,
        memory_type=memory_type,
        tdp_w=_quantity(fields, sourced, "tdp", "watts"),
        sources=sourced.sources,
    )
    fields.string("kind", choices=("cpu",))
    fields.finish()
    return replace(cpu, missing_sources=sourced.missing())


def load_storage(fields: Fields, links: dict[str, Link]) -> Storage:
    sourced = _Sourced(fields)
    compute = None
    if fields.has("compute"):
        engine = fields.section("compute")
        compute = ComputeSpec(
            peak_flops_per_s=_peaks(engine, sourced, prefix="compute."),
            memory_bytes=_quantity(engine, sourced, "memory", "bytes", prefix="compute."),
            memory_bandwidth_bytes_per_s=_quantity(engine, sourced, "memory_bandwidth", "bytes_per_s", prefix="compute."),
            cache_bytes=_quantity(engine, sourced, "on_chip", "bytes", prefix="compute."),
            units=engine.integer("units"),
            performance=load_performance(engine.section("performance", {})),
        )
        engine.finish()
    storage = Storage(
        id=fields.string("id"),
        name=fields.string("name"),
        capacity_bytes=_quantity(fields, sourced, "capacity", "bytes"),
        read_bandwidth_bytes_per_s=_quantity(fields, sourced, "read_bandwidth", "bytes_per_s"),
        write_bandwidth_bytes_per_s=_quantity(fields, sourced, "write_bandwidth", "bytes_per_s"),
        read_latency_s=_quantity(fields, sourced, "read_latency", "seconds"),
        random_read_iops=fields.number("random_read_iops", low=1.0),
        host_link=_link_ref(fields, "host_link", links),
        tdp_w=_quantity(fields, sourced, "tdp", "watts"),
        internal_bandwidth_bytes_per_s=_quantity(fields, sourced, "internal_bandwidth", "bytes_per_s", default=0.0)
        or None,
        compute=compute,
        sources=sourced.sources,
    )
    sourced.note("random_read_iops")
    fields.string("kind", choices=("storage",))
    fields.finish()
    return replace(storage, missing_sources=sourced.missing())
