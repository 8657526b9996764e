"""The serving simulator end to end: consistency with the analytic model, invariants, pools of replicas."""
from dataclasses import replace

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.estimate import estimate
from hwsim.serving.simulate import little_law, simulate
from hwsim.specs import deployment
from hwsim.specs.deployment import Deployment
from hwsim.specs.placement import parse
from hwsim.specs.scenario import Disaggregation, EngineConfig, Scenario
from hwsim.specs.workload import Lengths, Workload

from .scenarios import H100, LLAMA, NO_OVERHEAD, fixed, scenario


def test_single_request_reproduces_the_estimate():
    result = simulate(scenario(fixed("offline", count=1, prompt=700, output=300)))
    expected = estimate(Deployment(LLAMA, H100), 1, 700, 300)
    row = result.requests.iloc[0]
    assert row["first_token_s"] == pytest.approx(expected.prefill_s, rel=1e-9)
    assert row["completion_s"] == pytest.approx(expected.end_to_end_s, rel=1e-3)
    assert len(result.steps) == 2  # the prefill, then one run of 299 identical decode steps


def test_littles_law_holds_on_the_records():
    result = simulate(scenario(replace(catalog.workload("chat"), count=600, rate_per_s=8.0)))
    in_system, rate_times_latency = little_law(result)
    assert in_system == pytest.approx(rate_times_latency, rel=0.05)


def test_a_fixed_seed_reproduces_a_run_exactly():
    workload = replace(catalog.workload("chat"), count=300, rate_per_s=6.0)
    first, second = simulate(scenario(workload)), simulate(scenario(workload))
    assert first.requests.equals(second.requests) and first.steps.equals(second.steps)


def test_every_token_is_accounted_for():
    result = simulate(scenario(replace(catalog.workload("chat"), count=300, rate_per_s=6.0)))
    summary = result.summary
    assert summary["output_tokens_per_s"] * summary["duration_s"] == pytest.approx(
        result.requests["output_tokens"].sum())


def test_two_replicas_serve_twice_the_saturated_load():
    workload = fixed("offline", count=2000, prompt=256, output=256)
    one = simulate(scenario(workload))
    two = simulate(scenario(workload, replicas=2))
    assert two.summary["output_tokens_per_s"] == pytest.approx(2 * one.summary["output_tokens_per_s"], rel=0.1)
    assert set(two.requests["replica"]) == {0, 1}


def test_tensor_parallel_replica_is_faster_per_token():
    workload = fixed("poisson", count=100, rate_per_s=2.0, prompt=512, output=128)
    one = simulate(scenario(workload, system=catalog.system("h100-sxm", 1)))
    two = simulate(scenario(workload, system=catalog.system("h100-sxm", 2)))
    assert two.summary["tpot_mean_s"] < one.summary["tpot_mean_s"]


def test_disaggregated_prefill_and_decode_pools_hand_over_the_kv_cache():
    workload = fixed("poisson", count=200, rate_per_s=10.0, prompt=2000, output=100)
    link = catalog.link("infiniband-hdr")
    split = simulate(scenario(workload, disaggregation=Disaggregation(1, 1, link)))
    assert set(split.requests["replica"]) == {1}  # every request ends on the decode replica
    assert (split.requests["first_token_s"] > split.requests["arrival_s"]).all()
    assert split.kv_blocks_free_at_end == split.kv_blocks_total


def test_closed_loop_keeps_the_concurrency():
    workload = Workload("users", "closed_loop", concurrency=8, count=80, prompt=Lengths("fixed", 200),
                        output=Lengths("fixed", 50))
    result = simulate(scenario(workload))
    assert result.steps["running"].max() <= 8
    assert result.summary["mean_batch"] > 6


def test_progress_is_reported_about_a_hundred_times_and_at_the_end():
    calls = []
    simulate(scenario(fixed("offline", count=250, prompt=64, output=8)), progress=lambda *a: calls.append(a))
    assert calls[-1] == (250, 250)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert 100 <= len(calls) <= 126


def test_prompt_longer_than_the_kv_cache_fails_up_front():
    with pytest.raises(HwsimError, match="KV blocks"):
        simulate(scenario(fixed("offline", count=1, prompt=8000, output=100),
                          replace(NO_OVERHEAD, gpu_memory_utilization=0.21)))


def test_model_that_does_not_fit_fails_up_front():
    with pytest.raises(HwsimError, match="no room for a KV cache"):
        simulate(scenario(fixed("offline"), model=catalog.model("llama-3-70b")))


def test_a_zero_rate_is_rejected():
    with pytest.raises(HwsimError, match="rate must be greater than zero"):
        fixed("poisson", rate_per_s=0.0)


def test_an_unknown_router_is_named():
    with pytest.raises(HwsimError, match="unknown engine.router 'random'"):
        simulate(scenario(fixed("offline", count=4), replace(NO_OVERHEAD, router="random")))


def test_offloaded_serving_runs_and_keeps_kv_in_host_memory():
    workload = Workload("block", "offline", count=16, prompt=Lengths("fixed", 512), output=Lengths("fixed", 8))
    scenario = Scenario("off", catalog.system("flexgen-t4"), catalog.model("opt-30b"), deployment.Precision("fp16"), workload,
                        engine=EngineConfig(batching="static", max_num_seqs=16),
                        placement=parse("weights=device:0.2,host:0.8;kv=host;act=host"))
    result = simulate(scenario)
    assert result.kv_blocks_total > 16 * (520 // 16)  # host DRAM holds the cache, not the 16 GB T4
    assert result.summary["output_tokens_per_s"] > 0
