"""Capacity planning: pruning, SLO verdicts, the winner, price sensitivity, parallel sweeps."""
from dataclasses import replace
from pathlib import Path

import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import plan_yaml
from hwsim.serving.simulate import simulate
from hwsim.studies import plan

PLAN = """
model: llama-3-8b
workload:
  arrival: {kind: poisson, rate: 4}
  prompt_tokens: {kind: fixed, value: 300}
  output_tokens: {kind: fixed, value: 60}
  requests: 150
  seed: 2
slo: {ttft: 1 s, tpot: 60 ms, percentile: 99}
pricing: PRICING
search:
  hardware: [h100-sxm, l40s, l4, a100-sxm-80gb]
  tensor_parallel: [1]
  replicas: [1, 2]
  dtype: [bf16, fp8]
"""

PRICES = {"h100-sxm": 4.00, "l40s": 1.95, "l4": 1.50, "a100-sxm-80gb": 2.50}


def write_plan(tmp_path: Path, prices: dict = PRICES, text: str = PLAN) -> Path:
    lines = ["id: test-prices", "kind: cloud", "name: test prices", "date: 2026-11", "devices:"]
    lines += [f"  {device}: {{usd_per_hour: {price}, source: test}}" for device, price in prices.items()]
    tag = "-".join(f"{p:g}" for p in prices.values())
    pricing = tmp_path / f"prices-{tag}.yaml"
    pricing.write_text("\n".join(lines) + "\n")
    path = tmp_path / f"plan-{tag}.yaml"
    path.write_text(text.replace("PRICING", str(pricing)))
    return path


def test_hopeless_candidates_are_pruned_before_simulation(tmp_path):
    result = plan.run(plan_yaml.load_plan(write_plan(tmp_path)))
    pruned = result.outcomes[result.outcomes["status"] == "pruned"]
    reasons = dict(zip(pruned["candidate"], pruned["reasons"], strict=True))
    assert any("no fp8 compute" in r for c, r in reasons.items() if "a100" in c)  # Ampere has no fp8
    assert {"simulated", "pruned"} <= set(result.outcomes["status"]) <= {"simulated", "pruned", plan.STOPPED}


def test_the_winner_simulated_alone_meets_the_slos_at_the_same_cost(tmp_path):
    spec = plan_yaml.load_plan(write_plan(tmp_path))
    result = plan.run(spec)
    winner = result.winner
    assert winner is not None and winner["passes"]
    passing = result.outcomes[result.outcomes["passes"]]
    assert winner["usd_per_hour"] == passing["usd_per_hour"].min()
    candidate = next(c for c in spec.candidates if c.describe() == winner["candidate"])
    alone = simulate(plan.scenario_for(candidate, spec)).summary
    assert alone["ttft_p99_s"] <= 1.0 and alone["tpot_p99_s"] <= 0.060
    assert alone["usd_per_1m_output_tokens"] == pytest.approx(winner["usd_per_1m_output_tokens"])


def test_doubling_a_price_moves_the_plan_away_from_that_device(tmp_path):
    first = plan.run(plan_yaml.load_plan(write_plan(tmp_path)))
    device = first.winner["hardware"]
    passing = first.outcomes[first.outcomes["passes"]]
    alternative = passing[passing["hardware"] != device]["usd_per_hour"].min()
    assert alternative < 2 * first.winner["usd_per_hour"]  # an alternative beats the doubled price
    doubled = {**PRICES, device: 2 * PRICES[device]}
    assert plan.run(plan_yaml.load_plan(write_plan(tmp_path, doubled))).winner["hardware"] != device


def test_an_slo_nothing_meets_shows_the_closest_and_the_miss(tmp_path):
    spec = plan_yaml.load_plan(write_plan(tmp_path))
    impossible = replace(spec, slo=replace(spec.slo, ttft_s=1e-4))
    result = plan.run(impossible)
    assert result.winner is None
    closest = result.closest()
    assert len(closest) and all("TTFT p99" in r and "> 0.1 ms" in r for r in closest["reasons"])


def test_the_frontier_has_no_dominated_candidate(tmp_path):
    result = plan.run(plan_yaml.load_plan(write_plan(tmp_path)))
    frontier = result.pareto
    assert len(frontier) >= 1
    costs, latencies = list(frontier["usd_per_hour"]), list(frontier["tpot_p99_s"])
    assert costs == sorted(costs) and latencies == sorted(latencies, reverse=True)


def test_local_processes_give_the_same_outcomes(tmp_path):
    spec = plan_yaml.load_plan(write_plan(tmp_path))
    serial = plan.run(spec, workers=1).outcomes
    parallel = plan.run(spec, workers=2).outcomes
    assert serial.equals(parallel)


def test_a_dask_local_cluster_gives_the_same_outcomes(tmp_path):
    from distributed import LocalCluster

    spec = plan_yaml.load_plan(write_plan(tmp_path))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_cluster = plan.run(spec, cluster=cluster.scheduler_address).outcomes
    assert on_cluster.equals(plan.run(spec).outcomes)


@pytest.mark.parametrize("change, expected", [
    (("h100-sxm, l40s", "h100-sxn, l40s"), "did you mean h100-sxm"),
    (("tensor_parallel: [1]", "tensor_parallel: [3]"), "does not divide"),
    (("replicas: [1, 2]", "devices: [2]\n  tensor_parallel: [4]"), "larger than devices"),
    (("dtype: [bf16, fp8]", "dtype: [bf16, fp6]"), "unknown dtype"),
    (("h100-sxm, l40s", "h100-sxm, rtx-4090, l40s"), "no price"),
])
def test_bad_search_spaces_fail_before_any_simulation(tmp_path, change, expected):
    text = PLAN.replace(*change)
    if "tensor_parallel: [4]" in text:
        text = text.replace("  tensor_parallel: [1]\n", "")
    with pytest.raises((InputError, HwsimError), match=expected):
        plan_yaml.load_plan(write_plan(tmp_path, text=text))


def test_slo_is_required(tmp_path):
    with pytest.raises(InputError, match="slo"):
        plan_yaml.load_plan(write_plan(tmp_path, text=PLAN.replace("slo: {ttft: 1 s, tpot: 60 ms, percentile: 99}",
                                                                "slo: {percentile: 99}")))


def test_a_plan_whose_every_candidate_is_pruned_says_why(tmp_path, capsys):
    from hwsim.output.cli import main

    path = tmp_path / "pruned.yaml"
    path.write_text("model: llama-3-8b\nworkload: {arrival: {kind: poisson, rate: 1000}, prompt_tokens: {kind: fixed, "
                    "value: 400}, output_tokens: {kind: fixed, value: 200}, requests: 6}\nslo: {tpot: 60 ms}\n"
                    "search: {hardware: [l4]}\n")
    assert main(["plan", str(path), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "every candidate was pruned before simulation" in out and "l4" in out
