"""Calibration: roofline parameters fitted to kernel measurements, written and read as an overlay."""
from dataclasses import replace

import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, measurements
from hwsim.studies import calibrate, predict


def test_calibration_recovers_a_known_efficiency(tmp_path):
    """Rows made by the model itself with gemm efficiency 0.6 are fitted back to about 0.6."""
    base = catalog.system("h200-sxm").compute.performance
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


def test_step_rows_are_not_fitted_and_a_file_without_kernel_rows_is_an_error(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_text("id,kind,hardware,model,phase,batch,context_len,metric,value\n"
                    "s,step,h200-sxm,llama-3-8b,decode,1,512,seconds,0.008\n")
    with pytest.raises(HwsimError, match="no predictable gemm/attention/copy rows for hardware 'h200-sxm'"):
        calibrate.fit([str(path)], "h200-sxm")


def test_an_overlay_writes_times_in_microseconds_and_reads_back_unchanged(tmp_path):
    base = catalog.system("h200-sxm").compute.performance
    fitted = replace(base, kernel_overhead_s=4.5e-6, gemm_efficiency={**base.gemm_efficiency, "bf16": 0.7})
    text = calibrate.overlay_yaml("h200-sxm", fitted, {"rows": 3, "mape_before": 0.2, "mape_after": 0.05}, ["a.csv"])
    assert "kernel_overhead: 4.5 us" in text and "fitted_on:\n- a.csv" in text
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(text)
    loaded = calibrate.load_overlay(overlay)["h200-sxm"]
    assert loaded.kernel_overhead_s == pytest.approx(4.5e-6)
    assert loaded.gemm_efficiency["bf16"] == 0.7
    assert loaded.memory_efficiency == pytest.approx(base.memory_efficiency)


def test_an_overlay_for_unknown_hardware_names_the_field(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("hardware: h900-sxm\nperformance: {}\n")
    with pytest.raises(InputError, match="overlay.yaml: hardware: unknown hardware 'h900-sxm'"):
        calibrate.load_overlay(overlay)


def test_a_formats_kernel_is_fitted_on_its_own_rows_and_leaves_the_dense_figures(tmp_path):
    """Rows made with a known tinygemm unpacking cost are fitted back to it; the bf16 figures stay."""
    base = catalog.system("h200-sxm").compute.performance
    kernel = base.kernels["int4-tinygemm"]
    truth = replace(base, kernels={**base.kernels, "int4-tinygemm": replace(kernel, dequant_ops_per_weight=3.0)})
    lines = ["id,kind,hardware,dtype,weight_format,m,n,k,launch,metric,value"]
    for i, m in enumerate([1, 4, 16, 64, 256]):
        cells = {"id": f"q{i}", "kind": "gemm", "hardware": "h200-sxm", "dtype": "int4",
                 "weight_format": "int4-tinygemm", "m": str(m), "n": "4096", "k": "4096", "launch": "graph",
                 "metric": "seconds"}
        value = predict.predict(measurements.Row(cells, ""), {"h200-sxm": truth})
        lines.append(f"q{i},gemm,h200-sxm,int4,int4-tinygemm,{m},4096,4096,graph,seconds,{value}")
    path = tmp_path / "int4.csv"
    path.write_text("\n".join(lines) + "\n")
    fitted, report = calibrate.fit([str(path)], "h200-sxm", passes=2)
    assert report["rows"] == 0 and report["kernels"]["int4-tinygemm"]["rows"] == 5
    assert fitted.kernels["int4-tinygemm"].dequant_ops_per_weight == pytest.approx(3.0, rel=0.05)
    assert fitted.gemm_efficiency == base.gemm_efficiency
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(calibrate.overlay_yaml("h200-sxm", fitted, report, [str(path)]))
    loaded = calibrate.load_overlay(overlay)["h200-sxm"]
    assert loaded.kernels["int4-tinygemm"].dequant_ops_per_weight == pytest.approx(
        fitted.kernels["int4-tinygemm"].dequant_ops_per_weight, abs=1e-3)
