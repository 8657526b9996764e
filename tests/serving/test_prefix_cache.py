"""Prefix caching: prompts that start with a shared prefix skip its prefill once it is cached; the
cache gives way under memory pressure; without sharing, or switched off, nothing changes."""
from dataclasses import replace

import pytest

from hwsim.perf.step_model import StepModel
from hwsim.serving.prefix_cache import CachedBlockPool, block_keys
from hwsim.serving.simulate import simulate
from hwsim.specs.shape import AttnGroup
from hwsim.specs.workload import Lengths, Prefix, Workload

from .scenarios import NO_OVERHEAD, scenario

CACHING = replace(NO_OVERHEAD, prefix_caching=True)


FOUR_PREFIXES = Prefix(2000, 4)
SUFFIX = Lengths("uniform", low=100, high=300)


def shared(count=300, rate_per_s=2.0, prefix=FOUR_PREFIXES):
    """Every prompt one of 4 shared 2,000-token prefixes and a suffix of its own."""
    return Workload("shared", "poisson", rate_per_s=rate_per_s, count=count, prompt=SUFFIX,
                    output=Lengths("fixed", 50), seed=1, prefix=prefix)


def analytic_hit_rate(workload):
    """Every prompt but the first of its group finds the whole prefix cached (125 full 16-token blocks)."""
    table = workload.requests()
    seen, hit = set(), 0
    for segments in table["segments"]:
        group = segments[0][0]
        hit += workload.prefix.tokens if group in seen else 0
        seen.add(group)
    return hit / table["prompt_tokens"].sum()


def test_blocks_are_shared_exactly_while_the_content_agrees():
    a = ((("prefix", 0), 40), (("suffix", 1), 30))
    b = ((("prefix", 0), 40), (("suffix", 2), 30))
    keys_a, keys_b = block_keys(a, 4, 16), block_keys(b, 4, 16)
    assert keys_a[:2] == keys_b[:2]  # tokens 0-31 are the prefix in both
    assert keys_a[2] != keys_b[2]  # tokens 32-47 run into each one's own suffix


def test_a_cached_block_nobody_holds_counts_as_free_and_is_evicted_oldest_first():
    pool = CachedBlockPool(4)
    pool.take(2)
    assert pool.cache([11, 12]) == [11, 12]
    pool.release([11, 12])
    assert pool.free == 4 and pool.uncached_free == 2
    pool.take(3)  # two uncached blocks, then the oldest cached one
    assert pool.evictions == 1 and pool.cached_prefix([11, 12]) == 0 and pool.cached_prefix([12]) == 1


def test_the_hit_rate_is_the_analytic_one_once_the_prefixes_are_cached():
    workload = shared()
    result = simulate(scenario(workload, engine=CACHING))
    assert result.summary["prefix_cache_hit_rate"] == pytest.approx(analytic_hit_rate(workload), abs=0.02)
    assert result.summary["prefix_cache_evictions"] == 0
    assert result.summary["prefix_cache_hit_blocks"] == result.summary["prefix_cache_hit_tokens"] // 16
    assert result.steps["kv_blocks_cached"].max() >= 4 * 125  # every prefix's blocks, cached over the run


def test_ttft_falls_by_the_prefill_time_of_the_shared_part():
    workload = shared()
    cached = simulate(scenario(workload, engine=CACHING))
    plain = simulate(scenario(workload))
    timer = StepModel(cached.scenario.deployment)
    shared_prefill_s = timer.step((AttnGroup(1, 2000, 2000),))[0]
    saved_s = plain.summary["ttft_p50_s"] - cached.summary["ttft_p50_s"]
    assert saved_s == pytest.approx(shared_prefill_s, rel=0.15)


def test_a_pool_too_small_for_every_prefix_evicts_and_hits_less():
    workload = shared(prefix=Prefix(2000, 64), rate_per_s=8.0)
    roomy = simulate(scenario(workload, engine=CACHING))
    tight = simulate(scenario(workload, engine=replace(CACHING, gpu_memory_utilization=0.26)))
    assert tight.summary["prefix_cache_evictions"] > 0
    assert tight.summary["prefix_cache_hit_rate"] < roomy.summary["prefix_cache_hit_rate"]


def test_caching_prompts_nobody_shares_changes_nothing():
    workload = Workload("own", "poisson", rate_per_s=20.0, count=200, prompt=Lengths("uniform", low=100, high=900),
                        output=Lengths("uniform", low=10, high=300), seed=4)
    plain = simulate(scenario(workload, engine=replace(NO_OVERHEAD, gpu_memory_utilization=0.25)))
    cached = simulate(scenario(workload, engine=replace(CACHING, gpu_memory_utilization=0.25)))
    assert cached.summary["prefix_cache_hit_rate"] == 0.0
    for column in ("first_token_s", "completion_s", "preemptions"):
        assert cached.requests[column].tolist() == plain.requests[column].tolist()


def test_coalesced_runs_keep_every_time_with_caching_on():
    workload = shared(rate_per_s=6.0, count=200)
    engine = replace(CACHING, gpu_memory_utilization=0.3)
    coalesced = simulate(scenario(workload, engine=engine))
    stepwise = simulate(scenario(workload, engine=replace(engine, coalesce=False)))
    for column in ("first_token_s", "completion_s", "cached_tokens"):
        assert coalesced.requests[column].tolist() == pytest.approx(stepwise.requests[column].tolist(), abs=1e-9)


def test_prefix_affinity_sends_each_prompt_where_its_prefix_is_cached():
    workload = shared(prefix=Prefix(2000, 8), rate_per_s=16.0, count=400)
    hits = {}
    for router in ("round_robin", "prefix_affinity"):
        engine = replace(CACHING, router=router)
        hits[router] = simulate(scenario(workload, engine=engine, replicas=4)).summary["prefix_cache_hit_rate"]
    assert hits["prefix_affinity"] > hits["round_robin"]
    assert hits["prefix_affinity"] == pytest.approx(analytic_hit_rate(workload), abs=0.03)


def test_a_conversations_turns_grow_and_find_the_conversation_so_far_cached():
    from hwsim.specs.workload import Sessions

    workload = Workload("chat", "poisson", rate_per_s=0.5, count=20, prompt=Lengths("fixed", 200),
                        output=Lengths("fixed", 150), seed=3, sessions=Sessions(Lengths("fixed", 4), 5.0))
    result = simulate(scenario(workload, engine=CACHING))
    requests = result.requests
    assert len(requests) == 80  # 20 sessions of 4 turns
    by_turn = requests.groupby(workload.requests()["turn"])["prompt_tokens"].mean()
    assert by_turn.tolist() == [200, 550, 900, 1250]  # each turn adds the last answer and a new message
    later = requests[workload.requests()["turn"] > 0]
    # a turn finds every full block of the conversation so far: its last prompt, all but the last
    # token of its last answer (whose KV was never computed)
    assert (later["cached_tokens"] == ((later["prompt_tokens"] - 200 - 1) // 16) * 16).all()
    turns = workload.requests()
    follow = requests[turns["turn"] == 1]["arrival_s"].to_numpy()
    first_done = requests[turns["turn"] == 0]["completion_s"].to_numpy()
    assert follow == pytest.approx(first_done + 5.0)  # sent after the answer and the think time


def test_blocks_evicted_to_host_memory_come_back_over_the_link_on_a_later_hit():
    workload = shared(prefix=Prefix(2000, 64), rate_per_s=8.0)
    tight = replace(CACHING, gpu_memory_utilization=0.26)
    device_only = simulate(scenario(workload, engine=tight))
    with_host = simulate(scenario(workload, engine=replace(tight, kv_offload_host_bytes=100e9)))
    assert with_host.summary["prefix_cache_hit_rate"] > device_only.summary["prefix_cache_hit_rate"]
    assert with_host.summary["prefix_cache_hit_rate"] == pytest.approx(analytic_hit_rate(workload), abs=0.02)
    assert with_host.summary["prefix_cache_reloaded_blocks"]["host"] > 0
    assert with_host.summary["ttft_p50_s"] < device_only.summary["ttft_p50_s"]


def test_an_offload_tier_needs_caching_and_room_in_the_system():
    from hwsim.base.errors import InputError
    from hwsim.specs.scenario import check

    with pytest.raises(InputError, match="engine.kv_offload: keeps evicted cached blocks, so it needs prefix_caching"):
        check(scenario(shared(), engine=replace(NO_OVERHEAD, kv_offload_host_bytes=1e9)))
    with pytest.raises(InputError, match=r"engine.kv_offload.host: 100,000 GB is more than the system's host DRAM"):
        check(scenario(shared(), engine=replace(CACHING, kv_offload_host_bytes=1e14)))
