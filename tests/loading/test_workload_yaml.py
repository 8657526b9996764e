"""Workloads: arrival processes and length distributions, reproducible from a seed."""
import math
import re

import numpy as np
import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, workload_yaml
from hwsim.specs.workload import Lengths, Workload


def write(tmp_path, text, name="w.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("preset", ["chat", "summarization", "code-completion", "rag-long-context"])
def test_presets_match_their_documented_means(preset):
    workload = catalog.workload(preset)
    requests = workload.requests()
    assert len(requests) == workload.count
    for lengths, column in ((workload.prompt, "prompt_tokens"), (workload.output, "output_tokens")):
        documented = lengths.median * math.exp(lengths.sigma**2 / 2)  # lognormal mean, before clipping
        assert requests[column].mean() == pytest.approx(documented, rel=0.08)
        assert requests[column].between(lengths.low, lengths.high).all()
    gaps = np.diff(requests["arrival_s"])
    assert gaps.mean() == pytest.approx(1 / workload.rate_per_s, rel=0.1)


def test_a_fixed_seed_reproduces_the_requests_exactly():
    first, second = catalog.workload("chat").requests(), catalog.workload("chat").requests()
    assert first.equals(second)


def test_gamma_arrivals_have_the_requested_burstiness():
    workload = Workload("bursty", "gamma", rate_per_s=10, cv=3.0, count=20000, seed=7)
    gaps = np.diff(workload.requests()["arrival_s"])
    assert gaps.mean() == pytest.approx(0.1, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(3.0, rel=0.15)


def test_offline_and_closed_loop_arrivals():
    offline = Workload("batch", "offline", count=5, prompt=Lengths("fixed", 100), output=Lengths("fixed", 10))
    assert (offline.requests()["arrival_s"] == 0).all()
    closed = Workload("users", "closed_loop", concurrency=4, count=8)
    assert closed.requests()["arrival_s"].isna().all()


def test_duration_bounds_open_loop_arrivals(tmp_path):
    path = write(tmp_path, "arrival: {kind: poisson, rate: 20}\nduration: 10 s\n"
                           "prompt_tokens: {kind: uniform, low: 10, high: 20}\noutput_tokens: {kind: fixed, value: 5}\n")
    requests = workload_yaml.load_workload(path).requests()
    assert requests["arrival_s"].max() < 10 and 150 < len(requests) < 250
    assert requests["prompt_tokens"].between(10, 20).all()


def test_trace_replay_from_csv_and_jsonl(tmp_path):
    (tmp_path / "t.csv").write_text("timestamp_s,prompt_tokens,output_tokens,user\n5.0,100,20,a\n6.5,50,10,b\n")
    requests = workload_yaml.load_workload(write(tmp_path, "arrival: {kind: trace, file: t.csv}\n")).requests()
    assert list(requests["arrival_s"]) == [0.0, 1.5] and list(requests["prompt_tokens"]) == [100, 50]
    (tmp_path / "t.jsonl").write_text('{"timestamp_s": 0, "prompt_tokens": 7, "output_tokens": 3}\n')
    requests = workload_yaml.load_workload(write(tmp_path, "arrival: {kind: trace, file: t.jsonl}\n", "j.yaml")).requests()
    assert list(requests["output_tokens"]) == [3]


def test_empirical_lengths_sample_from_the_file(tmp_path):
    (tmp_path / "lengths.txt").write_text("10\n20\n30\n")
    path = write(tmp_path, "arrival: {kind: offline}\nrequests: 200\n"
                           "prompt_tokens: {kind: empirical, file: lengths.txt}\noutput_tokens: {kind: fixed, value: 1}\n")
    assert set(workload_yaml.load_workload(path).requests()["prompt_tokens"]) == {10, 20, 30}


def test_trace_with_missing_column_names_it(tmp_path):
    (tmp_path / "t.csv").write_text("timestamp_s,prompt_tokens\n0,10\n")
    with pytest.raises(InputError, match="output_tokens"):
        workload_yaml.load_workload(write(tmp_path, "arrival: {kind: trace, file: t.csv}\n"))


def test_rate_of_zero_is_rejected_with_the_field(tmp_path):
    path = write(tmp_path, "arrival: {kind: poisson, rate: 0}\nrequests: 5\n"
                           "prompt_tokens: {kind: fixed, value: 1}\noutput_tokens: {kind: fixed, value: 1}\n")
    with pytest.raises(InputError, match=r"arrival\.rate: must be greater than zero"):
        workload_yaml.load_workload(path)


def test_unknown_arrival_kind_lists_the_choices(tmp_path):
    path = write(tmp_path, "arrival: {kind: sometimes}\nrequests: 5\n")
    with pytest.raises(InputError, match="poisson, gamma, closed_loop, offline, trace"):
        workload_yaml.load_workload(path)


def test_unknown_preset_lists_close_matches():
    with pytest.raises(HwsimError, match="chat"):
        catalog.workload("chta")


LENGTHS = "prompt_tokens: {kind: fixed, value: 256}\noutput_tokens: {kind: fixed, value: 64}\n"


@pytest.mark.parametrize("block, requests, source", [
    ("benchmark: {tool: vllm-bench-serve}\narrival: {kind: closed_loop, concurrency: 16}\n", 1000,
     "vllm bench serve's default, 1000"),
    ("benchmark: {tool: vllm-bench-serve}\narrival: {kind: poisson, rate: 4}\n", 1000,
     "vllm bench serve's default, 1000"),
    ("benchmark: {tool: genai-perf}\narrival: {kind: closed_loop, concurrency: 3}\n", 10,
     "genai-perf's default, max(10, 2 x concurrency)"),
    ("benchmark: {tool: genai-perf}\narrival: {kind: closed_loop, concurrency: 50}\n", 100,
     "genai-perf's default, max(10, 2 x concurrency)"),
    ("benchmark: {tool: genai-perf}\narrival: {kind: closed_loop, concurrency: 50}\nrequests: 500\n", 500, ""),
])
def test_a_benchmark_without_a_request_count_sends_what_its_tool_sends(tmp_path, block, requests, source):
    workload = workload_yaml.load_workload(write(tmp_path, block + LENGTHS))
    assert workload.count == requests and workload.count_source == source


def test_genai_perf_warmup_runs_ahead_of_the_measured_requests_and_vllm_before_the_run(tmp_path):
    text = "arrival: {kind: closed_loop, concurrency: 4}\nrequests: 20\n" + LENGTHS
    genai = workload_yaml.load_workload(write(tmp_path, "benchmark: {tool: genai-perf, warmup_requests: 6}\n" + text))
    assert genai.warmup == 6 and len(genai.requests()) == 26
    vllm = workload_yaml.load_workload(write(tmp_path, "benchmark: {tool: vllm-bench-serve, warmup_requests: 6}\n"
                                                       + text))
    assert vllm.warmup == 0 and len(vllm.requests()) == 20


@pytest.mark.parametrize("text, expected", [
    ("benchmark: {tool: locust}\narrival: {kind: closed_loop, concurrency: 4}\n",
     "benchmark.tool: expected one of vllm-bench-serve, genai-perf"),
    ("benchmark: {tool: genai-perf}\narrival: {kind: poisson, rate: 4}\n",
     "requests: genai-perf has no known default request count for poisson arrivals"),
    ("arrival: {kind: closed_loop, concurrency: 64}\nrequests: 10\n",
     "closed_loop concurrency 64 is above the 10 requests sent"),
])
def test_bad_benchmark_blocks_name_the_field(tmp_path, text, expected):
    with pytest.raises(InputError, match=re.escape(expected)):
        workload_yaml.load_workload(write(tmp_path, text + LENGTHS))


def test_a_steady_state_measurement_warms_up_two_rounds_and_measures_ten_per_user(tmp_path):
    text = "benchmark: {tool: genai-perf, measurement: steady}\narrival: {kind: closed_loop, concurrency: 6}\n"
    workload = workload_yaml.load_workload(write(tmp_path, text + LENGTHS))
    assert workload.count == 60 and workload.warmup == 12 and len(workload.requests()) == 72
    assert workload.count_source == "steady state: 10 per user after 12 warm-up"


def test_a_steady_state_measurement_needs_users(tmp_path):
    text = "benchmark: {tool: genai-perf, measurement: steady}\narrival: {kind: poisson, rate: 3}\nrequests: 50\n"
    with pytest.raises(InputError, match="benchmark.measurement: steady is measured at a concurrency"):
        workload_yaml.load_workload(write(tmp_path, text + LENGTHS))


def test_shared_prefixes_lengthen_every_prompt_and_name_its_group(tmp_path):
    text = ("arrival: {kind: poisson, rate: 2}\nrequests: 400\nprefix: {tokens: 2000, groups: 4}\n"
            "prompt_tokens: {kind: uniform, low: 100, high: 300}\noutput_tokens: {kind: fixed, value: 50}\n")
    requests = workload_yaml.load_workload(write(tmp_path, text)).requests()
    assert requests["prompt_tokens"].between(2100, 2300).all()
    groups = [segments[0][0] for segments in requests["segments"]]
    assert sorted(set(groups)) == [("prefix", g) for g in range(4)]
    assert all(segments[0][1] == 2000 for segments in requests["segments"])


def test_a_zipf_prefix_popularity_favors_the_first_prefixes(tmp_path):
    text = ("arrival: {kind: poisson, rate: 2}\nrequests: 2000\nprefix: {tokens: 512, groups: 50, zipf: 1.2}\n"
            + LENGTHS)
    requests = workload_yaml.load_workload(write(tmp_path, text)).requests()
    counts = requests["segments"].map(lambda segments: segments[0][0][1]).value_counts()
    assert counts[0] > counts[1] > counts[10]  # group k drawn with weight k^-1.2


@pytest.mark.parametrize("block, expected", [
    ("prefix: {tokens: 0, groups: 4}", "prefix.tokens: must be at least 1"),
    ("prefix: {tokens: 100, groups: 0}", "prefix.groups: must be at least 1"),
    ("prefix: {tokens: 100, groups: 4, zipf: -1}", "prefix.zipf: must be at least 0"),
    ("prefix: {tokens: 9999990, groups: 4}", "prefix.tokens: 9,999,990 shared tokens and a suffix of up to 256"),
])
def test_bad_prefix_blocks_name_the_field(tmp_path, block, expected):
    text = f"arrival: {{kind: poisson, rate: 2}}\nrequests: 10\n{block}\n" + LENGTHS
    with pytest.raises(InputError, match=re.escape(expected)):
        workload_yaml.load_workload(write(tmp_path, text))


@pytest.mark.parametrize("text, expected", [
    ("arrival: {kind: poisson, rate: 1}\nrequests: 5\nsessions: {turns: {kind: fixed, value: 0}}\n",
     "sessions.turns.value: must be at least 1"),
    ("arrival: {kind: closed_loop, concurrency: 2}\nrequests: 5\nsessions: {turns: {kind: fixed, value: 3}}\n",
     "sessions.turns: sessions start at poisson or gamma arrivals; got closed_loop"),
    ("arrival: {kind: poisson, rate: 1}\nrequests: 5\nsessions: {turns: {kind: fixed, value: 3}, think_time: -1 s}\n",
     "sessions.think_time"),
])
def test_bad_session_blocks_name_the_field(tmp_path, text, expected):
    with pytest.raises(InputError, match=re.escape(expected)):
        workload_yaml.load_workload(write(tmp_path, text + LENGTHS))
