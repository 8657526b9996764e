"""Mixture-of-Experts routing: which experts a step touches, how they spread over devices, and
how often a cache of resident experts hits.

A `Routing` gives, per layer, the probability that one token's top-k choice includes each
expert (k x the expert's share of routed tokens, at most 1). A step of T tokens touches expert i
with probability 1 - (1 - q_i)^T, so the expected number of distinct experts is the sum of
that over experts; under uniform routing q_i = k/E and this is E(1 - (1 - k/E)^T).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import numpy as np

from hwsim.base.errors import HwsimError
from hwsim.specs.routing import Routing


def uniform(experts: int, top_k: int) -> Routing:
    _check_top_k(experts, top_k)
    return Routing(experts, top_k, (tuple([1.0 / experts] * experts),), "uniform")


def zipf(experts: int, top_k: int, s: float, seed: int = 0) -> Routing:
    """The expert of popularity rank r gets a share proportional to 1 / r^s. Ranks go to experts
    in a fixed pseudo-random order (`seed`), so an expert's index says nothing of its popularity."""
    _check_top_k(experts, top_k)
    if s < 0:
        raise HwsimError(f"zipf exponent must be zero or more; got {s}")
    weights = 1.0 / np.arange(1, experts + 1) ** s
    shares = np.empty(experts)
    shares[np.random.default_rng(seed).permutation(experts)] = weights / weights.sum()
    return Routing(experts, top_k, (tuple(shares),), f"zipf({s:g})")


def _check_top_k(experts: int, top_k: int) -> None:
    if not 1 <= top_k <= experts:
        raise HwsimError(f"top_k must be between 1 and the number of experts ({experts}); got {top_k}")


# --- expert parallelism ----------------------------------------------------------------------


def round_robin(experts: int, devices: int) -> tuple[int, ...]:
    return tuple(i % devices for i in range(experts))


def balanced(routing: Routing, devices: int) -> tuple[int, ...]:
    """Most popular first, each to the least-loaded device that still has room (equal counts)."""
    shares = np.mean([np.asarray(s) for s in routing.shares], axis=0)
    per_device = math.ceil(routing.experts / devices)
    load, count = np.zeros(devices), np.zeros(devices, dtype=int)
    owner = [0] * routing.experts
    for expert in np.argsort(-shares):
        open_devices = [d for d in range(devices) if count[d] < per_device]
        device = min(open_devices, key=lambda d: load[d])
        owner[int(expert)] = device
        load[device] += shares[expert]
        count[device] += 1
    return tuple(owner)


def busiest_device(routing: Routing, tokens: float, owner: tuple[int, ...], capacity_factor: float | None = None
                   ) -> tuple[float, float, float]:
    """(token-expert rows, distinct experts, dropped share) on the device with the most rows.

    Rows per device follow each expert's share of the step's tokens x top_k; the step waits for
    the busiest device. A capacity factor caps each expert at factor x its fair share of rows;
    rows over the cap are dropped (and reported).
    """
    devices = max(owner) + 1
    rows = np.zeros(devices)
    distinct = np.zeros(devices)
    total_rows = tokens * routing.top_k
    dropped = 0.0
    for layer in range(len(routing.shares)):
        shares = np.asarray(routing.shares[layer])
        per_expert = total_rows * shares
        if capacity_factor:
            cap = capacity_factor * total_rows / routing.experts
            dropped += float(np.sum(np.maximum(0.0, per_expert - cap)))
            per_expert = np.minimum(per_expert, cap)
        touched = 1.0 - (1.0 - routing.probabilities(layer)) ** tokens
        for expert, device in enumerate(owner):
            rows[device] += per_expert[expert]
            distinct[device] += touched[expert]
    layers = len(routing.shares)
    busiest = int(np.argmax(rows))
    dropped_share = dropped / (total_rows * layers) if total_rows else 0.0
    return float(rows[busiest] / layers), float(distinct[busiest] / layers), float(dropped_share)


# --- expert caches --------------------------------------------------------------------------


class ExpertCache(Protocol):
    def lookup(self, expert: int) -> bool:
        """Whether `expert` is resident; the cache then updates as its policy says."""
        ...


class StaticCache:
    """Keeps the `capacity` most popular experts and never changes."""

    def __init__(self, capacity: int, shares: np.ndarray):
        self.resident = set(np.argsort(-shares)[:capacity].tolist())

    def lookup(self, expert: int) -> bool:
        return expert in self.resident


class LruCache:
    """Evicts the least recently used expert."""

    def __init__(self, capacity: int, shares: np.ndarray):
        self.capacity = capacity
        self.resident: OrderedDict[int, None] = OrderedDict()  # least recently used first

    def lookup(self, expert: int) -> bool:
        hit = expert in self.resident
        if hit:
            self.resident.move_to_end(expert)
        else:
            self.resident[expert] = None
            if len(self.resident) > self.capacity:
                self.resident.popitem(last=False)
        return hit


class LfuCache:
    """Evicts the resident expert looked up least often so far."""

    def __init__(self, capacity: int, shares: np.ndarray):
        self.capacity = capacity
        self.frequency = np.zeros(len(shares))
        self.resident: set[int] = set()

    def lookup(self, expert: int) -> bool:
        self.frequency[expert] += 1
        hit = expert in self.resident
        if not hit:
            if len(self.resident) >= self.capacity:
                self.resident.discard(min(self.resident, key=lambda e: self.frequency[e]))
            self.resident.add(expert)
        return hit


# Cache classes by policy name; each replay builds its own, as a cache keeps state.
EXPERT_CACHES: dict[str, Callable[[int, np.ndarray], ExpertCache]] = {
    "lru": LruCache,
    "lfu": LfuCache,
    "static": StaticCache,
}
CACHE_POLICIES = tuple(EXPERT_CACHES)  # the policy names, for command-line and YAML choices


def cache_hit_rate(routing: Routing, policy: str, capacity: int, tokens_per_step: float, steps: int = 400,
                   seed: int = 0, layer: int = 0) -> float:
    """Hit rate of a cache of `capacity` experts (one layer) measured by replaying sampled routing.

    Each step needs expert i with probability 1 - (1 - q_i)^T, as in `expected_active`; every
    distinct expert the step needs is a lookup. LRU evicts the least recently used, LFU the least
    often used so far, static keeps the most popular experts and never changes.
    """
    if policy not in EXPERT_CACHES:
        raise HwsimError(f"unknown expert cache policy {policy!r}; expected one of {', '.join(CACHE_POLICIES)}")
    if capacity >= routing.experts:
        return 1.0
    if capacity <= 0:
        return 0.0
    shares = np.asarray(routing.shares[layer % len(routing.shares)])
    cache = EXPERT_CACHES[policy](capacity, shares)
    rng = np.random.default_rng(seed)
    return _replay(cache, routing.experts, routing.probabilities(layer), tokens_per_step, steps, rng)


def _replay(cache: ExpertCache, experts: int, chance: np.ndarray, tokens: float, steps: int,
            rng: np.random.Generator) -> float:
    """Hits / lookups over `steps` sampled steps, after the first tenth has warmed the cache up."""
    hits = lookups = 0
    for step in range(steps):
        # expert i is needed when any of the step's tokens picks it (chance q_i each)
        needed = np.flatnonzero(rng.random(experts) < 1.0 - (1.0 - chance) ** tokens)
        warm = step >= steps // 10
        for expert in needed.tolist():
            hit = cache.lookup(expert)
            if warm:
                hits += hit
                lookups += 1
    return hits / lookups if lookups else 1.0


def prefetch_coverage(routing: Routing, resident: int, prefetch: int) -> float:
    """Share of cache misses that prefetching the next `prefetch` most popular non-resident experts
    covers (a static cache holds the `resident` most popular)."""
    if prefetch <= 0 or resident >= routing.experts:
        return 0.0
    shares = np.sort(np.mean([np.asarray(s) for s in routing.shares], axis=0))[::-1]
    missing = shares[resident:].sum()
    return float(shares[resident:resident + prefetch].sum() / missing) if missing > 0 else 0.0


def set_hit_rate(routing: Routing, resident: set[int] | tuple[int, ...], tokens: float) -> float:
    """Expected hit rate of a fixed resident set: hits / lookups, where a step looks up every
    distinct expert it needs (expert i with probability 1 - (1 - q_i)^T), averaged over layers."""
    resident = set(resident)
    rates = []
    for layer in range(len(routing.shares)):
        needed = 1.0 - (1.0 - routing.probabilities(layer)) ** max(tokens, 1e-9)
        total = needed.sum()
        rates.append(sum(needed[i] for i in resident) / total if total else 1.0)
    return float(np.mean(rates))


def most_popular(routing: Routing, count: int) -> tuple[int, ...]:
    shares = np.mean([np.asarray(s) for s in routing.shares], axis=0)
    return tuple(int(i) for i in np.argsort(-shares)[:count])
