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

@pytest.mark.parametrize("text, dimension, expected", [
    ("80 gib", "bytes", 80 * 2**30),
    ("80 GIB", "bytes", 80 * 2**30),
    ("50 mb", "bytes", 50e6),
    ("4.8 tb/s", "bytes_per_s", 4.8e12),
    ("989.4 tflop/s", "flops_per_s", 989.4e12),
    ("1978.9 tops", "flops_per_s", 1978.9e12),
    ("3 MS", "seconds", 3e-3),
    ("1980 mhz", "hertz", 1.98e9),
    ("700 w", "watts", 700.0),
])
def test_a_unit_in_one_case_throughout_reads_as_its_standard_spelling(text, dimension, expected):
    assert units.parse(text, dimension) == pytest.approx(expected)


def test_gb_and_gib_stay_distinct_in_lower_case():
    assert units.parse("1 gib", "bytes") / units.parse("1 gb", "bytes") == pytest.approx(1.073741824)


@pytest.mark.parametrize("text, dimension", [
    ("80 Gb", "bytes"),  # gigabits: hwsim reads bytes
    ("10 Gb/s", "bytes_per_s"),
    ("80 gB", "bytes"),
    ("700 mW", "watts"),  # milli or mega: mixed case is where SI draws its lines
    ("3 Ms", "seconds"),
])
def test_a_mixed_case_unit_must_be_the_standard_spelling(text, dimension):
    with pytest.raises(units.UnitError, match=f"unit {text.split()[1]!r} is not a unit of"):
        units.parse(text, dimension)


@pytest.mark.parametrize("text, expected", [
    ("1e400 GB", r"expected a finite quantity, like '80 GiB' or '50 MB'; got '1e400 GB'"),
    ("1e30 B", r"'1e30 B' is beyond any real hardware or workload; expected at most 1e\+18 B"),
    ("-1e30 B", r"'-1e30 B' is beyond any real hardware or workload"),
])
def test_quantities_beyond_any_real_figure_are_refused(text, expected):
    with pytest.raises(units.UnitError, match=expected):
        units.parse(text, "bytes")


@pytest.mark.parametrize("dimension", sorted(units.CEILINGS))
def test_every_dimension_has_a_ceiling_and_an_example_that_parses(dimension):
    value = units.parse(units.example(dimension).split("'")[1], dimension)
    assert 0 < value < units.CEILINGS[dimension]
