"""The everyday commands' output: estimate, validate, calibrate, simulate, report, profiles and import-model."""
import json
import re

import pytest

from .invoke import run


def test_estimate_prints_times_memory_and_operator_table(capsys):
    code, out, _ = run(capsys, "estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "4",
                       "--prompt-tokens", "256", "--output-tokens", "32")
    assert code == 0
    for text in ("prefill", "decode per token", "throughput", "weights 16.1 GB", "qkv_proj", "mlp_gate_up", "bound"):
        assert text in out


def test_estimate_json(capsys, tmp_path):
    path = tmp_path / "e.json"
    code, _, _ = run(capsys, "estimate", "--hardware", "h200-sxm", "--model", "mistral-7b", "--ops", "none",
                     "--json", str(path))
    document = json.loads(path.read_text())
    assert code == 0 and document["output_tokens_per_s"] > 0 and document["memory"]["weights_bytes"] > 1e10


def test_estimate_with_a_placement_shows_tiers(capsys):
    code, out, _ = run(capsys, "estimate", "--hardware", "h200-sxm", "--model", "llama-3-8b", "--placement",
                       "weights=host", "--output-tokens", "8")
    assert code == 0 and "memory by tier" in out and "bound: h2d" in out


def test_validate_prints_rows_and_summary(capsys, data_dir):
    code, out, _ = run(capsys, "validate", str(data_dir / "sample.csv"))
    assert code == 0
    assert "g-1" in out and "not predictable" in out and "MAPE" in out


def test_validate_baseline_after_prints_the_speedup_table(capsys, tmp_path):
    header = "id,kind,hardware,model,dtype,phase,batch,context_len,launch,metric,value\n"
    (tmp_path / "b.csv").write_text(header + "b,step,h200-sxm,llama-3-8b,bf16,decode,1,512,eager,seconds,0.0244\n")
    (tmp_path / "a.csv").write_text(header + "a,step,h200-sxm,llama-3-8b,bf16,decode,1,512,graph,seconds,0.0077\n")
    code, out, _ = run(capsys, "validate", "--baseline", str(tmp_path / "b.csv"), "--after", str(tmp_path / "a.csv"))
    assert code == 0 and "3.17x" in out and "predicted" in out


def test_simulate_prints_the_summary_and_writes_records(capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("hardware: l40s\nmodel: mistral-7b\nworkload:\n  arrival: {kind: poisson, rate: 2}\n"
                        "  requests: 50\n  prompt_tokens: {kind: fixed, value: 300}\n"
                        "  output_tokens: {kind: fixed, value: 40}\nslo: {ttft: 1 s, tpot: 100 ms}\n")
    code, out, _ = run(capsys, "simulate", str(scenario), "--json", str(tmp_path / "s.json"),
                       "--csv-prefix", str(tmp_path / "rec"))
    assert code == 0
    assert "TTFT" in out and "SLO attainment" in out
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["requests"] == 50
    import pandas as pd

    requests = pd.read_csv(tmp_path / "rec-requests.csv")
    assert len(requests) == 50 and {"arrival_s", "first_token_s", "completion_s", "preemptions"} <= set(requests)
    assert len(pd.read_csv(tmp_path / "rec-steps.csv")) > 0


def test_shipped_scenario_runs(capsys):
    from hwsim.loading.catalog import data_dir

    code, out, _ = run(capsys, "simulate", str(data_dir("workloads") / "scenarios" / "llama3-8b-h100-chat.yaml"))
    assert code == 0 and "1000 in" in out


def test_report_command_writes_the_html(capsys, data_dir, tmp_path):
    data = data_dir / "whatif"
    out = tmp_path / "r.html"
    code, text, _ = run(capsys, "report", str(data / "baseline.yaml"), str(data / "fp8.yaml"), "-o", str(out),
                        "--no-sensitivity")
    assert code == 0 and out.exists() and "fp8 on H200" in text


def test_profiles_list_workloads_and_pricing(capsys):
    code, out, _ = run(capsys, "profiles", "--kind", "workloads")
    assert code == 0 and "chat" in out and "rag-long-context" in out
    code, out, _ = run(capsys, "profiles", "--kind", "pricing")
    assert code == 0 and "cloud-on-demand-2026-05" in out and "owned-2026" in out


def test_import_model_writes_a_loadable_profile(capsys, data_dir, tmp_path):
    path = tmp_path / "mine.yaml"
    code, out, _ = run(capsys, "import-model", str(data_dir / "llama-3-8b-config.json"), "--id", "mine", "-o", str(path))
    assert code == 0 and "8.03B" in out
    code, out, _ = run(capsys, "estimate", "--hardware", "l40s", "--model", str(path), "--ops", "none")
    assert code == 0 and "throughput" in out


@pytest.mark.parametrize("argv, expected", [
    (["--count", "0"], "--count must be at least 1; got 0"),
    (["--routing", "zipf:1.2"], "--routing and --expert-parallel need a mixture-of-experts model; llama-3-8b is dense"),
    (["--placement", "weights=gpu"], "placement weights: unknown tier 'gpu'"),
])
def test_estimate_flags_that_cannot_apply_are_refused(capsys, argv, expected):
    code, _, err = run(capsys, "estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", *argv)
    assert code == 2 and expected in err


def test_calibrate_writes_an_overlay_that_estimate_reads(capsys, data_dir, tmp_path):
    overlay = tmp_path / "fit.yaml"
    code, out, _ = run(capsys, "calibrate", str(data_dir / "sample.csv"), "--hardware", "h200-sxm", "-o", str(overlay))
    assert code == 0 and "fitted 3 kernel rows of h200-sxm" in out and overlay.exists()
    code, out, _ = run(capsys, "estimate", "--hardware", "h200-sxm", "--model", "llama-3-8b", "--ops", "none",
                       "--calibration", str(overlay))
    assert code == 0 and "throughput" in out


def test_profiles_list_models_with_their_sizes(capsys):
    code, out, _ = run(capsys, "profiles", "--kind", "models")
    assert code == 0 and "llama-3-8b" in out and "8.03B" in out and "active)" in out  # MoE models show active size
    assert "hardware" not in out


def _cost_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("cost "))


def _without_cost(output: str) -> list[str]:
    """The printed lines without the cost line and the cost's part of the intervals line."""
    return [re.sub(r"(, |; )cost \$[^\[]*(\[as throughput\])?", " ", line) for line in output.splitlines()
            if not line.startswith("cost ")]


def test_hardware_takes_a_gpu_profile_yaml_that_stands_in_its_typical_server(capsys, tmp_path):
    from hwsim.loading.catalog import hardware_files

    text = hardware_files("gpus")["h100-sxm"].read_text()
    path = tmp_path / "my-h100.yaml"
    path.write_text(text.replace("id: h100-sxm", "id: my-h100"))
    argv = ["estimate", "--model", "llama-3-8b", "--batch", "8", "--ops", "decode"]
    code, out, _ = run(capsys, *argv, "--hardware", str(path))
    _, shipped, _ = run(capsys, *argv, "--hardware", "h100-sxm")
    assert code == 0
    assert _without_cost(out) == _without_cost(shipped)
    # a device no pricing profile knows is still estimated; only its cost says why it is missing
    assert _cost_line(out).split(None, 1)[1].startswith("not priced: pricing cloud-on-demand-2026-05 has no "
                                                         "price for my-h100")


def test_hardware_takes_a_system_profile_yaml(capsys):
    from hwsim.loading.catalog import hardware_files

    argv = ["estimate", "--model", "opt-13b", "--dtype", "fp16", "--batch", "16", "--placement", "weights=host"]
    code, out, _ = run(capsys, *argv, "--hardware", str(hardware_files("systems")["flexgen-t4"]))
    assert code == 0 and out == run(capsys, *argv, "--hardware", "flexgen-t4")[1]
    assert "NVIDIA T4" in out


def test_hardware_yaml_of_another_kind_is_an_error_naming_the_field(capsys):
    from hwsim.loading.catalog import hardware_files

    code, _, err = run(capsys, "estimate", "--model", "llama-3-8b", "--hardware", str(hardware_files("cpus")["grace"]))
    assert code == 2 and "kind: expected one of gpu, system; got 'cpu'" in err and len(err.splitlines()) == 1


def test_simulate_pricing_overrides_the_scenarios(capsys, data_dir):
    scenario = str(data_dir / "whatif" / "baseline.yaml")
    code, out, _ = run(capsys, "simulate", scenario, "--pricing", "owned-2026")
    _, own, _ = run(capsys, "simulate", scenario)
    assert code == 0 and "(owned-2026, 2026-05)" in _cost_line(out) and "owned-2026" not in _cost_line(own)
    assert _without_cost(out) == _without_cost(own)  # only the cost (and its interval) moves


SIMULATED = ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload:\n  arrival: {kind: ARRIVAL}\n  requests: 200\n"
             "  prompt_tokens: {kind: fixed, value: 512}\n  output_tokens: {kind: fixed, value: 64}\n"
             "slo: {ttft: 300 ms, tpot: 40 ms}\n")


def test_simulate_capacity_adds_the_rate_the_slos_hold_to(capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SIMULATED.replace("ARRIVAL", "poisson, rate: 4"))
    code, out, _ = run(capsys, "simulate", str(scenario), "--capacity", "--json", str(tmp_path / "s.json"))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert code == 0 and "requests/s under the SLOs" in out
    assert summary["capacity_requests_per_s"] > 4  # the SLOs hold well above the scenario's own rate
    assert summary["capacity_output_tokens_per_s"] == pytest.approx(summary["capacity_requests_per_s"] * 64)
    assert "(over the run, drain included)" in out


def test_simulate_capacity_of_a_closed_loop_is_refused_in_one_line(capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SIMULATED.replace("ARRIVAL", "closed_loop, concurrency: 8"))
    code, _, err = run(capsys, "simulate", str(scenario), "--capacity")
    assert code == 2 and "--capacity: scenario" in err and "needs poisson or gamma arrivals" in err
    assert len(err.strip().splitlines()) == 1


def test_simulate_and_validate_give_ninety_percent_intervals(capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SIMULATED.replace("ARRIVAL", "poisson, rate: 4"))
    code, out, _ = run(capsys, "simulate", str(scenario), "--json", str(tmp_path / "s.json"))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert code == 0 and "90% intervals" in out
    assert summary["output_tokens_per_s_low"] < summary["output_tokens_per_s_high"]  # for what would be measured
    assert summary["interval_regimes"]["output_tokens_per_s"].startswith("serving/throughput/on-device")
    code, _, _ = run(capsys, "validate", "validation/published.csv", "--json", str(tmp_path / "v.json"))
    rows = json.loads((tmp_path / "v.json").read_text())["rows"]
    predicted = [r for r in rows if r["predicted"] is not None]
    assert predicted and all(r["predicted_low"] < r["predicted_high"] for r in predicted)
    inside = [r["predicted_low"] <= r["measured"] <= r["predicted_high"] for r in predicted]
    assert sum(inside) >= 0.8 * len(inside)


def test_estimate_and_capacity_give_ninety_percent_intervals(capsys, tmp_path):
    code, out, _ = run(capsys, "estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--json",
                       str(tmp_path / "e.json"))
    document = json.loads((tmp_path / "e.json").read_text())
    assert code == 0 and "90% intervals       prefill" in out
    assert document["prefill_s_low"] < document["prefill_s_high"]
    # a rate moves opposite to the time it is derived from
    low, high = document["output_tokens_per_s_low"], document["output_tokens_per_s_high"]
    assert low / document["output_tokens_per_s"] == pytest.approx(document["time_per_output_token_s"]
                                                                  / document["time_per_output_token_s_high"], rel=1e-9)
    assert low < high
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SIMULATED.replace("ARRIVAL", "poisson, rate: 4"))
    code, out, _ = run(capsys, "capacity", str(scenario), "--tolerance", "0.2", "--json", str(tmp_path / "c.json"))
    found = json.loads((tmp_path / "c.json").read_text())
    assert code == 0 and "90% interval" in out
    assert found["capacity_requests_per_s_low"] < found["capacity_requests_per_s_high"]
