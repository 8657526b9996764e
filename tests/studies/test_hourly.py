"""Provisioning over a day: each hour of a trace needs ceil(its rate / one replica's capacity)
replicas; provisioning for the peak costs the busiest hour's replicas every hour."""
import math

import numpy as np
import pandas as pd
import pytest

from hwsim.loading import catalog
from hwsim.specs import deployment
from hwsim.specs.scenario import Scenario, Slo
from hwsim.specs.workload import Lengths, Workload
from hwsim.studies.hourly import hourly


def trace(rates_per_s):
    """Evenly spaced arrivals at each hour's rate, 300 prompt and 60 output tokens each."""
    times = np.concatenate([hour * 3600 + np.arange(0, 3600, 1 / rate) for hour, rate in enumerate(rates_per_s)])
    return pd.DataFrame({"timestamp_s": times, "prompt_tokens": 300, "output_tokens": 60})


def test_each_hour_gets_the_replicas_its_rate_needs_and_the_peak_costs_more():
    scenario = Scenario("day", catalog.system("l4"), catalog.model("llama-3.2-1b"), deployment.Precision(),
                        Workload("w", "poisson", rate_per_s=1.0, count=10, prompt=Lengths("fixed", 300),
                                 output=Lengths("fixed", 60)), slo=Slo(ttft_s=0.2, tpot_s=0.02))
    rates = [0.5, 40.0, 5.0]
    plan = hourly(scenario, trace(rates), usd_per_replica_hour=1.0)
    capacity = plan.capacity_per_replica_per_s
    assert [h.replicas for h in plan.hours] == [math.ceil(r / capacity) for r in rates]
    assert [h.requests for h in plan.hours] == [1800, 144000, 18000]
    assert plan.peak.index == 1 and plan.peak.replicas > plan.hours[0].replicas
    assert plan.usd(scaled=True) == sum(h.replicas for h in plan.hours)
    assert plan.usd(scaled=False) == pytest.approx(3 * plan.peak.replicas)
    assert plan.usd(scaled=True) < plan.usd(scaled=False)
