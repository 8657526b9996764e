"""Provisioning over a day: how many replicas each hour of a trace needs, peak against mean.

A replica's capacity (the highest Poisson rate whose SLOs hold, for the trace's own prompt and output
lengths) is found once by `capacity`; an hour whose requests arrive at rate r then needs
ceil(r / capacity) replicas. Provisioning for the peak pays for the busiest hour's replicas all day;
scaling each hour pays for what each hour needs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from hwsim.base.errors import HwsimError
from hwsim.specs.scenario import Scenario
from hwsim.specs.workload import Lengths, Workload
from hwsim.studies import capacity

HOUR_S = 3600.0
CAPACITY_REQUESTS = 600  # requests each rate of the capacity search simulates


@dataclass(frozen=True)
class Hour:
    index: int  # from the trace's first arrival
    requests: int
    rate_per_s: float
    replicas: int


@dataclass(frozen=True)
class HourlyPlan:
    capacity_per_replica_per_s: float
    hours: tuple[Hour, ...]
    usd_per_replica_hour: float | None

    @property
    def peak(self) -> Hour:
        return max(self.hours, key=lambda h: (h.replicas, -h.index))

    @property
    def mean_replicas(self) -> float:
        return sum(h.replicas for h in self.hours) / len(self.hours)

    def usd(self, scaled: bool) -> float | None:
        """What the trace's hours cost: each hour's replicas (scaled) or the peak's all along."""
        if self.usd_per_replica_hour is None:
            return None
        replica_hours = sum(h.replicas for h in self.hours) if scaled else self.peak.replicas * len(self.hours)
        return replica_hours * self.usd_per_replica_hour


def hourly(scenario: Scenario, trace: pd.DataFrame, usd_per_replica_hour: float | None) -> HourlyPlan:
    """Replicas of `scenario`'s per-replica configuration that each hour of `trace` needs."""
    if trace.empty:
        raise HwsimError("hourly provisioning needs a trace with requests")
    one = replace(scenario, replicas=1, disaggregation=None)
    span_s = float(trace["timestamp_s"].max() - trace["timestamp_s"].min())
    mean_rate = len(trace) / max(span_s, 1.0)
    lengths = Workload("trace lengths", "poisson", rate_per_s=mean_rate / max(1, scenario.replicas),
                       count=CAPACITY_REQUESTS, seed=scenario.workload.seed,
                       prompt=Lengths("empirical", values=tuple(int(t) for t in trace["prompt_tokens"])),
                       output=Lengths("empirical", values=tuple(int(t) for t in trace["output_tokens"])))
    found = capacity.capacity(replace(one, workload=lengths), tolerance=0.05)
    per_replica = found.rate_per_s
    start = float(trace["timestamp_s"].min())
    index = ((trace["timestamp_s"] - start) // HOUR_S).astype(int)
    hours = []
    for hour in range(int(index.max()) + 1):
        count = int((index == hour).sum())
        covered_s = min(HOUR_S, span_s - hour * HOUR_S) if span_s > hour * HOUR_S else HOUR_S
        rate = count / max(covered_s, 1.0)
        hours.append(Hour(hour, count, rate, max(1, math.ceil(rate / per_replica)) if count else 0))
    return HourlyPlan(per_replica, tuple(hours), usd_per_replica_hour)
