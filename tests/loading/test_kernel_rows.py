"""Kernel rows become kernel tables: GEMMs grouped by weight shape and format over M, attention by
head layout over batch and context; mixed hardware or no kernel rows are errors."""
from pathlib import Path

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import measurements
from hwsim.loading.kernel_rows import kernel_table

INT4 = Path(__file__).resolve().parents[2] / "validation" / "pairs" / "int4"


def test_the_int4_rows_are_two_weight_shapes_measured_at_five_row_counts():
    table = kernel_table(measurements.read(INT4 / "after.csv"), "after.csv")
    assert table.hardware == "h200-sxm" and table.attention == ()
    assert [(f.n, f.k, f.format) for f in table.gemms] == [(4096, 14336, "int4-tinygemm"), (28672, 4096, "int4-tinygemm")]
    assert [m for m, _ in table.gemms[0].points] == [1.0, 4.0, 16.0, 64.0, 256.0]


def row(**cells: str) -> measurements.Row:
    return measurements.Row({"id": "r", "hardware": "h200-sxm", "metric": "seconds", "value": "1e-5", **cells}, "t.csv")


def test_attention_rows_form_curves_per_head_layout():
    rows = [row(kind="attention", phase="decode", batch="8", kv_len=str(kv), heads_q="32", heads_kv="8",
                head_dim="128") for kv in (4096, 1024)]
    (family,) = kernel_table(rows, "t.csv").attention
    assert (family.heads, family.kv_heads, family.head_dim, family.decode) == (32, 8, 128, True)
    assert [p[2] for p in family.points] == [1024.0, 4096.0]


@pytest.mark.parametrize("rows, expected", [
    ([row(kind="step")], "no kernel rows"),
    ([row(kind="gemm", m="1", n="2", k="3"), row(kind="gemm", m="1", n="2", k="3", hardware="h100-sxm")],
     "different hardware"),
    ([row(kind="gemm", m="1", n="2", k="3", metric="flops_per_s")], "timed in seconds"),
])
def test_bad_kernel_files_name_the_problem(rows, expected):
    with pytest.raises(HwsimError, match=expected):
        kernel_table(rows, "t.csv")
