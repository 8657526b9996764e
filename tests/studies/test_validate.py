"""`hwsim validate`: reads the measurement schema, predicts what it can, reports the rest."""
import json

import pytest

from hwsim.loading import catalog, measurements
from hwsim.studies import calibrate, predict, validate


def test_every_row_gets_a_prediction_or_a_reason(data_dir):
    rows = validate.validate([str(data_dir / "sample.csv")])
    assert list(rows["id"]) == ["g-1", "a-1", "c-1", "s-1", "bad-kind", "bad-hw", "bad-cell", "bad-model", "bad-dtype"]
    good = rows[rows["id"].isin(["g-1", "a-1", "c-1", "s-1"])]
    assert good["predicted"].notna().all()
    assert (good["ape"] < 0.2).all()
    reasons = dict(zip(rows["id"], rows["reason"], strict=True))
    assert "unknown kind 'telepathy'" in reasons["bad-kind"]
    assert "h900-sxm" in reasons["bad-hw"] and "h200-sxm" in reasons["bad-hw"]
    assert "column m" in reasons["bad-cell"] and "'lots'" in reasons["bad-cell"]
    assert "llama-9-1b" in reasons["bad-model"]
    assert "fp6" in reasons["bad-dtype"]


def test_summary_per_kind(data_dir):
    rows = validate.validate([str(data_dir / "sample.csv")])
    summary = validate.summarize(rows).set_index("kind")
    assert summary.loc["gemm", "rows"] == 4 and summary.loc["gemm", "predicted"] == 1
    assert summary.loc["step", "worst"] == "s-1"
    assert summary.loc["telepathy", "predicted"] == 0


def test_json_document_has_the_agreed_shape(data_dir):
    rows = validate.validate([str(data_dir / "sample.csv")])
    document = json.loads(json.dumps(validate.to_json(rows, validate.summarize(rows))))
    first = document["rows"][0]
    assert set(first) == {"id", "kind", "metric", "measured", "predicted", "ape"}
    unpredicted = next(r for r in document["rows"] if r["id"] == "bad-kind")
    assert unpredicted["predicted"] is None and "reason" in unpredicted
    assert document["summary"]["overall"]["predicted"] == 4


def test_graph_decode_step_matches_the_measured_h200_row_within_10_percent(data_dir):
    """h200-208: Llama-3-8B decode, batch 1, context 512, CUDA graph: 7.72 ms measured."""
    row = next(r for r in measurements.read(data_dir / "sample.csv") if r.id == "s-1")
    assert predict.predict(row) == pytest.approx(7.72e-3, rel=0.10)


def test_unreadable_file_is_an_input_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("not,the,schema\n1,2,3\n")
    with pytest.raises(Exception, match="required column missing"):
        validate.validate([str(path)])


def test_calibration_recovers_a_known_efficiency(tmp_path):
    """Rows made by the model itself with gemm efficiency 0.6 are fitted back to about 0.6."""
    base = catalog.system("h200-sxm").compute.performance
    from dataclasses import replace

    truth = replace(base, gemm_efficiency={**base.gemm_efficiency, "bf16": 0.6})
    lines = ["id,kind,hardware,dtype,m,n,k,launch,metric,value"]
    for i, m in enumerate([1024, 2048, 4096, 8192, 16384]):
        row = measurements.Row({"id": f"r{i}", "kind": "gemm", "hardware": "h200-sxm", "dtype": "bf16",
                                "m": str(m), "n": "8192", "k": "8192", "launch": "graph", "metric": "seconds"}, "")
        lines.append(f"r{i},gemm,h200-sxm,bf16,{m},8192,8192,graph,seconds,{predict.predict(row, {'h200-sxm': truth})}")
    path = tmp_path / "synthetic.csv"
    path.write_text("\n".join(lines) + "\n")
    fitted, report = calibrate.fit([str(path)], "h200-sxm", passes=2)
    assert fitted.gemm_efficiency["bf16"] == pytest.approx(0.6, abs=0.01)
    assert report["mape_after"] < 0.01 < report["mape_before"]
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(calibrate.overlay_yaml("h200-sxm", fitted, report, [str(path)]))
    loaded = calibrate.load_overlay(overlay)["h200-sxm"]
    assert loaded.gemm_efficiency["bf16"] == pytest.approx(fitted.gemm_efficiency["bf16"], abs=1e-3)


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
