"""The searching commands' output: plan, moe-plan, offload-plan and flash."""
import json

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


def test_moe_plan_json_lists_the_options_it_prints(capsys, tmp_path):
    path = tmp_path / "moe.json"
    code, out, _ = run(capsys, "moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--routing", "zipf:1.2",
                       "--batch", "4", "--json", str(path))
    document = json.loads(path.read_text())
    assert code == 0 and document["model"] == "mixtral-8x7b" and document["batch"] == 4
    assert [o["name"] for o in document["options"]][0] == document["chosen"]
    for option in document["options"]:
        assert option["name"] in out and 0 <= option["hit_rate"] <= 1 and option["output_tokens_per_s"] > 0


def test_offload_plan_json_lists_every_feasible_policy_best_first(capsys, tmp_path):
    path = tmp_path / "offload.json"
    code, out, _ = run(capsys, "offload-plan", "--hardware", "flexgen-t4", "--model", "opt-13b", "--dtype", "fp16",
                       "--show", "1", "--json", str(path))
    policies = json.loads(path.read_text())["policies"]
    rates = [p["output_tokens_per_s"] for p in policies]
    assert code == 0 and len(policies) > 2 and rates == sorted(rates, reverse=True)
    assert f"best: {policies[0]['placement']}, batch {policies[0]['batch']}:" in out


def test_flash_json_has_each_variant_with_its_total(capsys, tmp_path):
    path = tmp_path / "flash.json"
    code, _, _ = run(capsys, "flash", "--hardware", "m1-max-laptop", "--model", "opt-6.7b", "--dtype", "fp32",
                     "--json", str(path))
    variants = json.loads(path.read_text())["variants"]
    assert code == 0 and [v["name"] for v in variants][0] == "this configuration" and len(variants) == 4
    for v in variants:
        assert abs(v["total_s"] - (v["flash_load_s"] + v["memory_management_s"] + v["compute_s"])) < 1e-12


PLAN = ("model: llama-3-8b\nworkload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 40\n"
        "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 40}\n"
        "slo: {ttft: 1 s, tpot: 80 ms}\nsearch:\n  hardware: [HARDWARE]\n")


def test_plan_pricing_overrides_the_plan_files(capsys, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("HARDWARE", "h100-sxm"))
    code, out, _ = run(capsys, "plan", str(path), "--workers", "1", "--pricing", "owned-2026")
    assert code == 0 and "(owned-2026, 2026-05)" in out and "cloud-on-demand" not in out


def test_plan_pricing_without_a_price_for_a_searched_device_fails_before_simulating(capsys, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("HARDWARE", "h100-sxm, l4"))
    code, out, err = run(capsys, "plan", str(path), "--workers", "1", "--pricing", "owned-2026")
    assert code == 2 and out == "" and "--pricing owned-2026: l4 has no price (priced: a6000," in err


def test_plan_gives_the_winners_capacity_or_why_it_has_none(capsys, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("HARDWARE", "h100-sxm"))  # 40 requests cannot load an H100
    code, out, _ = run(capsys, "plan", str(path), "--workers", "1")
    assert code == 0 and "capacity not found: the SLOs hold even at" in out and "too few to load" in out


def test_plan_robust_judges_the_slos_at_the_pessimistic_end_of_each_interval(capsys, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("HARDWARE", "l4, h100-sxm"))
    code, out, _ = run(capsys, "plan", str(path), "--workers", "1", "--robust", "--json", str(tmp_path / "p.json"))
    rows = json.loads((tmp_path / "p.json").read_text())
    assert code == 0 and "robust (SLOs at the pessimistic end of each 90% interval)" in out
    assert all(row["passes"] or not row["passes_robust"] for row in rows)  # robust passes are passes
