"""Strict YAML reading: required fields, typed values, and no key left unread."""
import pytest

from hwsim.base.errors import InputError
from hwsim.loading.fields import Fields, load_yaml


def fields(**data) -> Fields:
    return Fields(data, "profile.yaml")


def test_a_missing_required_field_is_named_with_its_file():
    with pytest.raises(InputError, match=r"^profile.yaml: name: missing required field$"):
        fields().string("name")


def test_a_null_value_takes_the_default():
    assert fields(rate=None).number("rate", 2.5) == 2.5


def test_numbers_yaml_reads_as_text_are_numbers():
    assert fields(parameters="671e9").number("parameters") == 671e9


@pytest.mark.parametrize("value", [True, "many", [1]])
def test_a_number_must_be_a_plain_number(value):
    with pytest.raises(InputError, match="expected a plain number"):
        fields(rate=value).number("rate")


def test_bounds_are_checked_and_stated():
    with pytest.raises(InputError, match=r"efficiency: must be at most 1.0; got 1.5"):
        fields(efficiency=1.5).number("efficiency", high=1.0)
    with pytest.raises(InputError, match=r"count: must be at least 1; got 0"):
        fields(count=0).integer("count")


def test_quantities_need_units_and_are_positive_unless_told_otherwise():
    assert fields(memory="80 GiB").quantity("memory", "bytes") == 80 * 2**30
    with pytest.raises(InputError, match="must be greater than zero"):
        fields(latency="0 s").quantity("latency", "seconds")
    assert fields(latency="0 s").quantity("latency", "seconds", positive=False) == 0.0


def test_a_choice_outside_the_list_names_the_choices():
    with pytest.raises(InputError, match=r"kind: expected one of cloud, owned; got 'rented'"):
        fields(kind="rented").string("kind", choices=("cloud", "owned"))


def test_sections_locate_errors_by_their_dotted_path():
    memory = fields(memory={"capacity": "lots"}).section("memory")
    with pytest.raises(InputError, match=r"^profile.yaml: memory.capacity: "):
        memory.quantity("capacity", "bytes")
    drives = fields(storage=[{"device": 1}]).sections("storage")
    with pytest.raises(InputError, match=r"storage\[0\].device: expected text"):
        drives[0].string("device")


def test_finish_rejects_a_key_nobody_read_and_lists_those_read():
    profile = fields(name="x", nmae="typo")
    profile.string("name")
    with pytest.raises(InputError, match=r"nmae: unknown field; expected one of name"):
        profile.finish()


def test_iterating_gives_the_keys_in_file_order_without_reading_them():
    profile = fields(b=1, a=2)
    assert list(profile) == ["b", "a"]
    with pytest.raises(InputError, match="unknown field"):
        profile.finish()


def test_a_yaml_file_must_hold_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="expected a mapping at the top level"):
        load_yaml(path)
