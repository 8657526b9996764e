"""Measured kernels as operator times: exact shapes measured, shapes between measured ones along the
roofline's curve, other weight shapes of the same kernel scaled, the rest modeled."""
import math

import pytest

from hwsim.perf.kernel_table import INTERPOLATED, MEASURED, MODELED, SCALED, KernelTime, kernel_time
from hwsim.perf.ops import Op
from hwsim.specs.kernel_table import AttentionFamily, GemmFamily, KernelTable
from hwsim.specs.shape import AttnGroup


def gemm(m: float, n: int = 4096, k: int = 4096) -> Op:
    return Op("mlp_down", "gemm", "bf16", flops=2.0 * m * n * k, weight_bytes=2.0 * n * k,
              act_bytes=2.0 * (m * k + m * n), m=m, n=n, k=k)


def modeled(op: Op) -> float:
    """A toy model: 1 us per GEMM row plus 10 us."""
    return 1e-5 + op.m * 1e-6 if op.kind == "gemm" else 1e-5 * op.groups[0].kv_len / 1000


TABLE = KernelTable("h200-sxm", gemms=(GemmFamily(4096, 4096, "int4", ((1.0, 2.2e-5), (16.0, 2.6e-4))),))


def test_a_measured_shape_takes_its_measured_time():
    assert kernel_time(TABLE, gemm(16), modeled, "int4") == KernelTime(2.6e-4, MEASURED)


def test_between_measured_rows_the_measured_over_modeled_ratio_is_interpolated_in_log_m():
    found = kernel_time(TABLE, gemm(4), modeled, "int4")
    r1, r16 = 2.2e-5 / modeled(gemm(1)), 2.6e-4 / modeled(gemm(16))
    ratio = math.exp(0.5 * math.log(r1) + 0.5 * math.log(r16))  # M=4 is halfway from 1 to 16 in log
    assert found.how == INTERPOLATED and found.seconds == pytest.approx(modeled(gemm(4)) * ratio)


def test_other_weight_shapes_of_the_same_kernel_take_its_ratio_at_their_m():
    found = kernel_time(TABLE, gemm(16, n=6144), modeled, "int4")
    assert found.how == SCALED and found.seconds == pytest.approx(modeled(gemm(16, n=6144)) * 2.6e-4 / modeled(gemm(16)))
    assert kernel_time(TABLE, gemm(16, n=6144), modeled, "bf16").how == MODELED  # another kernel: not scaled


def test_outside_the_measured_rows_the_model_answers():
    assert kernel_time(TABLE, gemm(64), modeled, "int4") == KernelTime(modeled(gemm(64)), MODELED)


def attention(batch: int, kv_len: int) -> Op:
    return Op("attention", "attention", "bf16", groups=(AttnGroup(batch, 1, kv_len),), heads=32, kv_heads=8,
              head_dim=128)


def test_decode_attention_follows_its_measured_context_curve():
    table = KernelTable("h200-sxm", attention=(AttentionFamily(32, 8, 128, True,
                                                               ((8, 1, 1024, 4e-5), (8, 1, 4096, 1.2e-4))),))
    assert kernel_time(table, attention(8, 1024), modeled, "bf16") == KernelTime(4e-5, MEASURED)
    between = kernel_time(table, attention(8, 2048), modeled, "bf16")
    assert between.how == INTERPOLATED and 4e-5 < between.seconds < 1.2e-4
    assert kernel_time(table, attention(16, 2048), modeled, "bf16").how == MODELED  # another batch
