"""Errors for people cross process boundaries (a plan's worker pool) and copies unchanged."""
import copy
import pickle

import pytest

from hwsim.base.errors import DoesNotFitError, HwsimError, InputError, UnknownIdError
from hwsim.specs.models import ShapeError

ERRORS = [
    InputError("scenario.yaml", "engine.batching", "expected one of mixed, static"),
    InputError("scenario.yaml", "", "file not found"),
    UnknownIdError("model", "nope", ["llama-3-8b", "llama-3-70b"]),
    DoesNotFitError("too big"),
    HwsimError("plain"),
    ShapeError("num_kv_heads", "must divide num_heads (32); got 7"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_an_error_pickles_and_copies_to_the_same_type_and_message(error):
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(again) is type(error) and str(again) == str(error)


def test_an_input_error_keeps_its_parts_across_a_pickle():
    again = pickle.loads(pickle.dumps(ERRORS[0]))
    assert (again.source, again.field, again.message) == ("scenario.yaml", "engine.batching",
                                                          "expected one of mixed, static")
