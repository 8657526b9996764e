"""The searching commands' output: plan, moe-plan, offload-plan and flash."""
from .invoke import run


def test_offload_plan_prints_best_and_runner_ups(capsys):
    code, out, _ = run(capsys, "offload-plan", "--hardware", "flexgen-t4", "--model", "opt-13b", "--dtype", "fp16",
                       "--show", "2")
    assert code == 0 and "best:" in out and "runner-ups" in out and "bound by" in out


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


def test_moe_plan_shows_the_residency_options_and_marks_the_chosen(capsys):
    code, out, _ = run(capsys, "moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--routing", "zipf:1.2",
                       "--batch", "4", "--budget", "40 GB")
    assert code == 0 and "expert memory per device 40 GB;" in out
    assert "<- chosen" in out and "none resident" in out and "LRU cache of" in out


def test_moe_plan_budget_needs_a_unit(capsys):
    code, _, err = run(capsys, "moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--budget", "40")
    assert code == 2 and "--budget:" in err


def test_flash_sets_the_configuration_against_its_variants(capsys):
    code, out, _ = run(capsys, "flash", "--hardware", "m1-max-laptop", "--model", "opt-6.7b", "--dtype", "fp32")
    assert code == 0
    for variant in ("this configuration", "without bundling", "without windowing", "naive (whole FFN)"):
        assert variant in out
