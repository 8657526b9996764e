"""Optimization techniques as operator-level transforms, for what-if scenarios.

- Weight-only quantization: `bits` per weight plus one fp16 scale per `group_size` weights, and
  a dequantization cost of `dequant_flops` per weight each time a GEMM reads it.
- Unstructured sparsity loaded sparse, computed dense (Flash-LLM): weight bytes shrink to the
  nonzeros plus their indices; FLOPs stay.
- KV reduction (`kv_kept`): SwiftKV-style cross-layer sharing or eviction keep this share of the
  KV cache; bytes and capacity follow (through the precision's KV size).
- Prefill reduction (`prefill_layers`): SwiftKV's SingleInputKV runs the full layers for prefill
  tokens only in this share of the layers; the rest only project K and V.
- Speculative decoding: a draft model proposes `draft_length` tokens, the target verifies them in
  one step, each accepted with probability `acceptance`; a decode step yields
  (1 - a^(g+1)) / (1 - a) tokens on average for g draft steps and one verification.
- Prompt compression (`prompt_kept`): this share of each prompt's tokens reaches the model.
- Kernel speedups: `{attention: 1.3}` divides matching operators' times (by kind or name);
  `kernel_times` replaces predictions with measured times for operators of matching shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from hwsim.base.errors import HwsimError
from hwsim.perf.ops import Op
from hwsim.specs.deployment import Precision
from hwsim.specs.shape import StepShape
from hwsim.specs.techniques import Quantization, Speculative


@dataclass(frozen=True)
class Techniques:
    quantization: Quantization | None = None
    sparsity: float = 0.0
    sparse_index_bits: float = 16.0
    kv_kept: float = 1.0
    prefill_layers: float = 1.0
    speculative: Speculative | None = None
    prompt_kept: float = 1.0
    kernel_speedup: tuple[tuple[str, float], ...] = ()
    kernel_times: tuple[tuple[tuple, float], ...] = field(default=(), compare=False)

    def __post_init__(self):
        _fraction("sparsity", self.sparsity, allow_zero=True, below_one=True)
        for name in ("kv_kept", "prefill_layers", "prompt_kept"):
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
        return self == Techniques() and not self.kernel_times

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

    # --- operators ---------------------------------------------------------------------------
    def transform(self, ops: list[Op], shape: StepShape) -> list[Op]:
        prefill_share = sum(g.sequences * g.q_len for g in shape.groups if g.q_len > 1) / max(1, shape.tokens)
        result = []
        for op in ops:
            if op.kind == "gemm" and op.weight_bytes:
                if self.quantization:
                    weights = op.weight_bytes / _bytes_per_weight(op)
                    op = replace(op, flops=op.flops + weights * self.quantization.dequant_flops)
                if self.sparsity:
                    dense_bits = 8 * _bytes_per_weight(op)
                    kept = (1 - self.sparsity) * (dense_bits + self.sparse_index_bits) / dense_bits
                    op = replace(op, weight_bytes=op.weight_bytes * min(1.0, kept))
            if self.prefill_layers < 1.0 and prefill_share and op.repeat > 1 and op.role not in _KV_PATH:
                # prefill tokens skip this op in the layers SingleInputKV does not run in full
                scale = 1.0 - prefill_share * (1.0 - self.prefill_layers)
                op = replace(op, flops=op.flops * scale, act_bytes=op.act_bytes * scale)
            result.append(op)
        return result

    def apply(self, cost):
        """`cost` (an OpCost) with kernel speedups and measured times applied; busy times scale along."""
        changed = self.time_s(cost.op, cost.time_s)
        if changed == cost.time_s:
            return cost
        scale = changed / cost.time_s
        return replace(cost, time_s=changed, compute_s=cost.compute_s * scale, memory_s=cost.memory_s * scale,
                       gpu_s=cost.gpu_s * scale, launch_s=cost.launch_s * scale)

    def time_s(self, op: Op, predicted_s: float) -> float:
        """An operator's time after kernel speedups and measured kernel times."""
        for key, seconds in self.kernel_times:
            if key == kernel_key(op):
                return seconds * op.repeat
        for name, factor in self.kernel_speedup:
            if name in (op.kind, op.role):
                return predicted_s / factor
        return predicted_s


_KV_PATH = {"attn_norm", "qkv_proj", "rotary", "kv_cache_write", "q_a_proj", "kv_a_proj"}


def _bytes_per_weight(op: Op) -> float:
    """Bytes per weight element of a GEMM (weights are n x k per expert)."""
    return op.weight_bytes / (op.n * op.k * op.experts) if op.n and op.k else 2.0


def kernel_key(op: Op) -> tuple:
    """The shape an operator is matched by against measured kernel rows."""
    if op.kind == "gemm":
        return ("gemm", op.m, op.n, op.k)
    return (op.kind, op.role, op.groups, op.heads, op.kv_heads)


def _fraction(name: str, value: float, allow_zero: bool = False, below_one: bool = False) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    high_ok = value < 1 if below_one else value <= 1
    if not (low_ok and high_ok):
        bounds = f"{'[0' if allow_zero else '(0'}, {'1)' if below_one else '1]'}"
        raise HwsimError(f"{name} must be in {bounds}; got {value}")


def speculative_step(verify, draft, spec: Speculative):
    """A StepCost for one speculative decode step per yielded token: the verification and the
    draft steps, each operator's time and busy times scaled by its share of a token."""
    from hwsim.perf.step import StepCost

    per_token = 1.0 / spec.tokens_per_step
    costs = tuple(replace(c, time_s=c.time_s * per_token, compute_s=c.compute_s * per_token,
                          memory_s=c.memory_s * per_token) for c in verify.costs)
    scale = spec.draft_length * per_token
    costs += tuple(replace(c, time_s=c.time_s * scale, compute_s=c.compute_s * scale, memory_s=c.memory_s * scale)
                   for c in draft.costs)
    return StepCost((verify.time_s + spec.draft_length * draft.time_s) * per_token, costs, verify.shape)


