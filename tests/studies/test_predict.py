"""Predicting one measurement row: each kind's predictor, or a reason the row is not predictable."""
from dataclasses import replace

import pytest

from hwsim.loading import catalog, measurements
from hwsim.loading.measurements import Row, RowError
from hwsim.studies import predict, validate


def a_row(**cells) -> Row:
    return Row({"id": "r", "hardware": "h200-sxm", "metric": "seconds", "value": "1", **cells}, "rows.csv")


def test_graph_decode_step_matches_the_measured_h200_row_within_10_percent(data_dir):
    """h200-208: Llama-3-8B decode, batch 1, context 512, CUDA graph: 7.72 ms measured."""
    row = next(r for r in measurements.read(data_dir / "sample.csv") if r.id == "s-1")
    assert predict.predict(row) == pytest.approx(7.72e-3, rel=0.10)


def test_copies_through_drives_and_host_memory(tmp_path):
    path = tmp_path / "copies.csv"
    path.write_text("id,kind,hardware,bytes,src,dst,metric,value\n"
                    "d1,copy,h200-sxm,1073741824,disk,host_pinned,seconds,0.1\n"
                    "d2,copy,h200-sxm,1073741824,disk,device,seconds,0.1\n"
                    "h1,copy,h200-sxm,1073741824,host_pinned,host_pageable,seconds,0.1\n"
                    "x1,copy,h200-sxm,1073741824,device,tape,seconds,0.1\n")
    rows = validate.validate([str(path)]).set_index("id")
    drive = catalog.storage("nvme-pcie5")
    assert rows.loc["d1", "predicted"] == pytest.approx(drive.read_latency_s + 2**30 / drive.read_bandwidth_bytes_per_s)
    assert rows.loc["d2", "predicted"] == pytest.approx(rows.loc["d1", "predicted"])  # the drive is the slower stage
    assert rows.loc["h1", "predicted"] == pytest.approx(2 * 2**30 / 67.6e9, rel=0.01)  # the measured host copy rate
    assert "tape" in rows.loc["x1", "reason"]


def test_offloaded_step_rows_are_predicted(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,kind,hardware,model,dtype,phase,batch,context_len,placement,overlap,launch,metric,value\n"
                    "o-1,step,h200-sxm,llama-3-8b,bf16,decode,1,512,weights=host,true,graph,seconds,0.3\n"
                    "o-2,step,h200-sxm,llama-3-8b,bf16,decode,1,512,weights=host,false,graph,seconds,0.3\n"
                    "o-3,step,h200-sxm,llama-3-8b,bf16,decode,1,512,weights=moon,true,graph,seconds,0.3\n")
    rows = validate.validate([str(path)]).set_index("id")
    # the layers' 13.96 GB stream over PCIe 5 at 55.4 GB/s; embeddings and LM head stay on the device
    assert rows.loc["o-1", "predicted"] == pytest.approx(13.96e9 / 55.4e9, rel=0.05)
    assert rows.loc["o-2", "predicted"] > rows.loc["o-1", "predicted"]
    assert "unknown tier 'moon'" in rows.loc["o-3", "reason"]


@pytest.mark.parametrize("cells, expected", [
    ({"kind": "telepathy"}, "not predictable: unknown kind 'telepathy' (expected gemm, attention, copy, step, serving)"),
    ({"kind": "gemm", "dtype": "fp6", "m": "1", "n": "1", "k": "1"}, "not predictable: unknown dtype 'fp6'"),
    ({"kind": "gemm", "m": "1", "n": "1", "k": "1", "metric": "flops"},
     "not predictable: metric 'flops' for kind gemm (expected seconds)"),
    ({"kind": "gemm", "m": "1", "n": "1", "k": "1", "launch": "lazy"}, "not predictable: unknown launch 'lazy'"),
    ({"kind": "attention", "phase": "prefill", "batch": "1", "q_len": "9", "kv_len": "8", "heads_q": "32",
      "heads_kv": "8", "head_dim": "128"}, "q_len 9 exceeds kv_len 8"),
    ({"kind": "step", "model": "llama-3-8b", "phase": "verify"},
     "not predictable: phase 'verify' (expected prefill or decode)"),
])
def test_a_row_that_cannot_be_predicted_says_why(cells, expected):
    with pytest.raises(RowError) as error:
        predict.predict(a_row(**cells))
    assert str(error.value) == expected


def test_a_performance_overlay_replaces_the_fitted_figures_of_the_device_that_computes():
    h200 = catalog.system("h200-sxm")
    slower = replace(h200.compute.performance, kernel_overhead_s=1e-3)
    assert predict.with_performance(h200, slower).compute.performance == slower
    cpu_only = catalog.system("ryzen-7950x")
    assert predict.with_performance(cpu_only, slower).cpu.compute.performance == slower
    tiny = a_row(kind="gemm", m="1", n="1", k="1")
    assert predict.predict(tiny, {"h200-sxm": slower}) > 1e-3 > predict.predict(tiny)


def test_a_plain_pytorch_int4_row_without_a_format_runs_pytorchs_int4_kernel():
    """The schema's launch column marks a plain PyTorch module, whose int4 weight-only matmul is
    tinygemm; an engine row (no launch) keeps the dtype's plain GEMM over fewer bytes."""
    cells = {"id": "q", "kind": "gemm", "hardware": "h200-sxm", "dtype": "int4", "weight_bits": "4.25",
             "m": "64", "n": "4096", "k": "4096", "metric": "seconds"}
    plain = predict.predict(Row({**cells, "launch": "graph"}, ""))
    named = predict.predict(Row({**cells, "launch": "graph", "weight_format": "int4-tinygemm"}, ""))
    engine = predict.predict(Row(cells, ""))
    assert plain == named and engine < plain / 2


def test_nim_concurrency_rows_without_a_request_count_are_measured_in_steady_state(tmp_path):
    from hwsim.loading.measurements import Row
    from hwsim.studies.predict import _benchmark, _serving_workload

    cells = {"kind": "serving", "hardware": "h100-sxm", "model": "llama-3-8b", "input_len": "500", "output_len": "50",
             "concurrency": "8", "metric": "ttft_mean_s", "value": "0.1"}
    nim = Row(cells | {"engine": "nim-1.8.0"}, "x.csv")
    workload = _serving_workload(nim, _benchmark(nim))
    assert workload.count == 80 and workload.warmup == 16  # ten per user after two per user
    vllm = Row(cells | {"engine": "vllm-0.8.5"}, "x.csv")
    assert _serving_workload(vllm, _benchmark(vllm)).count == 1000  # vllm bench serve's --num-prompts
    given = Row(cells | {"engine": "nim-1.8.0", "requests": "40"}, "x.csv")
    assert _serving_workload(given, _benchmark(given)).warmup == 0
