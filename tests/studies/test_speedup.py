"""Kernel speedups: which rows pair up, which way is better, how the pairs are averaged."""
import math

import pandas as pd
import pytest

from hwsim.loading.measurements import Row
from hwsim.studies.speedup import COMPARISON_COLUMNS, format_comparison, kernel_speedups


def row(row_id: str, kind: str, value: float, metric: str = "seconds", **cells: str) -> Row:
    return Row({"id": row_id, "kind": kind, "hardware": "h200-sxm", "metric": metric, "value": str(value), **cells},
               "test.csv")


def test_pairs_match_on_everything_but_id_value_and_launch_and_average_geometrically():
    before = [row("b1", "gemm", 2.0, m="1", launch="eager"), row("b2", "gemm", 8.0, m="2", launch="eager")]
    after = [row("a1", "gemm", 1.0, m="1", launch="graph"), row("a2", "gemm", 2.0, m="2", launch="graph")]
    speedups, pairs = kernel_speedups(before, after)
    assert list(pairs["before_id"]) == ["b1", "b2"] and list(pairs["after_id"]) == ["a1", "a2"]
    assert list(pairs["speedup"]) == [2.0, 4.0]  # times: before / after
    assert speedups == {"gemm": pytest.approx(math.sqrt(2.0 * 4.0))}


def test_for_a_rate_higher_is_better():
    speedups, _ = kernel_speedups([row("b", "copy", 10.0, metric="bytes_per_s")],
                                  [row("a", "copy", 15.0, metric="bytes_per_s")])
    assert speedups == {"copy": pytest.approx(1.5)}


def test_rows_of_another_shape_or_kind_do_not_pair():
    speedups, pairs = kernel_speedups([row("b", "gemm", 2.0, m="1"), row("s", "step", 1.0)],
                                      [row("a", "gemm", 1.0, m="3"), row("t", "step", 0.5)])
    assert speedups == {} and pairs.empty


def test_the_table_lists_each_kinds_speedup_and_the_unmatched_rows():
    pairs = pd.DataFrame({"kind": ["gemm", "gemm"], "before_id": ["b1", "b2"], "after_id": ["a1", "a2"],
                          "speedup": [2.0, 2.0]})
    rows = pd.DataFrame([{"before_id": "", "after_id": "s1", "kind": "step", "metric": "seconds",
                          "measured_before": None, "measured_after": 0.005, "reason": "column batch is empty"}],
                        columns=COMPARISON_COLUMNS)
    text = format_comparison({"kernel_speedups": {"gemm": 2.0}, "kernel_pairs": pairs, "unmatched_kernels": ["a9"],
                              "rows": rows})
    lines = text.splitlines()
    assert lines[:3] == ["measured kernel speedups (geometric mean over matched rows):",
                         "  gemm       2.000x over 2 row pairs",
                         "after-state kernel rows with no before-state match: a9"]
    assert lines[-1] == f"{'':<10} {'s1':<10} {'seconds':<20} column batch is empty"
