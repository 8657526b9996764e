"""torch.profiler traces become kernel rows: shapes from the operators' input dims, device time from
the kernels they launched (or the operators' own time on a CPU), one row per shape."""
import json
from pathlib import Path

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import measurements
from hwsim.loading.torch_trace import read_trace
from hwsim.output.cli import main

TRACES = Path(__file__).resolve().parents[1] / "data" / "traces"
CPU = TRACES / "torch-profiler-cpu.json"  # written by benchmarks/traces/make_cpu_trace.py (PyTorch 2.13, CPU)
GPU = TRACES / "torch-profiler-gpu-sample.json"  # Kineto's GPU events: kernels and copies linked by External id


def by_kind(rows):
    return {kind: [r for r in rows if r["kind"] == kind] for kind in ("gemm", "attention", "copy")}


def test_a_cpu_trace_gives_one_row_per_gemm_and_attention_shape():
    rows = by_kind(read_trace(CPU, "ryzen-7950x"))
    gemms = {(r["m"], r["n"], r["k"], r.get("batch", 1)) for r in rows["gemm"]}
    # linear(x[2, 64, 256], W[768, 256]) is m=128 n=768 k=256; the mm inside it is not counted again
    assert gemms == {(128, 768, 256, 1), (128, 256, 256, 1), (128, 512, 256, 1), (128, 256, 512, 1), (32, 16, 64, 8)}
    (attention,) = rows["attention"]
    assert (attention["batch"], attention["q_len"], attention["kv_len"], attention["heads_q"],
            attention["head_dim"], attention["phase"]) == (2, 64, 64, 4, 64, "prefill")
    assert all(r["notes"] == "median of 2 calls" and r["dtype"] == "fp32" for r in rows["gemm"])


def test_cpu_operators_take_their_own_duration():
    events = json.loads(CPU.read_text())["traceEvents"]
    bmm = sorted(e["dur"] for e in events if e.get("name") == "aten::bmm")
    (row,) = [r for r in read_trace(CPU, "ryzen-7950x") if r.get("batch") == 8]
    assert row["value"] == pytest.approx((bmm[0] + bmm[1]) / 2 / 1e6)


def test_a_gpu_trace_takes_the_device_time_of_the_kernels_each_operator_launched():
    rows = by_kind(read_trace(GPU, "h200-sxm"))
    (gemm,) = rows["gemm"]
    assert (gemm["m"], gemm["n"], gemm["k"], gemm["dtype"]) == (1, 6144, 4096, "bf16")
    assert gemm["value"] == pytest.approx(22.0e-6)  # median of the two calls' kernels, 21.5 and 22.5 us
    (attention,) = rows["attention"]
    assert attention["phase"] == "decode" and attention["value"] == pytest.approx(21.0e-6)  # split-KV + combine
    (copy,) = rows["copy"]
    assert (copy["bytes"], copy["src"], copy["dst"], copy["value"]) == (1048576, "host_pinned", "device", 25.0e-6)


def test_import_trace_writes_rows_validate_can_read(tmp_path, capsys):
    out = tmp_path / "kernels.csv"
    assert main(["import-trace", str(GPU), "--hardware", "h200-sxm", "-o", str(out)]) == 0
    assert "3 kernel rows" in capsys.readouterr().out
    rows = measurements.read(out)
    assert [r.kind for r in rows] == ["attention", "copy", "gemm"] and rows[2].integer("n") == 6144


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.json"
    path.write_text(text)
    return path


def test_a_trace_without_shapes_says_to_record_them(tmp_path):
    document = json.loads(CPU.read_text())
    for event in document["traceEvents"]:
        (event.get("args") or {}).pop("Input Dims", None)
    with pytest.raises(HwsimError, match="record_shapes=True"):
        read_trace(write(tmp_path, json.dumps(document)), "ryzen-7950x")


@pytest.mark.parametrize("text, expected", [
    (CPU.read_text()[:5000], "not a complete JSON file"),
    ('{"name": "not a trace"}', "no traceEvents list"),
    ("[1, 2, 3]", "no traceEvents list"),
])
def test_truncated_or_foreign_json_is_one_clear_error(tmp_path, text, expected):
    with pytest.raises(HwsimError, match=expected):
        read_trace(write(tmp_path, text), "h200-sxm")
