"""Each request's latency taken apart: API overhead, queueing, prefill, decode, host overhead,
preempted and stalled time sum to its end-to-end latency, and their `ttft_` share to its TTFT."""
from dataclasses import replace

import pytest

from hwsim.loading import catalog
from hwsim.serving.simulate import LATENCY_PARTS, TTFT_PARTS, simulate
from hwsim.specs.scenario import EngineConfig

from .scenarios import NO_OVERHEAD, fixed, scenario

ENGINES = {
    "chunked prefill": EngineConfig(),
    "prefill first": EngineConfig(batching="prefill_first"),
    "static batches": EngineConfig(batching="static", max_num_seqs=8),
    "recompute under memory pressure": EngineConfig(gpu_memory_utilization=0.24),
}


def chat(rate_per_s=20.0, count=150):
    return replace(catalog.workload("chat"), count=count, rate_per_s=rate_per_s, seed=2)


@pytest.mark.parametrize("name", ENGINES)
def test_the_parts_of_every_request_sum_to_its_latency(name):
    requests = simulate(scenario(chat(), engine=ENGINES[name])).requests
    e2e = requests["completion_s"] - requests["arrival_s"]
    ttft = requests["first_token_s"] - requests["arrival_s"]
    parts = requests[["api_s", *LATENCY_PARTS, "stalled_s"]]
    assert (parts >= 0).all().all()
    assert parts.sum(axis=1).tolist() == pytest.approx(e2e.tolist(), abs=1e-9)
    ttft_parts = requests[["api_s", *TTFT_PARTS, "ttft_stalled_s"]]
    assert ttft_parts.sum(axis=1).tolist() == pytest.approx(ttft.tolist(), abs=1e-9)


def test_a_lone_request_is_all_prefill_decode_and_host_overhead():
    engine = EngineConfig(step_overhead_s=1e-3, request_overhead_s=4e-3)
    row = simulate(scenario(fixed("offline", count=1, prompt=512, output=64), engine=engine)).requests.iloc[0]
    assert row["api_s"] == pytest.approx(4e-3)
    assert row["queue_s"] == 0.0 and row["preempted_s"] == 0.0 and row["stalled_s"] == pytest.approx(0.0, abs=1e-12)
    assert row["host_s"] == pytest.approx(64 * 1e-3)  # one step for the prompt, 63 decodes
    assert row["decode_s"] > 0 and row["prefill_s"] > 0
    assert row["ttft_prefill_s"] == row["prefill_s"]  # a prompt is done before its first token


def test_requests_beyond_the_batch_limit_queue_and_those_in_it_do_not():
    engine = replace(NO_OVERHEAD, max_num_seqs=4)
    requests = simulate(scenario(fixed("offline", count=8, prompt=256, output=32), engine=engine)).requests
    first, later = requests.iloc[:4], requests.iloc[4:]
    assert (first["queue_s"] == 0).all()
    assert (later["queue_s"] > 0).all()
    assert later["queue_s"].tolist() == pytest.approx(later["ttft_queue_s"].tolist())


def test_recomputed_requests_count_their_time_out_as_preempted():
    requests = simulate(scenario(chat(30.0), engine=replace(NO_OVERHEAD, gpu_memory_utilization=0.24))).requests
    preempted = requests[requests["preemptions"] > 0]
    assert len(preempted) > 0
    assert (preempted["preempted_s"] > 0).all()
    assert (requests.loc[requests["preemptions"] == 0, "preempted_s"] == 0).all()


def test_prefill_first_batching_stalls_decodes_while_others_prefill():
    requests = simulate(scenario(chat(), engine=replace(NO_OVERHEAD, batching="prefill_first"))).requests
    assert requests["stalled_s"].sum() > 0
    chunked = simulate(scenario(chat(), engine=NO_OVERHEAD)).requests
    assert chunked["stalled_s"].sum() < requests["stalled_s"].sum()
