"""Weight formats and GEMM kernel curves: what a quantized format stores and how its kernel's
fractions depend on the number of activation rows."""
import math

import pytest

from hwsim.base.errors import HwsimError
from hwsim.specs.deployment import Precision
from hwsim.specs.kernels import WEIGHT_FORMATS, Curve, GemmKernel


def test_a_curve_is_linear_in_log_m_between_points_and_flat_beyond():
    curve = Curve(((1.0, 0.2), (16.0, 0.6)))
    assert curve.at(0.5) == 0.2 and curve.at(1.0) == 0.2
    assert curve.at(4.0) == pytest.approx(0.2 + 0.4 * math.log(4) / math.log(16))  # halfway in log M
    assert curve.at(16.0) == 0.6 and curve.at(1000.0) == 0.6


def test_curve_points_must_ascend_from_one_row():
    with pytest.raises(HwsimError, match="distinct, ascending"):
        Curve(((4.0, 0.5), (2.0, 0.6)))
    with pytest.raises(HwsimError, match="at least one"):
        Curve(())


def test_unpacking_repeats_for_every_tile_of_rows():
    per_row = GemmKernel("int4-tinygemm", "bf16", None, dequant_ops_per_weight=4.0, dequant_rows=1)
    marlin = GemmKernel("int4-marlin", "fp16", None, dequant_ops_per_weight=1.0, dequant_rows=64)
    once = GemmKernel("flexgen-int4-g64", "fp16", None, dequant_ops_per_weight=4.0)
    assert per_row.dequant_passes(37) == 37
    assert marlin.dequant_passes(37) == 1 and marlin.dequant_passes(65) == 2
    assert once.dequant_passes(1000) == 1


def test_a_format_sets_bits_per_weight_and_what_the_head_keeps():
    q4 = Precision.of(None, weight_format="q4_k_m")
    assert q4.dtype == "int4" and q4.weight_bytes_per_param == pytest.approx(4.85 / 8)
    assert q4.head_bytes_per_param == pytest.approx(6.5625 / 8)  # llama.cpp keeps the output tensor Q6_K
    tinygemm = Precision.of(None, weight_format="int4-tinygemm")
    assert tinygemm.weight_bytes_per_param == pytest.approx(4.25 / 8) and tinygemm.head_bytes_per_param == 2.0
    assert Precision.of(None, weight_bits=4.9, weight_format="q4_k_m").weight_bytes_per_param == pytest.approx(4.9 / 8)
    assert Precision.of(None).dtype == "bf16"


def test_a_format_refuses_a_dtype_it_cannot_store():
    with pytest.raises(HwsimError, match="weight format q8_0 stores int8 weights; it cannot be used with dtype int4"):
        Precision("int4", weight_format="q8_0")
    with pytest.raises(HwsimError, match="unknown weight format 'q3_k'"):
        Precision.of(None, weight_format="q3_k")


def test_every_format_has_a_source():
    assert all(f.source and 1 <= f.bits_per_weight <= 16 for f in WEIGHT_FORMATS.values())
