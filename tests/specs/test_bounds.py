"""The specifications refuse what cannot be simulated however they are built: impossible model
shapes, workloads too large to finish, experts placed on a dense model, a class placed twice."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.specs.deployment import Deployment
from hwsim.specs.models import Model, Moe, ShapeError
from hwsim.specs.placement import parse
from hwsim.specs.workload import MAX_REQUESTS, MAX_TOKENS_PER_REQUEST, Lengths, Workload

LLAMA = catalog.model("llama-3-8b")
MIXTRAL = catalog.model("mixtral-8x7b")


@pytest.mark.parametrize("changes, expected", [
    ({"num_heads": 0}, "num_heads: must be at least 1; got 0"),
    ({"num_layers": 10**9}, "num_layers: must be at most 10,000; got 1000000000"),
    ({"num_kv_heads": 7}, r"num_kv_heads: must divide num_heads \(32\); got 7"),
    ({"hidden_size": 4096.0}, "hidden_size: expected a whole number; got 4096.0"),
    ({"moe": Moe(experts=8, top_k=9, expert_intermediate_size=16)}, r"moe.top_k: must not exceed experts \(8\)"),
    ({"moe": Moe(experts=0, top_k=0, expert_intermediate_size=16)}, "moe.experts: must be at least 1; got 0"),
])
def test_a_model_with_an_impossible_shape_cannot_be_built(changes, expected):
    with pytest.raises(ShapeError, match=expected):
        replace(LLAMA, **changes)


def test_a_shape_error_names_the_profile_field_it_is_about():
    with pytest.raises(ShapeError) as error:
        replace(LLAMA, num_kv_heads=7)
    assert (error.value.field, error.value.message) == ("num_kv_heads", "must divide num_heads (32); got 7")


def test_every_shipped_model_is_within_the_bounds():
    for model_id in catalog.model_ids():
        assert isinstance(catalog.model(model_id), Model)


@pytest.mark.parametrize("lengths, expected", [
    (dict(kind="fixed", value=0), "a fixed length must be between 1 and 10,000,000 tokens; got 0"),
    (dict(kind="fixed", value=MAX_TOKENS_PER_REQUEST + 1), "must be between 1 and 10,000,000 tokens"),
    (dict(kind="uniform", low=10, high=5), r"uniform high must be at least low \(10\); got 5"),
    (dict(kind="lognormal", low=5000, high=100, median=400, sigma=1), r"lognormal high must be at least low \(5000\)"),
    (dict(kind="lognormal", low=1, high=100, median=float("nan"), sigma=1), r"lognormal median must be between low \(1\) and high \(100\); got nan"),
    (dict(kind="lognormal", low=1, high=100, median=400, sigma=1), "lognormal median must be between low"),
    (dict(kind="lognormal", low=1, high=100, median=50, sigma=float("inf")), "lognormal sigma must be between 0 and 10"),
    (dict(kind="empirical", values=()), "empirical lengths need at least one value"),
    (dict(kind="empirical", values=(3, 2.5)), "an empirical length must be a whole number of tokens; got 2.5"),
    (dict(kind="zipf"), "lengths kind 'zipf' is not one of fixed, uniform, lognormal, empirical"),
])
def test_lengths_no_request_has_are_refused(lengths, expected):
    with pytest.raises(HwsimError, match=expected):
        Lengths(**lengths)


@pytest.mark.parametrize("workload, expected", [
    (dict(arrival="offline", count=MAX_REQUESTS + 1), f"workload w: at most {MAX_REQUESTS:,} requests can be simulated"),
    (dict(arrival="closed_loop", concurrency=10**12, count=5), f"at most {MAX_REQUESTS:,} requests can be simulated"),
    (dict(arrival="poisson", rate_per_s=float("inf"), count=5), "workload w: rate_per_s must be finite; got inf"),
    (dict(arrival="poisson", rate_per_s=1e3, duration_s=1e7),
     r"a duration of 1e\+07 s at 1000 requests/s is about 10,000,000,000 requests"),
    (dict(arrival="gamma", rate_per_s=1.0, cv=0.0, count=5), r"gamma cv must be in \(0, 100\]; got 0"),
    (dict(arrival="trace", trace=pd.DataFrame({"timestamp_s": np.zeros(MAX_REQUESTS + 1)})),
     f"the trace has {MAX_REQUESTS + 1:,} requests"),
])
def test_workloads_too_large_to_simulate_are_refused(workload, expected):
    with pytest.raises(HwsimError, match=expected):
        Workload("w", **workload)


def test_an_offline_run_may_call_its_rate_infinite():
    assert Workload("w", "offline", rate_per_s=float("inf"), count=3).requests()["arrival_s"].eq(0).all()


def test_experts_cannot_be_placed_on_a_dense_model():
    system = catalog.system("h100-sxm")
    with pytest.raises(HwsimError, match="placement experts=device,host: llama-3-8b is a dense model with no "
                                         "routed experts to place"):
        Deployment(LLAMA, system, placement=parse("experts=device:0.5,host:0.5"))
    assert Deployment(MIXTRAL, system, placement=parse("experts=host")).placement.share("experts", "host") == 1.0


@pytest.mark.parametrize("text, expected", [
    ("kv=host;kv=device", "placement: kv is named twice in 'kv=host;kv=device'; give each class once"),
    ("attention_compute=host;attention_compute=device", "attention_compute is named twice"),
    ("weights=device:0.5,device:0.5", "placement weights: tier device is named twice"),
    ("kv=", r"placement kv: expected tier\[:fraction\],... \(e.g. kv=host\); got nothing"),
    ("weights=device:nan,host:nan", "placement weights: fraction of device must be between 0 and 1; got nan"),
])
def test_a_placement_names_each_class_and_tier_once_with_real_fractions(text, expected):
    with pytest.raises(HwsimError, match=expected):
        parse(text)
