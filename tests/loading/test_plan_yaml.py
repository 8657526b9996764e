"""Plan files: the search space expands to candidates, and a bad value fails before any simulation."""
import re

import pytest

from hwsim.base.errors import InputError
from hwsim.loading.plan_yaml import load_plan

HEAD = """
model: llama-3-8b
workload:
  arrival: {kind: poisson, rate: 1}
  prompt_tokens: {kind: fixed, value: 100}
  output_tokens: {kind: fixed, value: 10}
  requests: 10
slo: {tpot: 50 ms}
"""


def plan_file(tmp_path, search: str, head: str = HEAD):
    path = tmp_path / "plan.yaml"
    path.write_text(head + "search:\n" + search)
    return path


def layouts(spec) -> list[tuple[int, int]]:
    return [(c.tensor_parallel, c.replicas) for c in spec.candidates]


def test_one_value_stands_for_a_list_of_one_and_defaults_fill_the_rest(tmp_path):
    spec = load_plan(plan_file(tmp_path, "  hardware: h100-sxm\n"))
    (candidate,) = spec.candidates
    assert candidate.describe() == "1x1 h100-sxm bf16, seqs 256, tokens 8192"


def test_every_combination_is_a_candidate_in_a_fixed_order(tmp_path):
    search = "  hardware: [h100-sxm, l4]\n  replicas: [1, 2]\n  dtype: [bf16, fp8]\n"
    spec = load_plan(plan_file(tmp_path, search))
    assert [(c.hardware, c.dtype, c.replicas) for c in spec.candidates] == [
        ("h100-sxm", "bf16", 1), ("h100-sxm", "bf16", 2), ("h100-sxm", "fp8", 1), ("h100-sxm", "fp8", 2),
        ("l4", "bf16", 1), ("l4", "bf16", 2), ("l4", "fp8", 1), ("l4", "fp8", 2)]


def test_device_totals_become_replicas_of_each_tensor_parallel_size_that_divides_them(tmp_path):
    spec = load_plan(plan_file(tmp_path, "  hardware: [h100-sxm]\n  tensor_parallel: [1, 2, 4]\n"
                                         "  devices: [8, 6]\n"))
    # 8 and 6 devices: tp 1 -> 8, 6 replicas; tp 2 -> 4, 3; tp 4 -> 2 (6 is not a multiple of 4)
    assert layouts(spec) == [(1, 8), (1, 6), (2, 4), (2, 3), (4, 2)]
    assert {c.devices for c in spec.candidates} == {8, 6}


def test_a_kv_dtype_of_null_means_the_weight_dtype(tmp_path):
    spec = load_plan(plan_file(tmp_path, "  hardware: [h100-sxm]\n  kv_dtype: [fp8, null]\n"))
    assert [c.kv_dtype for c in spec.candidates] == ["fp8", None]


@pytest.mark.parametrize("search, expected", [
    ("  hardware: [h100-sxm]\n  devices: [8]\n  replicas: [1]\n",
     "search.devices: give devices (total) or replicas, not both"),
    ("  hardware: [h100-sxm]\n  tensor_parallel: [3]\n",
     "search.tensor_parallel: 3 does not divide the 32 heads of llama-3-8b"),
    ("  hardware: [h100-sxm]\n  tensor_parallel: [4]\n  devices: [2]\n",
     "search.tensor_parallel: 4 is larger than devices 2"),
    ("  hardware: []\n", "search.hardware: expected at least one value"),
    ("  hardware: [ryzen-7950x]\n", "search.hardware: ryzen-7950x has no price in pricing cloud-on-demand-2026-05"),
    ("  hardware: [h100-sxm]\n  kv_dtype: [fp7]\n", "search.dtype: unknown dtype 'fp7'"),
    ("  hardware: [h100-sxm]\n  placement: [weights=nvme]\n", "search.placement: placement weights: unknown tier"),
    ("  hardware: [h100-sxm]\n  colour: red\n", "search.colour: unknown field"),
])
def test_a_bad_search_space_names_the_field(tmp_path, search, expected):
    with pytest.raises(InputError, match=re.escape(expected)):
        load_plan(plan_file(tmp_path, search))


def test_slos_are_judged_at_a_percentile_the_plan_reports(tmp_path):
    head = HEAD.replace("slo: {tpot: 50 ms}", "slo: {tpot: 50 ms, percentile: 95}")
    with pytest.raises(InputError, match="slo.percentile: expected one of 50, 90, 99; got 95"):
        load_plan(plan_file(tmp_path, "  hardware: [h100-sxm]\n", head))


def test_a_plan_without_any_target_is_an_error(tmp_path):
    head = HEAD.replace("slo: {tpot: 50 ms}", "slo: {percentile: 90}")
    with pytest.raises(InputError, match="slo: give at least one of ttft, tpot, min_output_tokens_per_s"):
        load_plan(plan_file(tmp_path, "  hardware: [h100-sxm]\n", head))
