"""Capacity: the highest arrival rate whose SLOs hold, bracketed and bisected by full simulations."""
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.specs import deployment
from hwsim.specs.scenario import Scenario, Slo
from hwsim.specs.workload import Lengths, Workload
from hwsim.studies.capacity import capacity

H100, LLAMA = catalog.system("h100-sxm"), catalog.model("llama-3-8b")


def _scenario(slo: Slo, arrival: str = "poisson") -> Scenario:
    workload = Workload("w", arrival, rate_per_s=4.0, count=150, prompt=Lengths("fixed", 512),
                        output=Lengths("fixed", 64), seed=2, **({"concurrency": 8} if arrival == "closed_loop" else {}))
    return Scenario("cap", H100, LLAMA, deployment.Precision(), workload, slo=slo)


def test_the_capacity_holds_and_a_rate_one_tolerance_above_it_does_not():
    found = capacity(_scenario(Slo(ttft_s=0.2, tpot_s=0.03)), tolerance=0.05)
    holds = [t.rate_per_s for t in found.trials if t.holds]
    misses = [t.rate_per_s for t in found.trials if not t.holds]
    assert found.rate_per_s == max(holds)
    above = min(r for r in misses if r > found.rate_per_s)
    assert above <= found.rate_per_s * 1.05  # bisected down to the tolerance
    assert found.summary["ttft_p99_s"] <= 0.2 and found.summary["tpot_p99_s"] <= 0.03


def test_a_tighter_slo_gives_a_lower_capacity():
    loose = capacity(_scenario(Slo(ttft_s=0.5)), tolerance=0.05)
    tight = capacity(_scenario(Slo(ttft_s=0.08)), tolerance=0.05)
    assert tight.rate_per_s < loose.rate_per_s


@pytest.mark.parametrize("slo, arrival, expected", [
    (Slo(), "poisson", "capacity needs an SLO"),
    (Slo(ttft_s=0.2), "closed_loop", "needs poisson or gamma arrivals with a rate"),
    (Slo(ttft_s=1e-6), "poisson", "the SLOs are missed even at"),
])
def test_capacity_refuses_what_it_cannot_bisect(slo, arrival, expected):
    with pytest.raises(HwsimError, match=expected):
        capacity(_scenario(slo, arrival), tolerance=0.2)


def test_a_workload_too_short_to_load_the_scenario_has_no_capacity():
    short = Workload("w", "poisson", rate_per_s=1.0, count=5, prompt=Lengths("fixed", 64), output=Lengths("fixed", 8))
    with pytest.raises(HwsimError, match="the workload's 5 requests are too few to load the scenario"):
        capacity(Scenario("cap", H100, LLAMA, deployment.Precision(), short, slo=Slo(ttft_s=1.0)), tolerance=0.2)
