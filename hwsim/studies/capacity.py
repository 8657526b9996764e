"""Capacity: the highest request rate a scenario serves within its SLOs.

Throughput over a whole run includes the drain after the last arrival, so it is not capacity. This
bisects the workload's arrival rate: a rate holds when the run is not overloaded (its queueing delay
did not grow) and the SLOs' percentile latencies (TTFT, TPOT) are within their limits. Every rate is
a full simulation of the scenario's own requests at that rate, so the answer is as exact as the
tolerance asked for, never extrapolated.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from hwsim.base.errors import HwsimError
from hwsim.serving.simulate import simulate
from hwsim.specs.scenario import Scenario

OPEN_LOOP = ("poisson", "gamma")
MAX_HALVINGS = 30  # 2^-30 of the starting rate: a scenario that misses its SLOs even idle says so
MAX_DOUBLINGS = 20  # 2^20 times the starting rate: a workload too short to load the scenario says so


@dataclass(frozen=True)
class Trial:
    rate_per_s: float
    holds: bool
    why: str  # the first limit missed, or "" when the rate holds
    summary: dict


@dataclass(frozen=True)
class Capacity:
    rate_per_s: float  # the highest rate found to hold
    summary: dict  # the run at that rate
    trials: tuple[Trial, ...]  # every rate tried, in order
    percentile: int
    tolerance: float


def why_not(scenario: Scenario) -> str:
    """Why `scenario` has no capacity to find ("" when it has): it needs SLOs and arrivals at a rate."""
    slo, workload = scenario.slo, scenario.workload
    if slo.ttft_s is None and slo.tpot_s is None:
        return f"scenario {scenario.name}: capacity needs an SLO (slo: ttft and/or tpot)"
    if workload.arrival not in OPEN_LOOP or not workload.rate_per_s:
        return (f"scenario {scenario.name}: capacity bisects the arrival rate, so the workload needs "
                f"{' or '.join(OPEN_LOOP)} arrivals with a rate; got {workload.arrival}")
    return ""


def capacity(scenario: Scenario, tolerance: float = 0.02, percentile: int = 99) -> Capacity:
    """The highest arrival rate within `tolerance` (relative) at which `scenario` holds its SLOs."""
    slo, workload = scenario.slo, scenario.workload
    if reason := why_not(scenario):
        raise HwsimError(reason)
    if not 0 < tolerance < 1:
        raise HwsimError(f"capacity tolerance must be between 0 and 1; got {tolerance}")
    if percentile not in (50, 90, 99):
        raise HwsimError(f"capacity percentile must be 50, 90 or 99; got {percentile}")
    trials: list[Trial] = []

    def trial(rate: float) -> Trial:
        result = simulate(replace(scenario, workload=replace(workload, rate_per_s=rate)), keep_steps=False)
        summary = result.summary
        why = "overloaded: queueing delay grew through the run" if summary["overloaded"] else ""
        for name, limit in (("ttft", slo.ttft_s), ("tpot", slo.tpot_s)):
            value = summary.get(f"{name}_p{percentile}_s")
            if not why and limit is not None and value is not None and value > limit:
                why = f"{name.upper()} p{percentile} {value * 1e3:.1f} ms > {limit * 1e3:.1f} ms"
        trials.append(Trial(rate, not why, why, summary))
        return trials[-1]

    low, high = _bracket(workload.rate_per_s, trial)
    while (high.rate_per_s - low.rate_per_s) > tolerance * low.rate_per_s:
        middle = trial((low.rate_per_s + high.rate_per_s) / 2)
        low, high = (middle, high) if middle.holds else (low, middle)
    return Capacity(low.rate_per_s, low.summary, tuple(trials), percentile, tolerance)


def sustained_output_tokens_per_s(found: Capacity) -> float:
    """Output tokens per second served at the capacity rate: the rate times the mean output of a
    request (the run keeps up there, so this is what it delivers, without the drain's dilution)."""
    summary = found.summary
    return found.rate_per_s * summary["output_tokens_per_s"] / summary["requests_per_s"]


def fields(found: Capacity) -> dict:
    """The capacity as summary fields: the rate, and the output throughput sustained at that rate."""
    return {"capacity_requests_per_s": found.rate_per_s,
            "capacity_output_tokens_per_s": sustained_output_tokens_per_s(found),
            "capacity_percentile": found.percentile, "capacity_tolerance": found.tolerance}


def _bracket(start: float, trial) -> tuple[Trial, Trial]:
    """A rate that holds and a higher one that does not: doubling or halving from `start`."""
    first = trial(start)
    if first.holds:
        low = first
        for _ in range(MAX_DOUBLINGS):
            high = trial(low.rate_per_s * 2)
            if not high.holds:
                return low, high
            low = high
        raise HwsimError(f"the SLOs hold even at {low.rate_per_s:.3g} requests/s: the workload's "
                         f"{low.summary['requests']} requests are too few to load the scenario; give more requests")
    high = first
    for _ in range(MAX_HALVINGS):
        low = trial(high.rate_per_s / 2)
        if low.holds:
            return low, high
        high = low
    raise HwsimError(f"the SLOs are missed even at {high.rate_per_s:.3g} requests/s: {high.why}")
