"""Request traces in their published formats: excerpts of the Azure 2023 and Mooncake traces, and a
BurstGPT file written from its documented schema, read into arrivals and lengths."""
import math
from pathlib import Path

import pytest

from hwsim.base.errors import InputError
from hwsim.loading import workload_yaml
from hwsim.loading.traces import TraceOptions, read_trace

TRACES = Path(__file__).parents[2] / "workloads" / "traces"


def test_the_azure_2023_trace_reads_its_datetimes_as_seconds_from_its_first_request():
    trace = read_trace(TRACES / "azure-llm-2023-conv.csv", TraceOptions("azure"))
    table = trace.requests
    assert len(table) == 30
    assert table.iloc[0].tolist() == [0.0, 374, 44]  # 2023-11-16 18:15:46.6805900
    assert table["timestamp_s"].iloc[1] == pytest.approx(4.314579)  # 18:15:50.9951690
    assert "30 requests over" in trace.summary()


def test_the_azure_2024_timestamps_with_a_utc_offset_and_no_fraction_read_too(tmp_path):
    path = tmp_path / "azure-2024.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10 00:00:00.009930+00:00,100,20\n"
                    "2024-05-10 00:00:01+00:00,200,30\n")
    table = read_trace(path, TraceOptions("azure")).requests
    assert table["timestamp_s"].tolist() == pytest.approx([0.0, 0.99007])


def test_mooncake_times_are_milliseconds_and_its_block_hashes_are_kept():
    table = read_trace(TRACES / "mooncake-conversation.jsonl", TraceOptions("mooncake")).requests
    assert len(table) == 30 and table["prompt_tokens"].iloc[0] == 6758
    pairs = zip(table["hash_ids"], table["prompt_tokens"], strict=True)
    assert all(len(ids) == math.ceil(tokens / 512) for ids, tokens in pairs)  # one id per 512-token block
    assert table["hash_ids"].iloc[0][0] == table["hash_ids"].iloc[1][0]  # a shared first block
    assert table["timestamp_s"].max() < 60  # milliseconds read as seconds would be hours


def test_a_burstgpt_failed_request_is_a_bad_row_that_fails_unless_skipped():
    with pytest.raises(InputError, match=r"Response tokens: row 4: expected a whole token count .* got 0 "
                                         r"\(on_bad_row: skip leaves such rows out\)"):
        read_trace(TRACES / "burstgpt-format-sample.csv", TraceOptions("burstgpt"))
    trace = read_trace(TRACES / "burstgpt-format-sample.csv", TraceOptions("burstgpt", on_bad_row="skip"))
    assert len(trace.requests) == 5 and len(trace.skipped) == 1
    assert "1 bad rows skipped (first: row 4, column Response tokens" in trace.summary()


def test_speedup_divides_every_gap_and_a_window_keeps_its_arrivals():
    full = read_trace(TRACES / "azure-llm-2023-conv.csv", TraceOptions("azure")).requests
    fast = read_trace(TRACES / "azure-llm-2023-conv.csv", TraceOptions("azure", speedup=2.0)).requests
    assert fast["timestamp_s"].tolist() == pytest.approx((full["timestamp_s"] / 2).tolist())
    window = read_trace(TRACES / "azure-llm-2023-conv.csv", TraceOptions("azure", window_s=(5.0, 10.0))).requests
    inside = full[(full["timestamp_s"] >= 5) & (full["timestamp_s"] < 10)]
    assert len(window) == len(inside) and window["timestamp_s"].iloc[0] == 0.0


def test_times_out_of_order_fail_unless_sorted_and_sorting_says_so(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n2,10,5\n1,10,5\n3,10,5\n")
    with pytest.raises(InputError, match=r"row 2: expected times in order .* \(sort: true sorts them\)"):
        read_trace(path, TraceOptions())
    trace = read_trace(path, TraceOptions(sort=True))
    assert trace.requests["timestamp_s"].tolist() == [0.0, 1.0, 2.0]
    assert "1 rows out of time order were sorted" in trace.summary()


def test_a_missing_column_names_the_format_and_its_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("TIMESTAMP,ContextTokens\n2023-11-16 18:15:46,10\n")
    with pytest.raises(InputError, match="t.csv: GeneratedTokens: trace column missing; a azure trace has "
                                         "TIMESTAMP, ContextTokens, GeneratedTokens"):
        read_trace(path, TraceOptions("azure"))


def test_a_workload_names_the_trace_format_and_its_options(tmp_path):
    yaml = tmp_path / "w.yaml"
    yaml.write_text(f"arrival: {{kind: trace, file: {TRACES / 'burstgpt-format-sample.csv'}, format: burstgpt, "
                    "on_bad_row: skip, speedup: 2, window: {start: 0 s, end: 13 s}}\n")
    workload = workload_yaml.load_workload(yaml)
    requests = workload.requests()
    assert len(requests) == 4  # arrivals at 0.5..12.5 s less the failed one
    assert requests["arrival_s"].max() == pytest.approx((12.5 - 0.5) / 2)
    assert workload.trace_summary.startswith("trace: 4 requests")


@pytest.mark.parametrize("block, expected", [
    ("format: parquet", "arrival.format: expected one of csv, azure, burstgpt, mooncake"),
    ("window: {start: 10 s, end: 5 s}", "arrival.window.end: must be after start (10 s); got 5 s"),
    ("format: azure, window: {start: 100 s}", "window: no request arrived between 100 s and inf s of the trace"),
    ("on_bad_row: ignore", "arrival.on_bad_row: expected one of fail, skip"),
])
def test_bad_trace_options_name_the_field(tmp_path, block, expected):
    yaml = tmp_path / "w.yaml"
    yaml.write_text(f"arrival: {{kind: trace, file: {TRACES / 'azure-llm-2023-conv.csv'}, {block}}}\n")
    with pytest.raises(InputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        workload_yaml.load_workload(yaml)
