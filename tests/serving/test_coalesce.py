"""Runs of decode steps are an optimization only: with `engine.coalesce` on, every request's first
token, per-token time and completion are those of the same engine planning every step afresh."""
from dataclasses import replace

import pytest

from hwsim.loading import catalog
from hwsim.serving.simulate import LATENCY_PARTS, TTFT_PARTS, simulate
from hwsim.specs.scenario import Disaggregation, EngineConfig

from .scenarios import scenario

SATURATION_PER_S = 20.5  # chat on Llama-3-8B / one H100: requests per second served with the queue full
OVERHEADS = EngineConfig()  # the default host overheads, so steps are not all alike


def chat(load: float, count: int = 300):
    return replace(catalog.workload("chat"), count=count, rate_per_s=load * SATURATION_PER_S, seed=5)


CASES = {
    "chat at 50% load": scenario(chat(0.5), engine=OVERHEADS),
    "chat at 90% load": scenario(chat(0.9), engine=OVERHEADS),
    "chat at 120% load": scenario(chat(1.2), engine=OVERHEADS),
    "swap preemption": scenario(chat(1.2, 200), engine=replace(OVERHEADS, preemption="swap",
                                                                 gpu_memory_utilization=0.24)),
    "round robin over two replicas": scenario(chat(2.0), engine=OVERHEADS, replicas=2),
    "least outstanding over two replicas": scenario(chat(2.0), engine=replace(OVERHEADS, router="least_outstanding"),
                                                    replicas=2),
    "disaggregated prefill and decode": scenario(chat(0.9, 200), engine=OVERHEADS,
                                                 disaggregation=Disaggregation(1, 1, catalog.link("infiniband-hdr"))),
    "vLLM V1 profile: padded graphs, host overheads": scenario(chat(0.9), engine=catalog.engine("vllm-v1")),
    "vLLM 0.6 profile: eager prefills": scenario(chat(0.9), engine=catalog.engine("vllm-0.6")),
}


def test_the_swap_case_swaps():
    assert simulate(CASES["swap preemption"]).requests["swaps"].sum() > 0


@pytest.mark.parametrize("name", CASES)
def test_coalesced_runs_give_every_request_the_times_of_step_by_step_planning(name):
    coalesced = simulate(CASES[name])
    stepwise = simulate(replace(CASES[name], engine=replace(CASES[name].engine, coalesce=False)))
    assert len(coalesced.steps) < len(stepwise.steps)  # the runs did coalesce
    columns = ["first_token_s", "completion_s", "preemptions", "swaps", "replica", *LATENCY_PARTS, *TTFT_PARTS,
               "stalled_s", "ttft_stalled_s"]
    for column in columns:
        assert coalesced.requests[column].tolist() == pytest.approx(stepwise.requests[column].tolist(), abs=1e-9,
                                                                    nan_ok=True), column
    for key in ("kv_utilization_mean", "kv_utilization_max", "energy_j", "mean_batch"):
        assert coalesced.summary[key] == pytest.approx(stepwise.summary[key], rel=1e-9), key
