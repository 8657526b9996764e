"""Measured kernel times, as data: GEMMs by weight shape (n x k) over the rows M they were measured
at, and attention by heads and head size over batch, new tokens and context. `hwsim.perf.kernel_table`
turns an operator into a time with them; `hwsim.loading.kernel_rows` builds them from measurement rows."""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base.errors import HwsimError


@dataclass(frozen=True)
class GemmFamily:
    """One weight shape of one kernel (`format`: the dtype or quantized format it ran), timed at
    several row counts M; `points` are (m, seconds) sorted by m."""

    n: int
    k: int
    format: str
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise HwsimError(f"GEMM family {self.n}x{self.k} has no measured points")
        for m, seconds in self.points:
            if not (m > 0 and seconds > 0):
                raise HwsimError(f"GEMM family {self.n}x{self.k}: m and seconds must be positive; got {m}, {seconds}")
        if list(self.points) != sorted(self.points):
            raise HwsimError(f"GEMM family {self.n}x{self.k}: points must be sorted by m")


@dataclass(frozen=True)
class AttentionFamily:
    """Attention of one head layout (query heads, KV heads, head size; decode or prefill) timed at
    several (batch, context) points; `points` are (batch, q_len, kv_len, seconds)."""

    heads: int
    kv_heads: int
    head_dim: int
    decode: bool
    points: tuple[tuple[float, int, float, float], ...]


@dataclass(frozen=True)
class KernelTable:
    """The measured kernels of one state of a system (before or after an optimization)."""

    hardware: str
    gemms: tuple[GemmFamily, ...] = ()
    attention: tuple[AttentionFamily, ...] = ()
    source: str = ""

    @property
    def empty(self) -> bool:
        return not (self.gemms or self.attention)

    def describe(self) -> str:
        formats = sorted({f.format for f in self.gemms})
        return (f"{len(self.gemms)} GEMM shapes ({', '.join(formats) or '-'}), "
                f"{len(self.attention)} attention layouts on {self.hardware}")
