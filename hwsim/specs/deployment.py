"""What a deployment is made of: number formats, kernel implementation, expert setup, offload
options, and the `Deployment` that joins them with a model and a system. Every step time is a
function of one `Deployment` and one step shape (`hwsim.perf.step.StepModel`)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hwsim.base.errors import HwsimError
from hwsim.specs.hardware import System
from hwsim.specs.kernels import weight_format as format_named
from hwsim.specs.models import Model
from hwsim.specs.placement import Placement

if TYPE_CHECKING:
    from hwsim.specs.routing import Routing
    from hwsim.specs.techniques import Techniques

# bytes per element of each dtype name; int8/int4 are weight-only formats computed in fp16
DTYPE_BYTES = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
WEIGHT_ONLY = {"int8", "int4"}
LAUNCH_MODES = ("graph", "eager")


@dataclass(frozen=True)
class OffloadOptions:
    overlap: bool = True
    pinned: bool = True  # host buffers page-locked: full link bandwidth
    # host-link copies of at most this size, each issued separately (None: one copy per tensor);
    # small chunks pay the per-copy latency and issue cost measured on the H200
    chunk_bytes: float | None = None
    # experts partly resident on the device act as a cache: its policy (lru, lfu, static) sets the
    # hit rate under the routing; the next layer's `prefetch_experts` likeliest misses load early
    expert_cache: str = "static"
    prefetch_experts: int = 0
    # GPUDirect storage: drives write straight into device memory, one pipelined stage instead of
    # a read into host memory and a copy over the host link
    gpudirect: bool = False


@dataclass(frozen=True)
class Precision:
    """Number formats of one deployment."""

    dtype: str = "bf16"  # weights and compute
    kv_dtype: str | None = None  # KV cache element type when it differs
    weight_bits: float | None = None  # effective bits per weight including scales (e.g. 4.85)
    kv_kept: float = 1.0  # share of the KV cache kept (cross-layer sharing, eviction, compression)
    # the quantized format and so the GEMM kernel that runs it (`hwsim.specs.kernels`); None: the
    # dtype's plain GEMM, and weight-only int8/int4 as fewer bytes streamed by it (an ideal kernel)
    weight_format: str | None = None
    kv_format: str | None = None  # the KV cache's packed format when it is unpacked before attention

    def __post_init__(self):
        for name in (self.dtype, self.kv_dtype):
            if name is not None and name not in DTYPE_BYTES:
                raise HwsimError(f"unknown dtype {name!r}; expected one of {', '.join(DTYPE_BYTES)}")
        if self.weight_format is not None:
            fmt = format_named(self.weight_format)
            if fmt.weight_dtype != self.dtype:
                raise HwsimError(f"weight format {fmt.id} stores {fmt.weight_dtype} weights; "
                                 f"it cannot be used with dtype {self.dtype}")
        if self.kv_format is not None:
            fmt = format_named(self.kv_format)
            if fmt.weight_dtype != self.kv_dtype:
                raise HwsimError(f"KV format {fmt.id} stores {fmt.weight_dtype} elements; "
                                 f"it cannot be used with kv_dtype {self.kv_dtype}")
        if self.weight_bits is not None and not 1 <= self.weight_bits <= 32:
            raise HwsimError(f"weight_bits must be between 1 and 32; got {self.weight_bits}")
        if not 0 < self.kv_kept <= 1:
            raise HwsimError(f"kv_kept must be in (0, 1]; got {self.kv_kept}")

    @classmethod
    def of(cls, dtype: str | None, kv_dtype: str | None = None, weight_bits: float | None = None,
           weight_format: str | None = None, kv_format: str | None = None) -> Precision:
        """The precision a user asked for: a weight (or KV) format alone implies its element dtype."""
        if dtype is None:
            dtype = format_named(weight_format).weight_dtype if weight_format else "bf16"
        if kv_dtype is None and kv_format is not None:
            kv_dtype = format_named(kv_format).weight_dtype
        return cls(dtype, kv_dtype, weight_bits, weight_format=weight_format, kv_format=kv_format)

    @property
    def kv_staging_bytes(self) -> float:
        """Bytes of unpacking traffic per cached element read (0 for a cache read as stored)."""
        return format_named(self.kv_format).kv_staging_bytes if self.kv_format else 0.0

    @property
    def compute_dtype(self) -> str:
        return "fp16" if self.dtype in WEIGHT_ONLY else self.dtype

    @property
    def weight_bytes_per_param(self) -> float:
        if self.weight_bits:
            return self.weight_bits / 8
        if self.weight_format:
            return format_named(self.weight_format).bits_per_weight / 8
        return DTYPE_BYTES[self.dtype]

    @property
    def head_bytes_per_param(self) -> float:
        """The LM head's bytes per weight: its format's head type, else the other weights'."""
        if self.weight_format:
            return format_named(self.weight_format).head_bits / 8
        return self.weight_bytes_per_param

    @property
    def act_bytes(self) -> float:
        """Activations travel between kernels in 16 bits (fp32 models keep fp32)."""
        return 4.0 if self.dtype in ("fp32", "tf32") else 2.0

    @property
    def kv_bytes(self) -> float:
        """The cache keeps the activation type unless a KV dtype is given (fp8 KV is opt-in)."""
        return (DTYPE_BYTES[self.kv_dtype] if self.kv_dtype else self.act_bytes) * self.kv_kept

    @property
    def kv_dtype_name(self) -> str:
        if self.kv_dtype:
            return self.kv_dtype
        if self.dtype in WEIGHT_ONLY:  # weight-only formats compute, and cache, in fp16
            return "fp16"
        return self.dtype if self.dtype in ("fp32", "bf16", "fp16") else ("fp32" if self.dtype == "tf32" else "bf16")


@dataclass(frozen=True)
class Implementation:
    """Kernels per elementwise stage and the bytes each moves per element (in units of the
    activation size `a`, plus fixed fp32 bytes where an implementation upcasts)."""

    name: str
    norm_kernels: int
    norm_bytes: tuple[float, float]  # (per act byte, fixed) per element
    residual_kernels: int  # separate residual adds per layer (0 when fused into the norm)
    rotary_kernels: int
    rotary_bytes_per_act: float
    act_kernels: int  # SiLU-and-mul (gated) or the activation alone
    act_bytes_per_act: float
    attn_out_copy: bool  # attention output transposed back into a contiguous tensor
    # flash: one fused kernel, scores never leave the chip; math: scores materialized in memory
    # (PyTorch's SDPA math backend, eager softmax(QK^T)V): two batched GEMMs and elementwise passes
    attention: str = "flash"

    def __post_init__(self) -> None:
        if self.attention not in ("flash", "math"):
            raise HwsimError(f"attention implementation must be flash or math; got {self.attention!r}")


@dataclass(frozen=True)
class ExpertSetup:
    """How a MoE model's experts are routed and spread: routing distribution (None: uniform),
    expert parallelism over the tensor-parallel devices, expert-to-device assignment (None:
    round robin), and an optional capacity factor."""

    routing: Routing | None = None
    expert_parallel: bool = False
    owner: tuple[int, ...] | None = None
    capacity_factor: float | None = None
    resident: tuple[int, ...] | None = None  # a fixed set of device-resident experts (else: most popular)
    # attention data-parallel over the devices (each schedules its own sequences, keeps every
    # non-expert weight); with it, experts are always expert-parallel
    attention_dp: bool = False


UNFUSED = Implementation(
    name="unfused",
    norm_kernels=8,  # to fp32, pow, mean, +eps, rsqrt, mul, to dtype, mul weight
    norm_bytes=(4.0, 28.0),
    residual_kernels=2,
    rotary_kernels=10,  # q and k each: x*cos, rotate_half (neg, cat), *sin, add
    rotary_bytes_per_act=10.0,
    act_kernels=2,
    act_bytes_per_act=5.0,
    attn_out_copy=True,
)
FUSED = Implementation(
    name="fused",
    norm_kernels=1,  # fused add + RMSNorm: read x and residual, write both
    norm_bytes=(4.0, 0.0),
    residual_kernels=0,
    rotary_kernels=1,
    rotary_bytes_per_act=2.0,
    act_kernels=1,
    act_bytes_per_act=3.0,
    attn_out_copy=False,
)
UNFUSED_MATH = replace(UNFUSED, name="unfused-math", attention="math")
IMPLEMENTATIONS = {"unfused": UNFUSED, "fused": FUSED, "unfused-math": UNFUSED_MATH}



@dataclass(frozen=True)
class Deployment:
    """One model served on one system (tensor parallel over its accelerators), configured: number
    formats, kernel implementation, launch mode, data placement and offload options, MoE expert
    setup and what-if techniques (with the draft model already resolved)."""

    model: Model
    system: System
    precision: Precision = field(default_factory=Precision)
    implementation: Implementation = field(default_factory=lambda: FUSED)
    launch: str = "graph"
    placement: Placement = field(default_factory=Placement)
    offload: OffloadOptions = field(default_factory=OffloadOptions)
    experts: ExpertSetup | None = None
    techniques: Techniques | None = None

    def __post_init__(self) -> None:
        if self.launch not in LAUNCH_MODES:
            raise HwsimError(f"unknown launch mode {self.launch!r}; expected one of {', '.join(LAUNCH_MODES)}")
        if self.system.accelerator_count > 1 and self.system.accelerator is None:
            raise HwsimError("tensor parallelism needs accelerators; this system has none")
        check_experts_placement(self.placement, self.model)

    @property
    def tp(self) -> int:
        """Tensor-parallel devices: every accelerator of the system, or one CPU."""
        return max(1, self.system.accelerator_count)


def check_experts_placement(placement: Placement, model: Model) -> None:
    """Routed experts can be placed only where there are some: a dense model has none."""
    if placement.experts is not None and model.moe is None:
        raise HwsimError(f"placement experts={','.join(t for t, _ in placement.experts)}: "
                         f"{model.id} is a dense model with no routed experts to place")
