"""Traffic as data: requests generated deterministically from a seed, and arrivals that must make sense."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hwsim.base.errors import HwsimError
from hwsim.specs.workload import Lengths, Workload

POISSON = Workload("w", "poisson", rate_per_s=5.0, count=200, prompt=Lengths("uniform", low=10, high=20),
                   output=Lengths("lognormal", low=1, high=500, median=50, sigma=0.5), seed=11)


def test_the_same_seed_gives_the_same_requests_and_another_seed_others():
    assert POISSON.requests().equals(POISSON.requests())
    other = replace(POISSON, seed=12).requests()
    assert not other["arrival_s"].equals(POISSON.requests()["arrival_s"])


def test_requests_are_numbered_and_the_first_arrives_at_zero():
    requests = POISSON.requests()
    assert list(requests.columns) == ["request", "arrival_s", "prompt_tokens", "output_tokens"]
    assert list(requests["request"]) == list(range(200))
    assert requests["arrival_s"].iloc[0] == 0.0 and requests["arrival_s"].is_monotonic_increasing


def test_lengths_stay_within_their_bounds():
    requests = POISSON.requests()
    assert requests["prompt_tokens"].between(10, 20).all() and set(requests["prompt_tokens"]) > {10, 20}
    assert requests["output_tokens"].between(1, 500).all()
    rng = np.random.default_rng(0)
    assert list(Lengths("fixed", 7).sample(rng, 3)) == [7, 7, 7]
    assert set(Lengths("empirical", values=(3, 9)).sample(rng, 50)) == {3, 9}


def test_a_trace_replays_its_own_times_from_zero():
    trace = pd.DataFrame({"timestamp_s": [10.0, 10.5, 12.0], "prompt_tokens": [5, 6, 7], "output_tokens": [1, 2, 3]})
    requests = Workload("t", "trace", trace=trace).requests()
    assert list(requests["arrival_s"]) == [0.0, 0.5, 2.0] and list(requests["request"]) == [0, 1, 2]
    assert list(requests["prompt_tokens"]) == [5, 6, 7]


@pytest.mark.parametrize("kwargs, expected", [
    ({"arrival": "sometimes"}, "workload w: arrival 'sometimes' is not one of poisson, gamma, closed_loop, offline, trace"),
    ({"arrival": "poisson"}, "workload w: arrival rate must be greater than zero; got 0"),
    ({"arrival": "gamma", "rate_per_s": -1.0}, "workload w: arrival rate must be greater than zero; got -1"),
    ({"arrival": "closed_loop"}, "workload w: closed_loop concurrency must be at least 1"),
])
def test_arrivals_that_cannot_happen_are_refused(kwargs, expected):
    with pytest.raises(HwsimError) as error:
        Workload("w", count=4, **kwargs)
    assert str(error.value) == expected
