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
  `kernel_table` replaces predictions with measured kernel times (see `hwsim.perf.kernel_table`).
"""
from __future__ import annotations

from dataclasses import replace

from hwsim.perf import roofline
from hwsim.perf.kernel_table import MODELED, kernel_time
from hwsim.perf.ops import Op
from hwsim.perf.roofline import OpCost
from hwsim.specs.hardware import ComputeSpec
from hwsim.specs.shape import StepShape
from hwsim.specs.techniques import Techniques


def transform_ops(techniques: Techniques, ops: list[Op], shape: StepShape) -> list[Op]:
    """The step's operators with quantization, sparsity and prefill reduction applied."""
    prefill_share = sum(g.sequences * g.q_len for g in shape.groups if g.q_len > 1) / max(1, shape.tokens)
    result = []
    for op in ops:
        if op.kind == "gemm" and op.weight_bytes:
            if techniques.quantization:
                weights = op.weight_bytes / _bytes_per_weight(op)
                op = replace(op, flops=op.flops + weights * techniques.quantization.dequant_flops)
            if techniques.sparsity:
                dense_bits = 8 * _bytes_per_weight(op)
                kept = (1 - techniques.sparsity) * (dense_bits + techniques.sparse_index_bits) / dense_bits
                op = replace(op, weight_bytes=op.weight_bytes * min(1.0, kept))
        if techniques.prefill_layers < 1.0 and prefill_share and op.repeat > 1 and op.role not in _KV_PATH:
            # prefill tokens skip this op in the layers SingleInputKV does not run in full
            scale = 1.0 - prefill_share * (1.0 - techniques.prefill_layers)
            op = replace(op, flops=op.flops * scale, act_bytes=op.act_bytes * scale)
        if techniques.ffn_active < 1.0 and op.block == "mlp":
            active = techniques.ffn_active
            op = replace(op, flops=op.flops * active, weight_bytes=op.weight_bytes * active,
                         act_bytes=op.act_bytes * active)
        result.append(op)
    return result


def apply_to_cost(techniques: Techniques, cost: OpCost, device: ComputeSpec, weight_format: str) -> OpCost:
    """`cost` with measured kernel times (a kernel table) or kernel speedups applied; busy times
    scale along."""
    gpu_s = _device_s(techniques, cost, device, weight_format)
    if gpu_s is not None:  # the device's time changes; the host's dispatch does not
        per_instance = cost.launch_s + gpu_s if cost.syncs else max(gpu_s, cost.launch_s)
        scale = gpu_s / cost.gpu_s
        return replace(cost, time_s=per_instance * cost.op.repeat, compute_s=cost.compute_s * scale,
                       memory_s=cost.memory_s * scale, gpu_s=gpu_s)
    changed = _sped_up_s(techniques, cost.op, cost.time_s)
    if changed == cost.time_s:
        return cost
    scale = changed / cost.time_s
    return replace(cost, time_s=changed, compute_s=cost.compute_s * scale, memory_s=cost.memory_s * scale,
                   gpu_s=cost.gpu_s * scale, launch_s=cost.launch_s * scale)


def _device_s(techniques: Techniques, cost: OpCost, device: ComputeSpec, weight_format: str) -> float | None:
    """One instance's measured (or measured-curve) device time, or None when the table has none."""
    if techniques.kernel_table is None:
        return None
    found = kernel_time(techniques.kernel_table, cost.op, lambda op: roofline.op_cost(op, device).gpu_s,
                        weight_format)
    return None if found.how == MODELED else found.seconds


def _sped_up_s(techniques: Techniques, op: Op, predicted_s: float) -> float:
    """An operator's time after the kernel speedups that name its kind or role."""
    for name, factor in techniques.kernel_speedup:
        if name in (op.kind, op.role):
            return predicted_s / factor
    return predicted_s


_KV_PATH = {"attn_norm", "qkv_proj", "rotary", "kv_cache_write", "q_a_proj", "kv_a_proj"}


def _bytes_per_weight(op: Op) -> float:
    """Bytes per weight element of a GEMM (weights are n x k per expert)."""
    return op.weight_bytes / (op.n * op.k * op.experts) if op.n and op.k else 2.0
