"""Weight formats and the GEMM kernels that run them.

A quantized model is more than fewer bytes per weight: the kernel that multiplies by its weights
unpacks them first and reaches its own share of the device's bandwidth and compute. On an H200,
PyTorch's int4 tinygemm kernel streams weights at ~40% of the HBM bandwidth and unpacks the weights
again for every row of activations, so its time grows with M far faster than a bf16 GEMM's; Marlin
unpacks once per tile of rows and keeps the 4x advantage up to batch 16-32; llama.cpp's quantized
mat-vec kernels reach a lower share of bandwidth than its F16 path.

`WeightFormat` is the bit layout (how many bits a weight takes with its scales, what stays in 16
bits). `GemmKernel` is one implementation on one backend: its compute type, its achievable fractions
of compute and bandwidth as functions of the row count M (`Curve`, measured points), the unpacking
work per weight, and its fixed cost per call. Kernels are data: `hardware_profiles/kernels/<backend>.yaml`
gives a backend's defaults relative to each device's peaks, and a device profile's `kernels:` block
replaces them with what was measured on that device.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from hwsim.base.errors import HwsimError

BACKENDS = ("cuda", "rocm", "metal", "cpu", "csd")  # the software stack a device's kernels come from
# CPU instruction sets with their own rates; `scalar` is code that is not vectorized at all (PyTorch's
# fp16 arithmetic on CPUs with no fp16 vector instructions converts and computes element by element)
ISAS = ("scalar", "avx2", "avx512", "avx512_fp16", "amx", "neon", "sve2")


@dataclass(frozen=True)
class Curve:
    """A fraction that depends on a GEMM's rows per weight matrix (M), known at measured M values:
    linear in log M between them, held flat beyond the first and last (the roofline extrapolates)."""

    points: tuple[tuple[float, float], ...]  # (M, value), M ascending

    def __post_init__(self) -> None:
        if not self.points:
            raise HwsimError("a kernel curve needs at least one (M, value) point")
        rows = [m for m, _ in self.points]
        if rows != sorted(set(rows)) or rows[0] < 1:
            raise HwsimError(f"kernel curve rows must be distinct, ascending and at least 1; got {rows}")

    @classmethod
    def flat(cls, value: float) -> Curve:
        return cls(((1.0, value),))

    def at(self, m: float) -> float:
        rows = [r for r, _ in self.points]
        if m <= rows[0]:
            return self.points[0][1]
        if m >= rows[-1]:
            return self.points[-1][1]
        i = bisect.bisect_right(rows, m)
        (m0, v0), (m1, v1) = self.points[i - 1], self.points[i]
        share = (math.log(m) - math.log(m0)) / (math.log(m1) - math.log(m0))
        return v0 + share * (v1 - v0)


@dataclass(frozen=True)
class WeightFormat:
    """How one quantized weight is stored: its element type, bits per weight with scales and zero
    points, and what the LM head is kept in (16 bits in GPTQ/AWQ/tinygemm checkpoints; llama.cpp
    quantizes it too, to Q6_K in its K-quant mixes)."""

    id: str
    weight_dtype: str  # int4 | int8 | fp8 | fp16
    bits_per_weight: float
    head_bits: float
    source: str
    # a KV cache kept in this format is unpacked into a 16-bit buffer before attention reads it:
    # the bytes that unpacking reads and writes per cached element (0: read packed by the kernel)
    kv_staging_bytes: float = 0.0


# FlexGen's TorchCompressedDevice.decompress unpacks with six full-tensor PyTorch ops; bytes per element:
# right-shift (0.5 read + 0.5 written) and its strided store into fp16 (0.5 + 1), the same for the low
# nibble, then divide by the scale and add the minimum in place (2 + 2 each), and the consumer reads
# the fp16 result (2): 15 bytes where a fused kernel reads 0.56
FLEXGEN_UNPACK_BYTES = 15.0

# Block layouts from their definitions: llama.cpp ggml-common.h (block_q4_0: 32 4-bit weights + one fp16
# scale = 4.5 bits; block_q8_0: 32 int8 + fp16 scale = 8.5; Q4_K_M mixes Q4_K (4.5 bits) with Q6_K
# (6.5625) for half the attention V and FFN down tensors, 4.85 bits on Llama-7B files; the output
# tensor is Q6_K); tinygemm: int4 with a bf16 scale and zero per 128-weight group (4.25);
# Marlin/GPTQ/AWQ: int4 with an fp16 scale per 128 (4.125; AWQ's 4-bit zero adds 0.03);
# FlexGen: 4-bit group-wise with fp16 min and scale per 64 (4.5).
WEIGHT_FORMATS = {
    f.id: f
    for f in (
        WeightFormat("f16", "fp16", 16.0, 16.0, "llama.cpp F16 files"),
        WeightFormat("q8_0", "int8", 8.5, 8.5, "llama.cpp ggml-common.h block_q8_0"),
        WeightFormat("q4_0", "int4", 4.5, 6.5625, "llama.cpp ggml-common.h block_q4_0; output.weight kept Q6_K"),
        WeightFormat("q4_k_m", "int4", 4.85, 6.5625, "llama.cpp Q4_K_M mix (Q4_K + Q6_K), 4.85 bits/weight"),
        WeightFormat("int4-tinygemm", "int4", 4.25, 16.0,
                     "torch._weight_int4pack_mm, group 128 bf16 scale+zero"),
        WeightFormat("int4-marlin", "int4", 4.125, 16.0, "IST-DASLab Marlin, group 128 fp16 scales"),
        WeightFormat("gptq", "int4", 4.125, 16.0, "GPTQ 4-bit group 128, run by Marlin kernels in vLLM/SGLang"),
        WeightFormat("awq", "int4", 4.16, 16.0, "AWQ 4-bit group 128 with 4-bit zeros, run by Marlin kernels in vLLM"),
        WeightFormat("flexgen-int4-g64", "int4", 4.5, 16.0, "FlexGen group-wise 4-bit, group 64, fp16 min and scale",
                     kv_staging_bytes=FLEXGEN_UNPACK_BYTES),
    )
}


def weight_format(name: str) -> WeightFormat:
    if name not in WEIGHT_FORMATS:
        raise HwsimError(f"unknown weight format {name!r}; expected one of {', '.join(WEIGHT_FORMATS)}")
    return WEIGHT_FORMATS[name]


@dataclass(frozen=True)
class GemmKernel:
    """One GEMM implementation of a weight format on one device.

    time of one call = call_overhead + smooth_max(compute, memory)
    compute = FLOPs / (peak[compute_dtype] x compute_efficiency(M))
              + passes x weights x dequant_ops_per_weight / peak[dequant_dtype]
    memory  = (bytes + weights x staging_bytes_per_weight) / (bandwidth x memory_efficiency(M))
    where the weights are unpacked once per `dequant_rows` rows of activations (0: once per call).
    """

    format: str
    compute_dtype: str  # the rate the multiply runs at (bf16 tensor cores, int8 dot products)
    memory_efficiency: Curve | None = None  # None: the device's weight-streaming efficiency
    compute_efficiency: Curve | None = None  # None: the device's GEMM efficiency for compute_dtype
    dequant_ops_per_weight: float = 0.0
    dequant_rows: int = 0
    dequant_dtype: str = "fp32"
    # bytes written and read back per weight when a kernel unpacks into a 16-bit buffer first and
    # multiplies that (FlexGen decompresses to fp16: 2 written + 2 read); 0 when unpacked in registers
    staging_bytes_per_weight: float = 0.0
    call_overhead_s: float | None = None  # None: the device's kernel overhead
    roofline_sharpness: float | None = None  # None: the device's
    isa: tuple[str, ...] = ()  # CPU kernels: the instruction sets it is built for, best first
    source: str = ""

    def dequant_passes(self, rows: float) -> float:
        if self.dequant_rows <= 0:
            return 1.0
        return float(math.ceil(max(rows, 1.0) / self.dequant_rows))
