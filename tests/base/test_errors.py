"""Errors meant for people: where, what, and what was expected, on one line."""
from hwsim.base.errors import DoesNotFitError, HwsimError, InputError, UnknownIdError


def test_an_input_error_is_located_by_file_and_field():
    error = InputError("scenario.yaml", "engine.batching", "expected one of mixed, static")
    assert str(error) == "scenario.yaml: engine.batching: expected one of mixed, static"
    assert (error.source, error.field, error.message) == ("scenario.yaml", "engine.batching",
                                                          "expected one of mixed, static")
    assert str(InputError("scenario.yaml", "", "file not found")) == "scenario.yaml: file not found"


def test_an_unknown_id_suggests_close_matches():
    error = UnknownIdError("hardware", "h100-sxn", ["h100-sxm", "h100-pcie", "l4"])
    assert str(error) == "unknown hardware 'h100-sxn'; did you mean h100-sxm, h100-pcie?"


def test_an_unknown_id_with_nothing_close_lists_every_known_id_sorted():
    error = UnknownIdError("model", "gpt-5", ["llama-3-8b", "deepseek-v3"])
    assert str(error) == "unknown model 'gpt-5'; known: deepseek-v3, llama-3-8b"


def test_every_error_for_people_is_a_hwsim_error():
    for error in (InputError("a", "b", "c"), UnknownIdError("x", "y", []), DoesNotFitError("too big")):
        assert isinstance(error, HwsimError)
