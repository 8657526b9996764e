"""Serving metrics from the simulator's records: the summary's fields and what they mean."""
import pandas as pd
import pytest

from hwsim.serving import metrics
from hwsim.serving.records import StepTotals
from hwsim.serving.simulate import simulate
from hwsim.specs.scenario import Slo

from .scenarios import fixed, scenario

REQUESTS = pd.DataFrame({
    "request": [0, 1], "replica": [0, 0], "arrival_s": [0.0, 1.0], "first_token_s": [0.5, 2.0],
    "completion_s": [2.5, 3.0], "prompt_tokens": [100, 300], "output_tokens": [5, 1],
    "preemptions": [1, 0], "swaps": [0, 0],
    # TTFT 0.5 s and 1.0 s taken apart
    "api_s": [0.1, 0.0], "ttft_queue_s": [0.1, 0.5], "ttft_prefill_s": [0.2, 0.4], "ttft_host_s": [0.1, 0.1],
    "ttft_preempted_s": [0.0, 0.0], "ttft_stalled_s": [0.0, 0.0],
})
STEPS = StepTotals.of(pd.DataFrame({
    "replica": [0, 0], "start_s": [0.0, 1.0], "end_s": [1.0, 3.0], "steps": [1, 4], "decode_seqs": [0, 2],
    "kv_blocks_used": [10, 30], "kv_blocks_peak": [10, 30], "kv_blocks_total": [100, 100], "energy_j": [100.0, 300.0],
}))


def test_a_summary_of_two_requests():
    summary = metrics.summarize(REQUESTS, STEPS, Slo(ttft_s=0.75), "poisson", 0.0, tdp_w=700.0)
    assert summary["duration_s"] == 3.0 and summary["output_tokens_per_s"] == 2.0
    assert summary["ttft_mean_s"] == pytest.approx(0.75)
    assert summary["tpot_mean_s"] == pytest.approx(0.5)  # the one-token request has no gaps
    assert summary["itl_mean_s"] == pytest.approx((2.0 + 1.0) / 4)
    assert summary["ttft_parts_mean_s"] == pytest.approx(
        {"api": 0.05, "queueing": 0.3, "prefill": 0.3, "host": 0.1, "preempted": 0.0, "stalled": 0.0})
    assert summary["slo_attainment"] == 0.5 and summary["goodput_requests_per_s"] == pytest.approx(1 / 3)
    assert summary["kv_utilization_mean"] == pytest.approx((0.1 * 1 + 0.3 * 2) / 3)
    assert summary["kv_utilization_max"] == pytest.approx(0.3)
    assert summary["mean_batch"] == pytest.approx(8 / 5) and summary["preemptions"] == 1
    assert summary["energy_j"] == 400.0  # the replica was never idle


def test_the_summary_keeps_its_field_order():
    summary = metrics.summarize(REQUESTS, STEPS, Slo(), "offline", 0.0)
    latencies = [f"{m}_{s}_s" for m in ("ttft", "tpot", "e2e") for s in ("mean", "p50", "p90", "p99")]
    assert list(summary) == [
        "requests", "duration_s", "requests_per_s", "input_tokens_per_s", "output_tokens_per_s",
        "total_tokens_per_s", *latencies, "itl_mean_s", "ttft_parts_mean_s", "slo_attainment", "goodput_requests_per_s",
        "kv_utilization_mean", "kv_utilization_max", "preemptions", "swaps", "swap_bytes", "mean_batch",
        "overloaded", "energy_j", "mean_power_w", "output_tokens_per_j"]


def test_idle_replicas_draw_idle_power():
    busy = metrics.summarize(REQUESTS, STEPS, Slo(), "offline", 0.0, tdp_w=700.0, replicas=1)
    two = metrics.summarize(REQUESTS, STEPS, Slo(), "offline", 0.0, tdp_w=700.0, replicas=2)
    assert two["energy_j"] > busy["energy_j"]


def test_overload_finishes_and_says_so():
    result = simulate(scenario(fixed("poisson", count=3000, rate_per_s=200.0, prompt=1000, output=300)))
    assert result.summary["overloaded"] is True
    calm = simulate(scenario(fixed("poisson", count=300, rate_per_s=1.0, prompt=200, output=50)))
    assert calm.summary["overloaded"] is False
    assert "OVERLOADED" in metrics.format_summary(result.summary)


def test_slo_attainment_and_goodput():
    workload = fixed("poisson", count=300, rate_per_s=5.0, prompt=500, output=100)
    strict = simulate(scenario(workload, slo=Slo(1e-4, None)))
    assert strict.summary["slo_attainment"] == 0.0 and strict.summary["goodput_requests_per_s"] == 0.0
    loose = simulate(scenario(workload))
    assert loose.summary["slo_attainment"] == 1.0
