from __future__ import annotations

from dataclasses import dataclass

from hwsim.specs import shape


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
    draft_model: str
    draft_length: int = 4
    acceptance: float = 0.7

    def verify_groups(self, groups: tuple) -> tuple:
        """The target's verification step: draft_length + 1 new tokens for each decoding sequence."""
        return tuple(shape.AttnGroup(g.sequences, self.draft_length + 1, g.kv_len + self.draft_length) for g in groups)

    @property
    def tokens_per_step(self) -> float:
        a, g = self.acceptance, self.draft_length
        return float(g + 1) if a >= 1.0 else (1.0 - a ** (g + 1)) / (1.0 - a)
