"""The command line: real output, one-line errors with exit code 2, examples in --help."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.output.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_prints_times_memory_and_operator_table(capsys):
    code, out, _ = run(capsys, "estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "4",
                       "--prompt", "256", "--output", "32")
    assert code == 0
    for text in ("prefill", "decode per token", "throughput", "weights 16.1 GB", "qkv_proj", "mlp_gate_up", "bound"):
        assert text in out


def test_estimate_json(capsys, tmp_path):
    path = tmp_path / "e.json"
    code, _, _ = run(capsys, "estimate", "--hardware", "h200-sxm", "--model", "mistral-7b", "--ops", "none",
                     "--json", str(path))
    document = json.loads(path.read_text())
    assert code == 0 and document["output_tokens_per_s"] > 0 and document["memory"]["weights_bytes"] > 1e10


@pytest.mark.parametrize("argv, expected", [
    (["estimate", "--hardware", "h100-sxn", "--model", "llama-3-8b"], "did you mean h100-sxm"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "0"], "batch must be at least 1"),
    (["estimate", "--hardware", "t4", "--model", "llama-3-70b"], "does not fit"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--dtype", "fp6"], "unknown dtype"),
    (["validate", "no-such-file.csv"], "file not found"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_validate_prints_rows_and_summary(capsys, data_dir):
    code, out, _ = run(capsys, "validate", str(data_dir / "sample.csv"))
    assert code == 0
    assert "g-1" in out and "not predictable" in out and "MAPE" in out


def test_every_command_help_shows_an_example():
    for command in ("estimate", "validate", "calibrate", "profiles", "import-model", "simulate", "offload-plan",
                    "flash", "plan", "moe-plan", "report"):
        result = subprocess.run([sys.executable, "-m", "hwsim", command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "example:" in result.stdout


def test_import_model_writes_a_loadable_profile(capsys, data_dir, tmp_path):
    path = tmp_path / "mine.yaml"
    code, out, _ = run(capsys, "import-model", str(data_dir / "llama-3-8b-config.json"), "--id", "mine", "-o", str(path))
    assert code == 0 and "8.03B" in out
    code, out, _ = run(capsys, "estimate", "--hardware", "l40s", "--model", str(path), "--ops", "none")
    assert code == 0 and "throughput" in out


def test_installed_package_ships_its_profiles(tmp_path):
    """Run from an unrelated folder: the profiles must come from the installed package."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "hwsim", "profiles"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "h200-sxm" in result.stdout and "deepseek-v3" in result.stdout


def test_simulate_prints_the_summary_and_writes_records(capsys, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("hardware: l40s\nmodel: mistral-7b\nworkload:\n  arrival: {kind: poisson, rate: 2}\n"
                        "  requests: 50\n  prompt_tokens: {kind: fixed, value: 300}\n"
                        "  output_tokens: {kind: fixed, value: 40}\nslo: {ttft: 1 s, tpot: 100 ms}\n")
    code, out, _ = run(capsys, "simulate", str(scenario), "--json", str(tmp_path / "s.json"),
                       "--csv", str(tmp_path / "rec"))
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


@pytest.mark.parametrize("text, expected", [
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\nengine: {batching: greedy}\n",
     "engine.batching: expected one of mixed, prefill_first, static"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chta\n", "workload: unknown workload 'chta'"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\nslo: {ttft: 5}\n", "slo.ttft"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\nreplica: 2\n", "replica: unknown field"),
    ("hardware: h100-sxm\nmodel: llama-3-70b\nworkload: chat\n", "no room for a KV cache"),
])
def test_bad_scenarios_fail_up_front_naming_the_field(capsys, tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = run(capsys, "simulate", str(path))
    assert code == 2 and expected in err and "Traceback" not in err


def test_offload_plan_prints_best_and_runner_ups(capsys):
    code, out, _ = run(capsys, "offload-plan", "--hardware", "flexgen-t4", "--model", "opt-13b", "--dtype", "fp16",
                       "--show", "2")
    assert code == 0 and "best:" in out and "runner-ups" in out and "bound by" in out


def test_estimate_with_a_placement_shows_tiers(capsys):
    code, out, _ = run(capsys, "estimate", "--hardware", "h200-sxm", "--model", "llama-3-8b", "--placement",
                       "weights=host", "--output", "8")
    assert code == 0 and "memory by tier" in out and "bound: h2d" in out


def test_plan_prints_the_winner_frontier_and_writes_outcomes(capsys, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("model: llama-3-8b\nworkload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 60\n"
                    "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 40}\n"
                    "slo: {ttft: 1 s, tpot: 80 ms}\nsearch:\n  hardware: [l4, h100-sxm]\n  replicas: [1, 2]\n")
    code, out, _ = run(capsys, "plan", str(path), "--workers", "1", "--csv", str(tmp_path / "o.csv"), "--all",
                       "--report", str(tmp_path / "plan.html"))
    assert code == 0
    assert "cheapest that meets the SLOs: 1x1 l4 bf16" in out and "frontier" in out and "every candidate" in out
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "o.csv")) == 4
    assert "Cost against latency" in (tmp_path / "plan.html").read_text()


def test_report_command_writes_the_html(capsys, tmp_path):
    data = Path(__file__).parents[1] / "data" / "whatif"
    out = tmp_path / "r.html"
    code, text, _ = run(capsys, "report", str(data / "baseline.yaml"), str(data / "fp8.yaml"), "-o", str(out),
                        "--no-sensitivity")
    assert code == 0 and out.exists() and "fp8 on H200" in text


def test_validate_baseline_after_prints_the_speedup_table(capsys, tmp_path):
    header = "id,kind,hardware,model,dtype,phase,batch,context_len,launch,metric,value\n"
    (tmp_path / "b.csv").write_text(header + "b,step,h200-sxm,llama-3-8b,bf16,decode,1,512,eager,seconds,0.0244\n")
    (tmp_path / "a.csv").write_text(header + "a,step,h200-sxm,llama-3-8b,bf16,decode,1,512,graph,seconds,0.0077\n")
    code, out, _ = run(capsys, "validate", "--baseline", str(tmp_path / "b.csv"), "--after", str(tmp_path / "a.csv"))
    assert code == 0 and "3.17x" in out and "predicted" in out


def test_profiles_list_workloads_and_pricing(capsys):
    code, out, _ = run(capsys, "profiles", "--kind", "workloads")
    assert code == 0 and "chat" in out and "rag-long-context" in out
    code, out, _ = run(capsys, "profiles", "--kind", "pricing")
    assert code == 0 and "cloud-on-demand-2026-05" in out and "owned-2026" in out
