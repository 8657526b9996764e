"""A step's body (every operator before the head but attention) as a function of its token count.

A serving run meets thousands of distinct prefill token counts, and building and pricing a step's
operators for each new one costs ~80 us. For a dense model whose GEMMs run the plain kernels (no
quantized-weight kernel, whose efficiency depends on the rows it multiplies, and no routed experts,
whose number depends on the tokens), every body operator's FLOPs and bytes are affine in the token
count, so its compute and memory times at the achievable rates are too, and a collective's time is
affine in the bytes it reduces. The real operators priced at two token counts far apart give each
operator's two lines; a step of T tokens is then, per operator, the roofline's p-norm of its two
times at T plus its fixed cost per kernel, times its layers: the arithmetic of `roofline.op_cost`
in graph launch, from the same numbers.

The lines are checked before they are used: priced at a third token count the operators must be the
same ones and lie on their lines (to `CHECK_REL`), or the step model keeps pricing operators.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from hwsim.perf.roofline import OpCost, smooth_max

ANCHORS = (2, 4098)  # token counts whose operators give the lines (one token is a decode step: other operators)
CHECK_TOKENS = 1000  # a token count whose operators must lie on the lines
CHECK_REL = 1e-12
Busy = tuple[float, float, float]  # (time, compute busy, memory busy) of one device, seconds


class _Kernel(NamedTuple):
    """One kernel operator: its times at T tokens are `compute_s + compute_per_token_s * T` and the
    same for memory; `fixed_s` is its fixed cost per instance, `repeat` its instances (layers)."""

    repeat: int
    fixed_s: float
    compute_s: float
    compute_per_token_s: float
    memory_s: float
    memory_per_token_s: float


class LinearBody:
    """The body's (time, compute busy, memory busy) at any token count from `ANCHORS[0]` up."""

    def __init__(self, kernels: list[_Kernel], collective_s: float, collective_per_token_s: float,
                 sharpness: float):
        self.kernels = kernels
        self.collective_s = collective_s  # every collective together, at T tokens: this plus T x the next
        self.collective_per_token_s = collective_per_token_s
        self.sharpness = sharpness

    @classmethod
    def of(cls, price: Callable[[int], list[OpCost]], sharpness: float, kernel_overhead_s: float) -> LinearBody | None:
        """The lines of the operators `price(tokens)` gives, or None when they are not all affine in the
        tokens (quantized-weight GEMMs, routed experts, or anything that fails the check)."""
        low, high = (price(tokens) for tokens in ANCHORS)
        check = price(CHECK_TOKENS)
        if not _same_operators(low, high, check):
            return None
        span = ANCHORS[1] - ANCHORS[0]
        kernels: list[_Kernel] = []
        collective_s = collective_per_token_s = 0.0
        for a, b, c in zip(low, high, check, strict=True):
            if a.op.kind == "collective":
                per_token_s = (b.time_s - a.time_s) / span
                if not _close(a.time_s + per_token_s * (CHECK_TOKENS - ANCHORS[0]), c.time_s):
                    return None
                collective_per_token_s += per_token_s
                collective_s += a.time_s - per_token_s * ANCHORS[0]
                continue
            compute_slope, memory_slope = (b.compute_s - a.compute_s) / span, (b.memory_s - a.memory_s) / span
            kernel = _Kernel(a.op.repeat, a.op.kernels * kernel_overhead_s,
                             a.compute_s - compute_slope * ANCHORS[0], compute_slope,
                             a.memory_s - memory_slope * ANCHORS[0], memory_slope)
            if not (_close(kernel.compute_s + compute_slope * CHECK_TOKENS, c.compute_s)
                    and _close(kernel.memory_s + memory_slope * CHECK_TOKENS, c.memory_s)):
                return None
            kernels.append(kernel)
        body = cls(kernels, collective_s, collective_per_token_s, sharpness)
        if not _close(body(CHECK_TOKENS)[0], sum(c.time_s for c in check)):
            return None  # a kernel's time is not its fixed cost plus the p-norm of its two times
        return body

    def __call__(self, tokens: int | float) -> Busy:
        """The body of a step of `tokens` tokens (at least `ANCHORS[0]`)."""
        time_s, compute_total_s, memory_total_s = self.collective_s + self.collective_per_token_s * tokens, 0.0, 0.0
        sharpness = self.sharpness
        for repeat, fixed_s, compute_s, compute_per_token_s, memory_s, memory_per_token_s in self.kernels:
            compute_s += compute_per_token_s * tokens
            memory_s += memory_per_token_s * tokens
            time_s += (fixed_s + smooth_max(compute_s, memory_s, sharpness)) * repeat
            compute_total_s += compute_s * repeat
            memory_total_s += memory_s * repeat
        return time_s, compute_total_s, memory_total_s


def _same_operators(*priced: list[OpCost]) -> bool:
    """The same operators, in order, each plain (no quantized-weight kernel, no routed experts) and
    differing only in what the tokens change."""
    first = priced[0]
    if any(len(costs) != len(first) for costs in priced):
        return False
    for costs in zip(*priced, strict=True):
        op = costs[0].op
        if op.weight_format or op.block == "moe" or op.kind not in ("gemm", "elementwise", "collective"):
            return False
        if any((c.op.role, c.op.kind, c.op.repeat, c.op.kernels, c.op.dtype) != (op.role, op.kind, op.repeat,
                                                                                  op.kernels, op.dtype)
               for c in costs):
            return False
    return True


def _close(value: float, expected: float) -> bool:
    return abs(value - expected) <= CHECK_REL * max(abs(expected), 1e-30)
