"""A GEMM family's measured points must be positive and ordered by M."""
import pytest

from hwsim.base.errors import HwsimError
from hwsim.specs.kernel_table import GemmFamily, KernelTable


@pytest.mark.parametrize("points, expected", [
    ((), "no measured points"),
    (((1.0, -1e-5),), "must be positive"),
    (((4.0, 1e-5), (1.0, 1e-5)), "sorted by m"),
])
def test_gemm_families_reject_impossible_points(points, expected):
    with pytest.raises(HwsimError, match=expected):
        GemmFamily(4096, 4096, "bf16", points)


def test_a_table_describes_what_it_measured():
    table = KernelTable("h200-sxm", gemms=(GemmFamily(4096, 4096, "int4", ((1.0, 2e-5),)),))
    assert not table.empty and table.describe() == "1 GEMM shapes (int4), 0 attention layouts on h200-sxm"
    assert KernelTable("h200-sxm").empty
