"""Mixture-of-experts routing statistics, expert parallelism, and expert caches."""
import numpy as np
import pytest

from hwsim.base.errors import HwsimError
from hwsim.perf import moe


def test_uniform_routing_closed_form():
    routing = moe.uniform(8, 2)
    assert routing.expected_active(1) == pytest.approx(2.0)
    assert routing.expected_active(3) == pytest.approx(8 * (1 - (6 / 8) ** 3))
    assert routing.expected_active(100) == pytest.approx(8.0, abs=1e-9)


def test_skewed_routing_touches_fewer_experts():
    uniform, skewed = moe.uniform(64, 6), moe.zipf(64, 6, 1.2)
    assert skewed.expected_active(8) < uniform.expected_active(8)
    assert sum(skewed.shares[0]) == pytest.approx(1.0)


def test_top_k_larger_than_experts_is_rejected():
    with pytest.raises(HwsimError, match="top_k"):
        moe.uniform(8, 9)


def test_a_cache_of_every_expert_always_hits():
    routing = moe.zipf(8, 2, 1.0)
    for policy in ("lru", "lfu", "static"):
        assert moe.cache_hit_rate(routing, policy, 8, tokens_per_step=4) == 1.0
        assert moe.cache_hit_rate(routing, policy, 0, tokens_per_step=4) == 0.0


def test_static_cache_of_popular_experts_beats_lru_under_skew():
    routing = moe.zipf(64, 6, 1.2)
    static = moe.set_hit_rate(routing, moe.most_popular(routing, 16), tokens=4)
    assert static == pytest.approx(moe.cache_hit_rate(routing, "static", 16, 4, steps=800), abs=0.03)
    assert static > moe.cache_hit_rate(routing, "lru", 16, 4)
    assert moe.set_hit_rate(moe.uniform(64, 6), tuple(range(16)), tokens=4) == pytest.approx(0.25)


def test_expert_parallel_step_waits_for_the_busiest_device():
    uniform = moe.uniform(64, 6)
    rows, distinct, dropped = moe.busiest_device(uniform, 64, moe.round_robin(64, 8))
    assert rows == pytest.approx(64 * 6 / 8) and dropped == 0.0
    skewed = moe.zipf(64, 6, 1.2)
    round_robin = moe.busiest_device(skewed, 64, moe.round_robin(64, 8))[0]
    balanced = moe.busiest_device(skewed, 64, moe.balanced(skewed, 8))[0]
    assert round_robin > balanced > 64 * 6 / 8


def test_capacity_factor_drops_rows_over_the_cap():
    skewed = moe.zipf(8, 2, 1.5)
    capped = moe.busiest_device(skewed, 256, moe.round_robin(8, 4), capacity_factor=1.25)
    free = moe.busiest_device(skewed, 256, moe.round_robin(8, 4))
    assert capped[2] > 0 and capped[0] < free[0]


def test_every_cache_policy_name_has_a_cache():
    assert moe.CACHE_POLICIES == tuple(moe.EXPERT_CACHES) == ("lru", "lfu", "static")


def test_an_unknown_cache_policy_is_named():
    with pytest.raises(HwsimError, match="unknown expert cache policy 'fifo'; expected one of lru, lfu, static"):
        moe.cache_hit_rate(moe.uniform(8, 2), "fifo", 4, 1)


def _lookups(cache, experts):
    return [cache.lookup(e) for e in experts]


def test_lru_evicts_the_least_recently_used_expert():
    cache = moe.EXPERT_CACHES["lru"](2, None)
    assert _lookups(cache, [0, 1, 0, 2, 0, 1]) == [False, False, True, False, True, False]  # 2 evicted 1, not 0


def test_lfu_evicts_the_expert_looked_up_least_often():
    cache = moe.EXPERT_CACHES["lfu"](2, np.full(4, 0.25))
    assert _lookups(cache, [0, 0, 1, 2, 0, 1]) == [False, True, False, False, True, False]  # 2 evicted 1, not 0


def test_a_static_cache_holds_the_most_popular_experts_forever():
    cache = moe.EXPERT_CACHES["static"](2, np.array([0.1, 0.4, 0.2, 0.3]))
    assert _lookups(cache, [1, 3, 0, 0, 2, 1]) == [True, True, False, False, False, True]


def test_a_cache_hit_rate_replay_is_reproducible():
    routing = moe.zipf(32, 4, 1.0)
    for policy in moe.CACHE_POLICIES:
        rates = {moe.cache_hit_rate(routing, policy, 8, 2, steps=200, seed=7) for _ in range(2)}
        assert len(rates) == 1 and 0.0 < rates.pop() < 1.0
