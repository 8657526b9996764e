"""A run reported as its benchmark tool reports it: the tool's names, units and definitions, over the
measured requests only."""
from dataclasses import replace

import pytest

from hwsim.serving.simulate import simulate
from hwsim.specs.benchmark import Benchmark

from .scenarios import fixed, scenario


def run(tool, warmup=0, **workload):
    load = fixed("closed_loop", count=24, concurrency=4, prompt=512, output=32, **workload)
    return simulate(scenario(replace(load, benchmark=Benchmark(tool, warmup))))


def test_vllm_bench_serve_reports_milliseconds_and_pools_every_gap_for_itl():
    result = run("vllm-bench-serve")
    report = result.summary["benchmark"]
    figures = report["metrics"]
    assert report["tool"] == "vllm bench serve" and report["requests"] == 24
    assert figures["mean_ttft_ms"] == pytest.approx(result.summary["ttft_mean_s"] * 1e3)
    assert figures["mean_tpot_ms"] == pytest.approx(result.summary["tpot_mean_s"] * 1e3)
    assert figures["mean_itl_ms"] == pytest.approx(result.summary["itl_mean_s"] * 1e3)
    assert figures["output_throughput"] == pytest.approx(24 * 32 / figures["duration"])


def test_genai_perf_inter_token_latency_is_each_requests_mean_gap():
    result = run("genai-perf")
    figures = result.summary["benchmark"]["metrics"]
    table = result.requests
    per_request_ms = (table["completion_s"] - table["first_token_s"]) / 31 * 1e3
    assert figures["inter_token_latency"]["avg"] == pytest.approx(per_request_ms.mean())
    assert figures["inter_token_latency"]["unit"] == "ms"
    assert figures["request_count"]["avg"] == 24


def test_genai_perf_warmup_requests_run_first_and_count_in_no_metric():
    result = run("genai-perf", warmup=8)
    assert len(result.requests) == 32 and result.requests["warmup"].sum() == 8
    measured = result.requests[~result.requests["warmup"]]
    assert result.summary["requests"] == 24
    assert result.summary["benchmark"]["metrics"]["request_count"]["avg"] == 24
    assert result.summary["duration_s"] == pytest.approx(measured["completion_s"].max() - measured["arrival_s"].min())
    assert "left out of every metric" in result.summary["benchmark"]["warmup"]


def test_vllm_warmup_finishes_before_the_timed_run_so_it_is_not_simulated():
    result = run("vllm-bench-serve", warmup=8)
    assert len(result.requests) == 24
    assert "finished before the timed run" in result.summary["benchmark"]["warmup"]
