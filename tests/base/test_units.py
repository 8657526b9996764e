import pytest

from hwsim.base import units


@pytest.mark.parametrize(
    "text, dimension, expected",
    [
        ("80 GiB", "bytes", 80 * 2**30),
        ("50 MB", "bytes", 50e6),
        ("4.8 TB/s", "bytes_per_s", 4.8e12),
        ("989.4 TFLOP/s", "flops_per_s", 989.4e12),
        ("1978.9 TOP/s", "flops_per_s", 1978.9e12),
        ("20 us", "seconds", 20e-6),
        ("3 ms", "seconds", 3e-3),
        ("700 W", "watts", 700.0),
        ("1980 MHz", "hertz", 1.98e9),
    ],
)
def test_quantities_parse_to_si(text, dimension, expected):
    assert units.parse(text, dimension) == pytest.approx(expected)


def test_gb_and_gib_are_different_units():
    assert units.parse("1 GiB", "bytes") / units.parse("1 GB", "bytes") == pytest.approx(1.073741824)


@pytest.mark.parametrize("text", [80, "80", "80 GB/s", "fast"])
def test_bytes_reject_bare_numbers_and_wrong_units(text):
    with pytest.raises(units.UnitError) as info:
        units.parse(text, "bytes")
    assert "GiB" in str(info.value)  # the message shows what was expected
