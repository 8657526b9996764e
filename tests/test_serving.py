"""The serving simulator: consistency with the analytic model, invariants, engine behaviour."""
from dataclasses import replace

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.estimate import estimate
from hwsim.serving.simulate import little_law, simulate
from hwsim.specs import deployment
from hwsim.specs.scenario import Disaggregation, EngineConfig, Scenario, Slo
from hwsim.specs.workload import Lengths, Workload

LLAMA = catalog.model("llama-3-8b")
H100 = catalog.system("h100-sxm")
NO_OVERHEAD = EngineConfig(step_overhead_s=0.0, request_overhead_s=0.0)


def scenario(workload, engine=NO_OVERHEAD, system=H100, model=LLAMA, **kwargs) -> Scenario:
    return Scenario("test", system, model, deployment.Precision(), workload, engine=engine, **kwargs)


def fixed(arrival="poisson", count=200, prompt=512, output=64, **kwargs) -> Workload:
    return Workload("w", arrival, count=count, prompt=Lengths("fixed", prompt), output=Lengths("fixed", output),
                    seed=3, **kwargs)


def test_single_request_reproduces_the_estimate():
    result = simulate(scenario(fixed("offline", count=1, prompt=700, output=300)))
    expected = estimate(LLAMA, H100, 1, 700, 300)
    row = result.requests.iloc[0]
    assert row["first_token_s"] == pytest.approx(expected.prefill_s, rel=1e-9)
    assert row["completion_s"] == pytest.approx(expected.end_to_end_s, rel=1e-3)
    assert len(result.steps) == 2  # the prefill, then one run of 299 identical decode steps


def test_littles_law_holds_on_the_records():
    result = simulate(scenario(replace(catalog.workload("chat"), count=600, rate_per_s=8.0)))
    in_system, rate_times_latency = little_law(result)
    assert in_system == pytest.approx(rate_times_latency, rel=0.05)


def test_kv_blocks_are_conserved_even_under_preemption():
    tight = replace(NO_OVERHEAD, gpu_memory_utilization=0.23)  # a small cache: sequences must be preempted
    result = simulate(scenario(fixed("offline", count=120, prompt=1000, output=800), tight))
    assert result.summary["preemptions"] > 0
    assert result.kv_blocks_free_at_end == result.kv_blocks_total
    assert (result.steps["kv_blocks_used"] <= result.steps["kv_blocks_total"]).all()
    assert (result.requests["completion_s"] >= result.requests["first_token_s"]).all()


def test_swap_preemption_moves_kv_over_the_host_link():
    tight = replace(NO_OVERHEAD, gpu_memory_utilization=0.23, preemption="swap")
    result = simulate(scenario(fixed("offline", count=120, prompt=1000, output=800), tight))
    assert result.summary["swaps"] > 0 and result.summary["swap_bytes"] > 0
    assert result.steps["transfer_s"].sum() > 0
    assert result.kv_blocks_free_at_end == result.kv_blocks_total


def test_swap_space_limit_falls_back_to_recompute():
    tiny_swap = replace(NO_OVERHEAD, gpu_memory_utilization=0.23, preemption="swap", swap_space_bytes=1.0)
    result = simulate(scenario(fixed("offline", count=120, prompt=1000, output=800), tiny_swap))
    assert result.summary["preemptions"] > 0 and result.summary["swaps"] == 0


def test_a_fixed_seed_reproduces_a_run_exactly():
    workload = replace(catalog.workload("chat"), count=300, rate_per_s=6.0)
    first, second = simulate(scenario(workload)), simulate(scenario(workload))
    assert first.requests.equals(second.requests) and first.steps.equals(second.steps)


def test_every_token_is_accounted_for():
    result = simulate(scenario(replace(catalog.workload("chat"), count=300, rate_per_s=6.0)))
    summary = result.summary
    assert summary["output_tokens_per_s"] * summary["duration_s"] == pytest.approx(
        result.requests["output_tokens"].sum())


def test_chunked_prefill_respects_the_token_budget():
    engine = replace(NO_OVERHEAD, max_num_batched_tokens=512, max_num_seqs=64)
    result = simulate(scenario(fixed("offline", count=8, prompt=3000, output=16), engine))
    tokens_per_step = result.steps["prefill_tokens"] + result.steps["decode_seqs"]
    assert tokens_per_step.max() <= 512
    assert (result.steps["prefill_tokens"] > 0).sum() >= 8 * 3000 // 512


def test_static_batching_wastes_slots_on_mixed_lengths():
    workload = Workload("w", "offline", count=256, prompt=Lengths("uniform", low=100, high=600),
                        output=Lengths("uniform", low=10, high=1000), seed=1)
    static = simulate(scenario(workload, replace(NO_OVERHEAD, batching="static", max_num_seqs=64)))
    mixed = simulate(scenario(workload, replace(NO_OVERHEAD, max_num_seqs=64)))
    assert static.summary["output_tokens_per_s"] < 0.8 * mixed.summary["output_tokens_per_s"]


def test_prefill_first_gives_lower_ttft_than_it_costs_in_itl():
    workload = replace(catalog.workload("chat"), count=400, rate_per_s=12.0)
    first = simulate(scenario(workload, replace(NO_OVERHEAD, batching="prefill_first")))
    mixed = simulate(scenario(workload))
    assert first.summary["tpot_p99_s"] > mixed.summary["tpot_p99_s"]


def test_two_replicas_serve_twice_the_saturated_load():
    workload = fixed("offline", count=2000, prompt=256, output=256)
    one = simulate(scenario(workload))
    two = simulate(scenario(workload, replicas=2))
    assert two.summary["output_tokens_per_s"] == pytest.approx(2 * one.summary["output_tokens_per_s"], rel=0.1)
    assert set(two.requests["replica"]) == {0, 1}


def test_least_outstanding_router_balances_uneven_requests():
    workload = Workload("w", "poisson", rate_per_s=30, count=600, prompt=Lengths("uniform", low=10, high=4000),
                        output=Lengths("uniform", low=10, high=600), seed=5)
    balanced = simulate(scenario(workload, replace(NO_OVERHEAD, router="least_outstanding"), replicas=3))
    tokens = balanced.requests.groupby("replica")["output_tokens"].sum()
    assert tokens.max() < 1.3 * tokens.min()


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


def test_overload_finishes_and_says_so():
    result = simulate(scenario(fixed("poisson", count=3000, rate_per_s=200.0, prompt=1000, output=300)))
    assert result.summary["overloaded"] is True
    calm = simulate(scenario(fixed("poisson", count=300, rate_per_s=1.0, prompt=200, output=50)))
    assert calm.summary["overloaded"] is False


def test_slo_attainment_and_goodput():
    workload = fixed("poisson", count=300, rate_per_s=5.0, prompt=500, output=100)
    strict = simulate(scenario(workload, slo=Slo(1e-4, None)))
    assert strict.summary["slo_attainment"] == 0.0 and strict.summary["goodput_requests_per_s"] == 0.0
    loose = simulate(scenario(workload))
    assert loose.summary["slo_attainment"] == 1.0


def test_closed_loop_keeps_the_concurrency():
    workload = Workload("users", "closed_loop", concurrency=8, count=80, prompt=Lengths("fixed", 200),
                        output=Lengths("fixed", 50))
    result = simulate(scenario(workload))
    assert result.steps["running"].max() <= 8
    assert result.summary["mean_batch"] > 6


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


def test_full_admission_never_preempts_and_prompt_admission_waits_for_whole_prompts():
    tight = replace(NO_OVERHEAD, gpu_memory_utilization=0.23)
    workload = fixed("offline", count=120, prompt=1000, output=800)
    full = simulate(scenario(workload, replace(tight, admission="full")))
    assert full.summary["preemptions"] == 0
    assert full.kv_blocks_free_at_end == full.kv_blocks_total
    on_demand = simulate(scenario(workload, tight))
    assert on_demand.summary["preemptions"] > 0  # decode growth outruns what admission reserved


def test_long_prompts_do_not_thrash_the_cache():
    """Admission waits for a whole prompt's blocks, so long prompts are not started only to be
    preempted and recomputed again and again."""
    engine = replace(NO_OVERHEAD, gpu_memory_utilization=0.3, max_num_batched_tokens=2048)
    result = simulate(scenario(fixed("offline", count=60, prompt=6000, output=200), engine))
    assert result.summary["preemptions"] < 60
