"""The kernel-speedup check: measured kernels before and after a change carry through to the steps
they are part of, matched by operator and shape, with a verdict per step."""
import json
from pathlib import Path

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading.measurements import Row
from hwsim.output.cli import main
from hwsim.studies import speedup

ROOT = Path(__file__).resolve().parents[2]
INT4 = ROOT / "validation" / "pairs" / "int4"
LAUNCH = ROOT / "validation" / "pairs" / "launch"


def test_int4_after_steps_are_predicted_within_10_percent_at_every_batch():
    """validation/pairs/int4: tinygemm int4 beats bf16 at M=1 and loses from M=16 on (H200, Llama-3-8B)."""
    result = speedup.compare([str(INT4 / "before.csv")], [str(INT4 / "after.csv")])
    rows = result.rows.set_index("id")
    assert list(rows.index) == ["pair-041", "pair-042", "pair-043"]
    assert (rows["error"].abs() < 0.10).all()
    assert rows.loc["pair-041", "predicted_speedup"] > 1 > rows.loc["pair-043", "predicted_speedup"]


def test_the_verdict_says_how_much_of_the_kernel_gain_reached_the_step_and_why():
    result = speedup.compare([str(INT4 / "before.csv")], [str(INT4 / "after.csv")])
    batch1 = result.rows.set_index("id").loc["pair-041"]
    assert 0.3 < batch1["changed_share"] < 0.9 and batch1["kernel_speedup"] > batch1["measured_speedup"] > 1
    assert batch1["verdict"].startswith("the step gained: 1.27x measured")
    assert "because they were" in batch1["verdict"]


def test_a_launch_change_is_judged_by_the_host_time_it_removes():
    result = speedup.compare([str(LAUNCH / "eager.csv")], [str(LAUNCH / "graph.csv")])
    first = result.rows.iloc[0]
    assert first["launch_change"] == "eager -> graph" and 0.5 < first["host_bound_share"] < 0.9
    assert "from eager -> graph launch" in first["verdict"]


def row(row_id: str, kind: str, value: float, **cells: str) -> Row:
    return Row({"id": row_id, "kind": kind, "hardware": "h200-sxm", "metric": "seconds", "value": str(value),
                **cells}, "test.csv")


def test_rows_pair_by_shape_compared_as_numbers_whatever_the_dtype():
    before = [row("b", "gemm", 2e-5, m="1.0", n="4096", k="4096", dtype="bf16")]
    after = [row("a", "gemm", 1e-5, m="1", n="4096.0", k="4096", dtype="int4", weight_bits="4.25")]
    pairs, unmatched = speedup._kernel_pairs(before, after)
    assert unmatched == [] and pairs.iloc[0]["speedup"] == pytest.approx(2.0)
    assert (pairs.iloc[0]["before_format"], pairs.iloc[0]["after_format"]) == ("bf16", "int4")


def write(path: Path, rows: list[str]) -> str:
    path.write_text("id,kind,hardware,dtype,m,n,k,metric,value\n" + "\n".join(rows) + "\n")
    return str(path)


@pytest.mark.parametrize("before_rows, after_rows, expected", [
    (["s,step,h200-sxm,bf16,,,,seconds,1"], ["a,gemm,h200-sxm,bf16,1,2,3,seconds,1e-5"], "no kernel rows"),
    (["b,gemm,h100-sxm,bf16,1,2,3,seconds,1e-5"], ["a,gemm,h200-sxm,bf16,1,2,3,seconds,1e-5"], "expected one system"),
    (["b,gemm,h200-sxm,bf16,1,2,3,seconds,1e-5", "c,gemm,h100-sxm,bf16,1,2,3,seconds,1e-5"],
     ["a,gemm,h200-sxm,bf16,1,2,3,seconds,1e-5"], "different hardware"),
    (["b,gemm,h200-sxm,bf16,1,2,3,flops_per_s,1e12"], ["a,gemm,h200-sxm,bf16,1,2,3,flops_per_s,1e12"],
     "timed in seconds"),
])
def test_bad_pairs_say_which_file_and_what_was_expected(tmp_path, before_rows, after_rows, expected):
    with pytest.raises(HwsimError, match=expected):
        speedup.compare([write(tmp_path / "b.csv", before_rows)], [write(tmp_path / "a.csv", after_rows)])


def kernel_only(tmp_path: Path, side: str) -> str:
    lines = (INT4 / f"{side}.csv").read_text().splitlines()
    path = tmp_path / f"{side}.csv"
    path.write_text("\n".join([lines[0]] + [line for line in lines[1:] if ",gemm," in line]) + "\n")
    return str(path)


def test_with_only_kernels_after_the_effect_is_predicted_on_named_scenarios(tmp_path, capsys):
    scenario = tmp_path / "chat.yaml"
    scenario.write_text("name: chat-h200\nhardware: h200-sxm\nmodel: llama-3-8b\nworkload:\n"
                        "  arrival: {kind: poisson, rate: 2}\n  requests: 40\n"
                        "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 50}\n")
    before, after = kernel_only(tmp_path, "before"), kernel_only(tmp_path, "after")
    out_json = tmp_path / "out.json"
    code = main(["speedup", before, "--after", after, "--scenario", str(scenario), "--json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0 and "nothing measured end to end was available to compare" in out and "chat-h200:" in out
    effect = json.loads(out_json.read_text())["scenarios"][0]
    assert effect["after"]["tpot_p50_s"] != effect["before"]["tpot_p50_s"]
    assert main(["speedup", before, "--after", after]) == 2
    assert "name scenarios with --scenario" in capsys.readouterr().err


def test_json_rows_carry_the_after_state_and_both_speedups(tmp_path):
    out = tmp_path / "speedup.json"
    assert main(["validate", "--baseline", str(INT4 / "before.csv"), "--after", str(INT4 / "after.csv"),
                 "--json", str(out)]) == 0
    first = json.loads(out.read_text())["rows"][0]
    for key in ("id", "kind", "metric", "measured", "predicted", "measured_before", "predicted_before",
                "measured_speedup", "predicted_speedup", "verdict"):
        assert key in first
    assert first["id"] == "pair-041" and first["kind"] == "step"
