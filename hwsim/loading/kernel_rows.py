"""Kernel tables from measurement rows: GEMM rows grouped by weight shape, attention rows by head
layout, each a curve over the dimension that was varied. Rows of other kinds are left to their
callers; rows of more than one hardware, or a table with no kernel rows, are errors naming the file."""
from __future__ import annotations

from collections import defaultdict

from hwsim.base.errors import HwsimError
from hwsim.loading.measurements import Row, RowError
from hwsim.specs.kernel_table import AttentionFamily, GemmFamily, KernelTable

KERNEL_KINDS = ("gemm", "attention")


def kernel_format(row: Row) -> str:
    """What kernel ran: its quantized format when the row names one, else its dtype."""
    return row.text("weight_format", "") or row.text("dtype", "bf16")


def kernel_table(rows: list[Row], source: str) -> KernelTable:
    """The kernel rows of `rows` (timed in seconds) as a table; `source` names the files in errors."""
    kernel = [r for r in rows if r.kind in KERNEL_KINDS]
    if not kernel:
        raise HwsimError(f"{source}: no kernel rows (kind gemm or attention); expected measured kernels")
    hardware = {r.text("hardware", "") for r in kernel}
    if len(hardware) != 1:
        raise HwsimError(f"{source}: kernel rows of different hardware ({', '.join(sorted(hardware))}); "
                         f"expected one system per state")
    try:
        return KernelTable(hardware.pop(), _gemms(kernel), _attention(kernel), source)
    except RowError as exc:
        raise HwsimError(f"{source}: {exc}") from None


def _seconds(row: Row) -> float:
    if row.metric != "seconds":
        raise RowError(f"row {row.id}: kernel rows must be timed in seconds; got metric {row.metric!r}")
    return row.number("value")


def _gemms(rows: list[Row]) -> tuple[GemmFamily, ...]:
    curves: dict[tuple[int, int, str], dict[float, float]] = defaultdict(dict)
    for row in rows:
        if row.kind == "gemm":
            curves[(row.integer("n"), row.integer("k"), kernel_format(row))][row.number("m")] = _seconds(row)
    return tuple(GemmFamily(n, k, fmt, tuple(sorted(points.items()))) for (n, k, fmt), points in sorted(curves.items()))


def _attention(rows: list[Row]) -> tuple[AttentionFamily, ...]:
    curves: dict[tuple[int, int, int, bool], list[tuple[float, int, float, float]]] = defaultdict(list)
    for row in rows:
        if row.kind != "attention":
            continue
        decode = row.text("phase", "decode") == "decode"
        q_len = 1 if decode else row.integer("q_len", row.integer("kv_len"))
        key = (row.integer("heads_q"), row.integer("heads_kv"), row.integer("head_dim"), decode)
        curves[key].append((row.number("batch", 1.0), q_len, row.number("kv_len"), _seconds(row)))
    return tuple(AttentionFamily(h, kv, d, decode, tuple(sorted(points)))
                 for (h, kv, d, decode), points in sorted(curves.items()))
