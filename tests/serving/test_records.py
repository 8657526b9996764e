"""What a run keeps: request records as numbers, step totals, and the step table only when asked."""
from dataclasses import replace

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.serving.records import StepTotals
from hwsim.serving.simulate import little_law, simulate

from .scenarios import scenario

CHAT = scenario(replace(catalog.workload("chat"), count=400, rate_per_s=18.0))


def test_a_run_without_its_step_table_has_the_same_requests_and_summary():
    kept, dropped = simulate(CHAT), simulate(CHAT, keep_steps=False)
    assert dropped.steps is None and kept.steps is not None
    assert dropped.requests.equals(kept.requests)
    assert dropped.summary == kept.summary


def test_the_step_totals_are_those_of_the_step_table():
    result = simulate(CHAT)
    from_table = StepTotals.of(result.steps)
    totals = result.step_totals
    assert (totals.records, totals.steps, totals.decode_seq_steps) == (len(result.steps), from_table.steps,
                                                                       from_table.decode_seq_steps)
    for name in ("busy_s", "kv_share_s", "kv_peak_share", "energy_j"):
        assert getattr(totals, name) == pytest.approx(getattr(from_table, name), rel=1e-12), name
    assert result.summary["mean_batch"] == pytest.approx(
        (result.steps["decode_seqs"] * result.steps["steps"]).sum() / result.steps["steps"].sum(), rel=1e-12)


def test_totals_of_parts_add_up_and_keep_each_replica_apart():
    first = StepTotals()
    first.add(0, 0.0, 1.0, 4, 8, 10.0, 12.0, 100, 50.0)
    second = StepTotals()
    second.add(0, 1.0, 3.0, 1, 2, 30.0, 30.0, 100, 20.0)
    whole = first + second.renumbered(1)
    assert whole.busy_s_by_replica == {0: 1.0, 1: 2.0} and whole.busy_s == 3.0
    assert whole.kv_share_s == pytest.approx(0.1 * 1.0 + 0.3 * 2.0) and whole.kv_peak_share == 0.3
    assert (whole.steps, whole.decode_seq_steps, whole.energy_j, whole.records) == (5, 34, 70.0, 2)


def test_request_records_come_back_in_request_order_with_whole_counts():
    requests = simulate(CHAT, keep_steps=False).requests
    assert requests["request"].tolist() == list(range(400))
    for column in ("request", "replica", "prompt_tokens", "output_tokens", "preemptions", "swaps", "cached_tokens"):
        assert requests[column].dtype.kind == "i", column


def test_littles_law_needs_the_step_table():
    with pytest.raises(HwsimError, match="needs the step table"):
        little_law(simulate(CHAT, keep_steps=False))
