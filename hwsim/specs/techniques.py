"""What-if optimization techniques as data: weight-only quantization, sparsity, KV and prefill
reduction, activation sparsity, speculative decoding (with its draft model), prompt compression,
kernel speedups and measured kernel times. `hwsim.perf.techniques` applies them to operators."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from hwsim.base.errors import HwsimError
from hwsim.specs import shape
from hwsim.specs.deployment import Precision
from hwsim.specs.kernel_table import KernelTable
from hwsim.specs.models import Model


@dataclass(frozen=True)
class Quantization:
    bits: float = 4.0
    group_size: int = 128
    dequant_flops: float = 2.0  # per weight per GEMM call (scale and convert)

    @property
    def weight_bits(self) -> float:
        return self.bits + 16.0 / self.group_size


@dataclass(frozen=True)
class Speculative:
    draft_model: Model  # resolved by the loader
    draft_length: int = 4
    acceptance: float = 0.7

    def verify_groups(self, groups: tuple) -> tuple:
        """The target's verification step: draft_length + 1 new tokens for each decoding sequence."""
        return tuple(shape.AttnGroup(g.sequences, self.draft_length + 1, g.kv_len + self.draft_length) for g in groups)

    @property
    def tokens_per_step(self) -> float:
        a, g = self.acceptance, self.draft_length
        return float(g + 1) if a >= 1.0 else (1.0 - a ** (g + 1)) / (1.0 - a)


@dataclass(frozen=True)
class Techniques:
    quantization: Quantization | None = None
    sparsity: float = 0.0
    sparse_index_bits: float = 16.0
    kv_kept: float = 1.0
    prefill_layers: float = 1.0
    speculative: Speculative | None = None
    prompt_kept: float = 1.0
    # activation sparsity: the share of FFN neurons a predictor marks active for a token, the only
    # ones computed and read (Deja Vu, arXiv 2310.17157; LLM in a flash, arXiv 2312.11514)
    ffn_active: float = 1.0
    kernel_speedup: tuple[tuple[str, float], ...] = ()
    kernel_table: KernelTable | None = field(default=None, compare=False)  # measured kernel times

    def __post_init__(self):
        _fraction("sparsity", self.sparsity, allow_zero=True, below_one=True)
        for name in ("kv_kept", "prefill_layers", "prompt_kept", "ffn_active"):
            _fraction(name, getattr(self, name))
        if self.speculative:
            if not 0.0 <= self.speculative.acceptance <= 1.0:
                raise HwsimError(f"speculative.acceptance must be between 0 and 1; got {self.speculative.acceptance}")
            if self.speculative.draft_length < 1:
                raise HwsimError(f"speculative.draft_length must be at least 1; got {self.speculative.draft_length}")
        if self.quantization:
            if not 1 <= self.quantization.bits <= 16:
                raise HwsimError(f"quantization.bits must be between 1 and 16; got {self.quantization.bits}")
            if self.quantization.group_size < 1:
                raise HwsimError(f"quantization.group_size must be at least 1; got {self.quantization.group_size}")
        for name, factor in self.kernel_speedup:
            if factor <= 0:
                raise HwsimError(f"kernel_speedup.{name} must be greater than zero; got {factor}")

    @property
    def is_identity(self) -> bool:
        return self == Techniques() and self.kernel_table is None

    def precision(self, base: Precision) -> Precision:
        """The deployment's number formats with quantization and KV reduction applied."""
        result = base
        if self.quantization:
            dtype = "int4" if self.quantization.bits <= 4 else ("int8" if self.quantization.bits <= 8 else base.dtype)
            result = replace(result, dtype=dtype, weight_bits=self.quantization.weight_bits)
        if self.kv_kept != 1.0:
            result = replace(result, kv_kept=result.kv_kept * self.kv_kept)
        return result

    def prompt_tokens(self, tokens: int) -> int:
        return max(1, math.ceil(tokens * self.prompt_kept))


def _fraction(name: str, value: float, allow_zero: bool = False, below_one: bool = False) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    high_ok = value < 1 if below_one else value <= 1
    if not (low_ok and high_ok):
        bounds = f"{'[0' if allow_zero else '(0'}, {'1)' if below_one else '1]'}"
        raise HwsimError(f"{name} must be in {bounds}; got {value}")
