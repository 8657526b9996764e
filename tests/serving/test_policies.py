"""Scheduling policies: one object per name a scenario may use, and what each one does."""
from dataclasses import replace

import pytest
import simpy

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.serving import policies
from hwsim.serving.engine import Replica, ReplicaSetup, Seq
from hwsim.serving.simulate import simulate
from hwsim.specs import scenario as scenario_spec
from hwsim.specs.workload import Lengths, Workload

from .scenarios import H100, NO_OVERHEAD, fixed, scenario
from .steps import ENGINE, STEP_S, ConstantSteps, replica, rows, serve


def test_every_name_a_scenario_accepts_has_a_policy():
    assert tuple(policies.BATCHING) == scenario_spec.BATCHING
    assert tuple(policies.PREEMPTION) == scenario_spec.PREEMPTION
    assert tuple(policies.ROUTERS) == scenario_spec.ROUTERS
    assert tuple(policies.ADMISSION) == ("prompt", "full")


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(HwsimError, match=r"unknown engine.router 'random'; expected one of round_robin, "
                                         r"least_outstanding"):
        policies.choose(policies.ROUTERS, "random", "engine.router")


# --- batching ------------------------------------------------------------------------------


def test_mixed_batching_runs_a_new_prompt_in_the_same_step_as_the_decodes():
    engine = replica()
    serve(engine, (0.0, 16, 50), (2.5 * STEP_S, 16, 5))
    later_prefill = [r for r in rows(engine) if r["prefill_tokens"]][1]
    assert later_prefill["decode_seqs"] == 1 and later_prefill["running"] == 2


def test_prefill_first_runs_a_new_prompt_alone_while_the_decodes_wait():
    engine = replica(replace(ENGINE, batching="prefill_first"))
    serve(engine, (0.0, 16, 50), (2.5 * STEP_S, 16, 5))
    later_prefill = [r for r in rows(engine) if r["prefill_tokens"]][1]
    assert later_prefill["decode_seqs"] == 0 and later_prefill["running"] == 2


def test_inflight_batching_never_cuts_a_prompt_to_fill_the_budget():
    budget = replace(ENGINE, max_num_batched_tokens=40, max_num_seqs=8)
    chunked = replica(budget)
    serve(chunked, (0.0, 30, 5), (0.0, 30, 5))
    assert [r["prefill_tokens"] for r in rows(chunked) if r["prefill_tokens"]] == [40, 20]  # the second prompt cut
    whole = replica(replace(budget, batching="inflight"))
    serve(whole, (0.0, 30, 5), (0.0, 30, 5))
    first, second = [r for r in rows(whole) if r["prefill_tokens"]]
    assert first["prefill_tokens"] == 30 and second["prefill_tokens"] == 30  # the second waits for room
    assert second["decode_seqs"] == 1  # and shares its step with the first one's decode


def test_inflight_batching_runs_a_prompt_larger_than_the_budget_alone():
    engine = replica(replace(ENGINE, batching="inflight", max_num_batched_tokens=40, max_num_seqs=8))
    seqs = serve(engine, (0.0, 64, 3), (0.0, 16, 3))
    assert all(s.completion_s is not None for s in seqs)
    assert [r["prefill_tokens"] for r in rows(engine) if r["prefill_tokens"]][0] == 64


def test_static_batching_decodes_every_slot_until_the_longest_is_done():
    engine = replica(replace(ENGINE, batching="static"))
    short, long = serve(engine, (0.0, 16, 3), (0.0, 16, 5))
    assert short.first_token_s == long.first_token_s == pytest.approx(STEP_S)
    assert short.completion_s == pytest.approx(3 * STEP_S) and long.completion_s == pytest.approx(5 * STEP_S)
    assert [r["steps"] for r in rows(engine)] == [1, 4]  # the prefill, then 4 decode steps for both slots
    assert engine.pool.free == engine.pool.total


def test_static_batching_fails_when_a_request_can_never_fit():
    engine = replica(replace(ENGINE, batching="static"), total_blocks=2)
    with pytest.raises(RuntimeError, match="does not fit the KV cache"):
        serve(engine, (0.0, 16, 40))


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


# --- admission -----------------------------------------------------------------------------


def test_admission_targets_the_prompt_or_the_whole_generation():
    seq = Seq(0, 0.0, prompt=100, output=50, generated=10)
    assert policies.ADMISSION["prompt"].target_tokens(seq) == 110
    assert policies.ADMISSION["full"].target_tokens(seq) == 150


# --- preemption ----------------------------------------------------------------------------


def _replica_with(host_link, swap_bytes: float) -> Replica:
    return replica(replace(ENGINE, swap_space_bytes=swap_bytes), host_link=host_link)


def test_swap_keeps_kv_on_the_host_only_with_a_link_and_room():
    swap = policies.PREEMPTION["swap"]
    assert swap.swaps_out(_replica_with(H100.host_link, 100.0), 100.0)
    assert not swap.swaps_out(_replica_with(H100.host_link, 99.0), 100.0)
    assert not swap.swaps_out(_replica_with(None, 1e12), 100.0)
    assert not policies.PREEMPTION["recompute"].swaps_out(_replica_with(H100.host_link, 1e12), 100.0)


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


# --- routing -------------------------------------------------------------------------------


def _pool(*outstanding_tokens: int) -> list[Replica]:
    """Replicas on one environment, each with a waiting request of so many tokens (none for 0)."""
    env = simpy.Environment()
    setup = ReplicaSetup(ENGINE, ConstantSteps(), 64, 1.0)
    pool = [Replica(env, i, setup) for i in range(len(outstanding_tokens))]
    for i, (member, tokens) in enumerate(zip(pool, outstanding_tokens, strict=True)):
        if tokens:
            member.submit(Seq(100 + i, 0.0, prompt=tokens - 1, output=1))  # its prompt and one token out
    return pool


def test_round_robin_takes_each_replica_in_turn():
    pool = _pool(0, 0, 0)
    router = policies.ROUTERS["round_robin"](pool)
    assert [router.pick().index for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_least_outstanding_picks_the_least_loaded_and_ties_to_the_lowest_index():
    pool = _pool(50, 10, 10)
    assert [member.outstanding_tokens for member in pool] == [50, 10, 10]
    router = policies.ROUTERS["least_outstanding"](pool)
    request = Seq(0, 0.0, prompt=5, output=5)
    router.route(request)
    assert list(pool[1].waiting)[-1] is request and len(pool[2].waiting) == 1


def test_a_router_needs_a_replica():
    with pytest.raises(HwsimError, match="at least one replica"):
        policies.ROUTERS["round_robin"]([])


def test_least_outstanding_router_balances_uneven_requests():
    workload = Workload("w", "poisson", rate_per_s=30, count=600, prompt=Lengths("uniform", low=10, high=4000),
                        output=Lengths("uniform", low=10, high=600), seed=5)
    balanced = simulate(scenario(workload, replace(NO_OVERHEAD, router="least_outstanding"), replicas=3))
    tokens = balanced.requests.groupby("replica")["output_tokens"].sum()
    assert tokens.max() < 1.3 * tokens.min()
