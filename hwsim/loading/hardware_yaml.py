"""Reading hardware profile YAML (accelerators, CPUs, storage, links) into `hwsim.specs.hardware` objects.

Each loader reads one profile strictly (unknown keys are errors) and records which datasheet
figures it read, so that `missing_sources` can name every figure whose `sources` entry is absent:
the shipped profiles are held to citing where each number came from. The `performance` block
(calibration, not datasheet) is read here too, also by `hwsim calibrate` for its overlays.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from hwsim.loading.fields import REQUIRED, Fields
from hwsim.specs.hardware import (
    DEFAULT_PERFORMANCE,
    DTYPES,
    MAX_SOCKETS,
    RATES,
    Accelerator,
    ComputeSpec,
    Cpu,
    Link,
    Performance,
    Storage,
)
from hwsim.specs.kernels import BACKENDS, ISAS, WEIGHT_FORMATS, Curve, GemmKernel

BackendKernels = dict[str, dict[str, GemmKernel]]  # backend -> weight format -> its default kernel


class _Sourced:
    """Collects the datasheet fields read from a profile and checks each has a source."""

    def __init__(self, fields: Fields):
        self.sources = fields.notes("sources")
        self.read: list[str] = []

    def note(self, path: str) -> None:
        self.read.append(path)

    def missing(self) -> tuple[str, ...]:
        """Fields read without a source for themselves or for a section above them."""

        def covered(path: str) -> bool:
            parts = path.split(".")
            return any(".".join(parts[:i]) in self.sources for i in range(1, len(parts) + 1))

        return tuple(p for p in self.read if not covered(p))


def _quantity(fields: Fields, sourced: _Sourced, key: str, dimension: str, default: float | None = None,
              prefix: str = "") -> float:
    """A datasheet quantity (required unless `default` is given), noted as read when present."""
    value = fields.quantity(key, dimension, REQUIRED if default is None else default)
    if fields.has(key):
        sourced.note(f"{prefix}{key}")
    return value


def _rates(fields: Fields, key: str, sourced: _Sourced, prefix: str = "") -> dict[str, float]:
    """A block of dtype -> dense FLOP/s, at least one dtype."""
    peak = fields.section(key)
    result = {}
    for dtype in peak:
        if dtype not in RATES:
            raise peak.error(dtype, f"unknown dtype; expected one of {', '.join(RATES)}")
        result[dtype] = peak.quantity(dtype, "flops_per_s")
        sourced.note(f"{prefix}{key}.{dtype}")
    peak.finish()
    if not result:
        raise fields.error(key, "expected at least one dtype with its peak rate")
    return result


def _peaks(fields: Fields, sourced: _Sourced, prefix: str = "") -> dict[str, float]:
    """The `peak` block: dtype -> dense FLOP/s, at least one dtype."""
    return _rates(fields, "peak", sourced, prefix)


def _isa_peaks(fields: Fields, sourced: _Sourced) -> dict[str, dict[str, float]]:
    """A CPU's `isa` block: instruction set -> dtype -> FLOP/s per socket."""
    section = fields.section("isa")
    result = {}
    for isa in section:
        if isa not in ISAS:
            raise section.error(isa, f"unknown instruction set; expected one of {', '.join(ISAS)}")
        result[isa] = _rates(section, isa, sourced, prefix="isa.")
    section.finish()
    if not result:
        raise fields.error("isa", "expected at least one instruction set with its rates")
    return result


def _best_rates(isa_peaks: dict[str, dict[str, float]]) -> dict[str, float]:
    """What a framework that picks the best instruction set per dtype reaches (oneDNN, PyTorch)."""
    best: dict[str, float] = {}
    for rates in isa_peaks.values():
        for dtype, rate in rates.items():
            best[dtype] = max(best.get(dtype, 0.0), rate)
    return best


def _cpu_peaks(fields: Fields, sourced: _Sourced) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A CPU's rates: per instruction set (`isa`) with the best of them as its peaks, or a plain `peak`."""
    if fields.has("isa") and fields.has("peak"):
        raise fields.error("peak", "give the rates either per instruction set (isa) or as peak, not both")
    if fields.has("isa"):
        isa_peaks = _isa_peaks(fields, sourced)
        return _best_rates(isa_peaks), isa_peaks
    return _peaks(fields, sourced), {}


def _curve(fields: Fields, key: str) -> Curve | None:
    """A fraction given as one number or as {M: fraction} at measured row counts."""
    value = fields.raw(key, None)
    if value is None:
        return None
    if not isinstance(value, dict):
        return Curve.flat(fields.number(key, low=0.001, high=1.0))
    section = fields.section(key)
    points: list[tuple[float, float]] = []
    for m in section:
        if isinstance(m, bool) or not isinstance(m, (int, float)) or m < 1:
            raise section.error(str(m), "expected a row count M of at least 1 as the key")
        points.append((float(m), section.number(m, low=0.001, high=1.0)))
    section.finish()
    if not points:
        raise fields.error(key, "expected a fraction or {M: fraction} with at least one point")
    return Curve(tuple(sorted(points)))


def _dtype(fields: Fields, key: str, default: str) -> str:
    return fields.string(key, default, choices=RATES)


def load_kernel(fields: Fields, format_id: str) -> GemmKernel:
    """One GEMM kernel entry (`kernels.<format>`): see `hwsim.specs.kernels.GemmKernel`."""
    isa = fields.raw("isa", [])
    if isinstance(isa, str):
        isa = [isa]
    if not isinstance(isa, list) or any(name not in ISAS for name in isa):
        raise fields.error("isa", f"expected instruction sets from {', '.join(ISAS)}; got {isa!r}")
    overhead = fields.quantity("call_overhead", "seconds", -1.0, positive=False)
    sharpness = fields.number("roofline_sharpness", 0.0, low=1.0, high=50.0)
    kernel = GemmKernel(
        format=format_id,
        compute_dtype=_dtype(fields, "compute", "fp16"),
        memory_efficiency=_curve(fields, "memory_efficiency"),
        compute_efficiency=_curve(fields, "compute_efficiency"),
        dequant_ops_per_weight=fields.number("dequant_ops_per_weight", 0.0, low=0.0, high=1000.0),
        dequant_rows=fields.integer("dequant_rows", 0, low=0, high=1_000_000),
        dequant_dtype=_dtype(fields, "dequant_rate", "fp32"),
        staging_bytes_per_weight=fields.number("staging_bytes_per_weight", 0.0, low=0.0, high=64.0),
        call_overhead_s=None if overhead < 0 else overhead,
        roofline_sharpness=sharpness or None,
        isa=tuple(isa),
        source=fields.string("source"),
    )
    fields.finish()
    return kernel


def load_kernels(fields: Fields, key: str = "kernels") -> dict[str, GemmKernel]:
    """A `kernels` block: weight format -> the kernel that runs it."""
    block = fields.section(key, {})
    kernels = {}
    for format_id in block:
        if format_id not in WEIGHT_FORMATS:
            raise block.error(str(format_id), f"unknown weight format; expected one of {', '.join(WEIGHT_FORMATS)}")
        kernels[format_id] = load_kernel(block.section(format_id), format_id)
    block.finish()
    return kernels


def load_backend_kernels(fields: Fields) -> tuple[str, dict[str, GemmKernel]]:
    """A backend's default kernels (`hardware_profiles/kernels/<backend>.yaml`), relative to each
    device's own peaks and bandwidth."""
    backend = fields.string("backend", choices=BACKENDS)
    kernels = load_kernels(fields)
    fields.string("id")
    fields.string("name")
    fields.string("kind", choices=("kernels",))
    fields.notes("sources")
    fields.finish()
    return backend, kernels


def _backend_base(backend: str, defaults: BackendKernels | None) -> Performance:
    """The default performance of a device of `backend`, with that backend's default kernels; the
    profile's `performance.kernels` puts the device's own measured ones in their place."""
    return replace(_default_performance(), kernels=dict((defaults or {}).get(backend, {})))


def _named_link(fields: Fields, key: str, name: str, links: dict[str, Link]) -> Link:
    if name not in links:
        raise fields.error(key, f"unknown link {name!r}; expected one of {', '.join(sorted(links))}")
    return links[name]


def _link_ref(fields: Fields, key: str, links: dict[str, Link]) -> Link:
    """The link a required `key` names."""
    return _named_link(fields, key, fields.string(key), links)


def _optional_link_ref(fields: Fields, key: str, links: dict[str, Link]) -> Link | None:
    """The link an optional `key` names; None when the key is absent or empty."""
    name = fields.string(key, "")
    return _named_link(fields, key, name, links) if name else None


def _host_link(fields: Fields, unified: bool, links: dict[str, Link]) -> Link | None:
    """The link to host memory: required for a discrete device, none for one that computes out of
    the host's DRAM (`unified_memory`)."""
    if unified:
        if fields.has("host_link"):
            raise fields.error("host_link", "a unified-memory device has no host link: it reads host DRAM directly")
        return None
    return _link_ref(fields, "host_link", links)


def _server(fields: Fields) -> dict:
    """An accelerator's typical host: cpu id, sockets, DRAM bytes and storage id ("" for none)."""
    server = {
        "cpu": fields.string("cpu"),
        "sockets": fields.integer("sockets", 1, high=MAX_SOCKETS),
        "dram_bytes": fields.quantity("dram", "bytes"),
        "storage": fields.string("storage", ""),
    }
    fields.finish()
    return server


def _default_performance() -> Performance:
    """`DEFAULT_PERFORMANCE` as a Performance, its GEMM efficiency given to every dtype."""
    defaults = DEFAULT_PERFORMANCE
    scalars: dict[str, Any] = {k: v for k, v in defaults.items() if k != "gemm_efficiency"}
    return Performance(gemm_efficiency={dt: defaults["gemm_efficiency"] for dt in DTYPES}, **scalars)


def _gemm_efficiency(fields: Fields, base: Performance) -> dict[str, float]:
    """`base`'s per-dtype GEMM efficiency with the dtypes a `gemm_efficiency` block gives replaced."""
    gemm = dict(base.gemm_efficiency)
    if fields.has("gemm_efficiency"):
        section = fields.section("gemm_efficiency")
        for dtype in section:
            if dtype not in DTYPES:
                raise section.error(dtype, f"unknown dtype; expected one of {', '.join(DTYPES)}")
            gemm[dtype] = section.number(dtype, low=0.01, high=1.0)
        section.finish()
    return gemm


def load_performance(fields: Fields, base: Performance | None = None) -> Performance:
    """Read a `performance` block; anything absent comes from `base` (or the defaults)."""
    if base is None:
        base = _default_performance()
    gemm = _gemm_efficiency(fields, base)

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
        eager_prefill_attention_dispatch_s=secs("eager_prefill_attention_dispatch",
                                                "eager_prefill_attention_dispatch_s"),
        eager_copy_dispatch_s=secs("eager_copy_dispatch", "eager_copy_dispatch_s"),
        l2_bandwidth_bytes_per_s=fields.quantity("l2_bandwidth", "bytes_per_s",
                                                 base.l2_bandwidth_bytes_per_s or 0.0) or None,
        kernels={**base.kernels, **load_kernels(fields)},
    )
    fields.finish()
    return perf


def load_link(fields: Fields) -> Link:
    """A link profile (`hardware_profiles/links/`): PCIe, NVLink, a network."""
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
        pageable_latency_s=_quantity(fields, sourced, "pageable_latency", "seconds", default=0.0),
        sources=sourced.sources,
    )
    fields.string("kind", choices=("link",))
    fields.finish()
    return replace(link, missing_sources=sourced.missing())


def load_cpu(fields: Fields, kernels: BackendKernels | None = None) -> Cpu:
    """A CPU profile (`hardware_profiles/cpus/`); its compute and memory are per socket."""
    sourced = _Sourced(fields)
    memory = fields.section("memory")
    cores = fields.integer("cores")
    sourced.note("cores")
    peaks, isa_peaks = _cpu_peaks(fields, sourced)
    compute = ComputeSpec(
        peak_flops_per_s=peaks,
        isa_peaks=isa_peaks,
        backend="cpu",
        memory_bytes=_quantity(memory, sourced, "capacity", "bytes", prefix="memory."),
        memory_bandwidth_bytes_per_s=_quantity(memory, sourced, "bandwidth", "bytes_per_s", prefix="memory."),
        cache_bytes=_quantity(memory, sourced, "l3", "bytes", prefix="memory."),
        units=cores,
        missing_half_as="fp32",
        performance=load_performance(fields.section("performance", {}), _backend_base("cpu", kernels)),
    )
    channels = memory.integer("channels")
    memory_type = memory.string("type")
    numa_nodes = memory.integer("numa_nodes", 1, high=64)
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
        numa_nodes=numa_nodes,
        socket_link_bandwidth_bytes_per_s=_quantity(fields, sourced, "socket_link_bandwidth", "bytes_per_s",
                                                    default=0.0) or None,
        sources=sourced.sources,
    )
    fields.string("kind", choices=("cpu",))
    fields.finish()
    return replace(cpu, missing_sources=sourced.missing())


def _storage_compute(fields: Fields, sourced: _Sourced) -> ComputeSpec | None:
    """The on-card engine of a computational storage drive; None for a plain drive."""
    if not fields.has("compute"):
        return None
    engine = fields.section("compute")
    compute = ComputeSpec(
        peak_flops_per_s=_peaks(engine, sourced, prefix="compute."),
        memory_bytes=_quantity(engine, sourced, "memory", "bytes", prefix="compute."),
        memory_bandwidth_bytes_per_s=_quantity(engine, sourced, "memory_bandwidth", "bytes_per_s",
                                               prefix="compute."),
        cache_bytes=_quantity(engine, sourced, "on_chip", "bytes", prefix="compute."),
        units=engine.integer("units"),
        missing_half_as="half",
        backend="csd",
        performance=load_performance(engine.section("performance", {})),
    )
    engine.finish()
    return compute


def load_storage(fields: Fields, links: dict[str, Link]) -> Storage:
    """A storage profile (`hardware_profiles/storage/`); `links` resolves its `host_link`."""
    sourced = _Sourced(fields)
    compute = _storage_compute(fields, sourced)
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


def load_accelerator(fields: Fields, links: dict[str, Link], kernels: BackendKernels | None = None) -> Accelerator:
    """An accelerator profile (`hardware_profiles/gpus/`) with its typical server; `links` resolves its
    links, `kernels` gives each backend's default GEMM kernels."""
    sourced = _Sourced(fields)
    memory = fields.section("memory")
    backend = fields.string("backend", choices=("cuda", "rocm", "metal"))
    unified = fields.boolean("unified_memory", False)
    compute = ComputeSpec(
        peak_flops_per_s=_peaks(fields, sourced),
        backend=backend,
        memory_bytes=_quantity(memory, sourced, "capacity", "bytes", prefix="memory."),
        memory_bandwidth_bytes_per_s=_quantity(memory, sourced, "bandwidth", "bytes_per_s", prefix="memory."),
        cache_bytes=_quantity(memory, sourced, "l2", "bytes", prefix="memory."),
        units=fields.integer("sm_count"),
        performance=load_performance(fields.section("performance", {}), _backend_base(backend, kernels)),
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
        host_link=_host_link(fields, unified, links),
        peer_link=_optional_link_ref(fields, "peer_link", links),
        server=_server(fields.section("server")),
        unified_memory=unified,
        sources=sourced.sources,
    )
    fields.string("kind", choices=("gpu",))
    fields.finish()
    return replace(accelerator, missing_sources=sourced.missing())
