"""Operator times from measured kernels (`specs.kernel_table.KernelTable`).

An operator whose shape was measured takes the measured time. Between measured shapes the time
follows the roofline's shape: the ratio of measured to modeled time is interpolated in log-log
along the dimension that varies (M for a GEMM, the context for attention) and multiplied by the
model's time at the operator's own shape, so a kernel that slows with M (a weight-only int4 GEMM
dequantizing per row) keeps its measured curve and never becomes one global factor. A GEMM whose
weight shape was not measured, in a table that measured the same kernel at other shapes, takes the
ratio of the nearest measured shape (by weight size) at its M. Anything else, or an M outside the
measured range, falls back to the model, and the lookup says so.

Kernel rows are taken as device time: rows timed back to back keep the device busy when each
kernel outlasts its dispatch, as the measured GEMMs and attention kernels do.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hwsim.perf.ops import Op
from hwsim.specs.kernel_table import AttentionFamily, GemmFamily, KernelTable

MEASURED, INTERPOLATED, SCALED, MODELED = "measured", "interpolated", "scaled from a measured shape", "modeled"


@dataclass(frozen=True)
class KernelTime:
    seconds: float  # one instance on the device
    how: str  # MEASURED, INTERPOLATED, SCALED or MODELED


def kernel_time(table: KernelTable, op: Op, modeled_s: Callable[[Op], float], weight_format: str) -> KernelTime:
    """One instance of `op` per `table`; `modeled_s(op)` is the model's device time of an operator,
    `weight_format` the deployment's weight dtype or format (a shape is only scaled from a measured
    shape of the same format)."""
    if op.kind == "gemm" and op.experts == 1.0 and op.m > 0:
        return _gemm_time(table.gemms, op, modeled_s, weight_format)
    if op.kind == "attention" and len(op.groups) == 1:
        return _attention_time(table.attention, op, modeled_s)
    return KernelTime(modeled_s(op), MODELED)


def _gemm_time(families: Sequence[GemmFamily], op: Op, modeled_s: Callable[[Op], float],
               weight_format: str) -> KernelTime:
    exact = sorted((f for f in families if (f.n, f.k) == (op.n, op.k)), key=lambda f: f.format != weight_format)
    family = exact[0] if exact else _nearest([f for f in families if f.format == weight_format], op)
    if family is None:
        return KernelTime(modeled_s(op), MODELED)

    def at(m: float) -> Op:
        return _with_rows(op, family, m)

    ratio = _ratio_at(family.points, op.m, lambda m: modeled_s(at(m)))
    if ratio is None:
        return KernelTime(modeled_s(op), MODELED)
    measured = exact and any(m == op.m for m, _ in family.points)
    how = MEASURED if measured else (INTERPOLATED if exact else SCALED)
    if measured:
        return KernelTime(next(s for m, s in family.points if m == op.m), how)
    return KernelTime(modeled_s(op) * ratio, how)


def _nearest(families: Sequence[GemmFamily], op: Op) -> GemmFamily | None:
    """The measured weight shape closest in weight size to the operator's (same kernel, other shape)."""
    if not families:
        return None
    size = op.n * op.k
    return min(families, key=lambda f: (abs(math.log(f.n * f.k / size)), f.n, f.k))


def _with_rows(op: Op, family: GemmFamily, m: float) -> Op:
    """`op` with the family's weight shape and `m` rows: the GEMM that was measured."""
    element = op.weight_bytes / (op.n * op.k) if op.n and op.k else 2.0
    act = op.act_bytes / (op.m * op.k + op.m * op.n) if op.m else 2.0
    return replace(op, m=m, n=family.n, k=family.k, flops=2.0 * m * family.n * family.k,
                   weight_bytes=family.n * family.k * element, act_bytes=(m * family.k + m * family.n) * act)


def _ratio_at(points: Sequence[tuple[float, float]], x: float, modeled_at: Callable[[float], float]) -> float | None:
    """Measured over modeled time at `x`, interpolated in log-log between the measured points
    around it; None outside the measured range."""
    xs = [p[0] for p in points]
    if x < xs[0] or x > xs[-1]:
        return None
    for (x0, s0), (x1, s1) in zip(points, points[1:], strict=False):
        if x0 <= x <= x1:
            r0, r1 = s0 / modeled_at(x0), s1 / modeled_at(x1)
            if x1 == x0:
                return r0
            w = math.log(x / x0) / math.log(x1 / x0)
            return math.exp((1 - w) * math.log(r0) + w * math.log(r1))
    return points[0][1] / modeled_at(xs[0])  # a single measured point equal to x


def _attention_time(families: Sequence[AttentionFamily], op: Op, modeled_s: Callable[[Op], float]) -> KernelTime:
    group = op.groups[0]
    decode = group.q_len == 1
    for family in families:
        if (family.heads, family.kv_heads, family.head_dim, family.decode) != (op.heads, op.kv_heads, op.head_dim,
                                                                               decode):
            continue
        same = sorted((kv, s) for b, q, kv, s in family.points if b == group.sequences and q == group.q_len) \
            if decode else sorted((kv, s) for b, q, kv, s in family.points if b == group.sequences)
        for kv, seconds in same:
            if kv == group.kv_len:
                return KernelTime(seconds, MEASURED)
        if not same:
            continue
        ratio = _ratio_at(same, group.kv_len, lambda kv: modeled_s(_attention_at(op, kv)))
        if ratio is not None:
            return KernelTime(modeled_s(op) * ratio, INTERPOLATED)
    return KernelTime(modeled_s(op), MODELED)


def _attention_at(op: Op, kv_len: float) -> Op:
    """`op` over a context of `kv_len` (prefill: kv_len new tokens), scaled through its FLOPs and bytes."""
    group = op.groups[0]
    scale_kv = kv_len / group.kv_len
    q_len = group.q_len if group.q_len == 1 else kv_len
    scale_flops = scale_kv if group.q_len == 1 else scale_kv ** 2
    new_group = type(group)(group.sequences, int(q_len), kv_len)
    return replace(op, groups=(new_group,), flops=op.flops * scale_flops, kv_read_bytes=op.kv_read_bytes * scale_kv,
                   act_bytes=op.act_bytes * (1 if group.q_len == 1 else scale_kv))
