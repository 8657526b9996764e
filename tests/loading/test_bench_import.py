"""Benchmark tools' own output files become measurement rows: the shipped samples are written in each
tool's format (vllm bench serve --save-result, genai-perf's profile export, llama-bench -o json)."""
import json
import math
from pathlib import Path

import pytest

from hwsim.base.errors import InputError
from hwsim.loading.bench_import import RunContext, read_benchmark
from hwsim.loading.measurements import MEASUREMENT_COLUMNS, Row
from hwsim.studies import predict

SAMPLES = "validation/benchmark-outputs"
H100 = RunContext("h100-sxm", "llama-3-8b", engine="vllm-0.8.5")


def sample(name):
    return json.loads(Path(SAMPLES, name).read_text())


def by_metric(rows):
    return {row["metric"]: row for row in rows}


def test_a_vllm_result_gives_one_serving_row_per_metric_in_seconds():
    fmt, rows = read_benchmark(f"{SAMPLES}/vllm-bench-serve.json", H100)
    document = sample("vllm-bench-serve.json")
    assert fmt == "vllm"
    metrics = by_metric(rows)
    assert float(metrics["ttft_mean_s"]["value"]) == pytest.approx(document["mean_ttft_ms"] / 1e3)
    assert float(metrics["itl_mean_s"]["value"]) == pytest.approx(document["mean_itl_ms"] / 1e3)
    assert float(metrics["output_tokens_per_s"]["value"]) == pytest.approx(document["output_throughput"])
    row = metrics["ttft_mean_s"]
    assert (row["concurrency"], row["request_rate"]) == ("4", "")  # --max-concurrency: a closed loop
    assert row["requests"] == "8" and row["input_len"] == "1024" and row["output_len"] == "128"
    assert row["engine"] == "vllm-0.8.5" and set(row) <= set(MEASUREMENT_COLUMNS)


def test_genai_perf_inter_token_latency_is_the_per_request_tpot():
    fmt, rows = read_benchmark(f"{SAMPLES}/genai-perf-profile_export_genai_perf.json", H100)
    document = sample("genai-perf-profile_export_genai_perf.json")
    assert fmt == "genai-perf"
    metrics = by_metric(rows)
    assert "itl_mean_s" not in metrics
    assert float(metrics["tpot_mean_s"]["value"]) == pytest.approx(document["inter_token_latency"]["avg"] / 1e3)
    assert float(metrics["ttft_p99_s"]["value"]) == pytest.approx(document["time_to_first_token"]["p99"] / 1e3)
    assert metrics["ttft_mean_s"]["requests"] == "10"


def test_llama_bench_tests_become_prefill_and_decode_steps():
    fmt, rows = read_benchmark(f"{SAMPLES}/llama-bench.json", RunContext("rtx-4090", "qwen2.5-7b"))
    tests = sample("llama-bench.json")
    assert fmt == "llama-bench"
    prefill, decode = rows
    assert prefill["phase"] == "prefill" and prefill["prompt_len"] == "512"
    assert float(prefill["value"]) == pytest.approx(512 / tests[0]["avg_ts"])
    assert decode["phase"] == "decode" and decode["context_len"] == "64"  # half of tg128
    assert float(decode["value"]) == pytest.approx(1 / tests[1]["avg_ts"])
    assert prefill["weight_format"] == "q4_k_m" and prefill["dtype"] == "int4"
    assert float(prefill["weight_bits"]) == pytest.approx(8 * 4677120000 / 7615616512, rel=1e-3)
    assert prefill["engine"] == "llama.cpp-b5163"


def test_imported_rows_are_predictable():
    _, rows = read_benchmark(f"{SAMPLES}/vllm-bench-serve.json", H100)
    row = rows[0] | {"id": "x"}
    value = predict.predict(Row({c: row.get(c, "") for c in MEASUREMENT_COLUMNS}, "test"))
    assert math.isfinite(value) and value > 0


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not valid JSON"),
    ('{"model": "x", "results": []}', "not a benchmark output hwsim reads"),
    ('[1, 2]', "not a benchmark output hwsim reads"),
])
def test_foreign_or_unreadable_files_are_refused(tmp_path, content, expected):
    path = tmp_path / "bench.json"
    path.write_text(content)
    with pytest.raises(InputError, match=expected):
        read_benchmark(path, H100)


def test_a_vllm_run_at_a_rate_capped_by_a_concurrency_is_refused(tmp_path):
    document = sample("vllm-bench-serve.json") | {"request_rate": 4.0}
    path = tmp_path / "capped.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="max_concurrency: 4 with request_rate 4: arrivals at a rate capped"):
        read_benchmark(path, H100)


def test_a_bad_value_names_its_field(tmp_path):
    document = sample("vllm-bench-serve.json") | {"mean_ttft_ms": "fast"}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="mean_ttft_ms: expected a positive number, got 'fast'"):
        read_benchmark(path, H100)


def test_a_combined_prompt_and_generation_test_is_refused(tmp_path):
    tests = sample("llama-bench.json")
    tests[0]["n_gen"] = 128
    path = tmp_path / "pg.json"
    path.write_text(json.dumps(tests))
    with pytest.raises(InputError, match=r"\[0\]: n_prompt 512, n_gen 128, n_depth 0: only prompt tests"):
        read_benchmark(path, RunContext("rtx-4090", "qwen2.5-7b"))


def test_a_format_named_on_the_command_line_must_match(tmp_path):
    with pytest.raises(InputError, match="missing; a genai-perf output has"):
        read_benchmark(f"{SAMPLES}/vllm-bench-serve.json", H100, "genai-perf")
