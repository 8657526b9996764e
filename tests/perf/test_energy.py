"""Accelerator power between idle and TDP, set by how busy a step keeps compute and memory."""
import pytest

from hwsim.perf.energy import idle_w, power_w, step_energy_j, steps_energy_j

TDP = 700.0  # idle is 15% of it: 105 W, leaving a dynamic range of 595 W


def test_an_idle_device_draws_its_idle_power():
    assert idle_w(TDP) == pytest.approx(105.0)
    assert power_w(TDP, 0.0, 0.0) == pytest.approx(105.0)


def test_a_memory_bound_step_draws_idle_plus_sixty_percent_of_the_dynamic_range():
    assert power_w(TDP, 0.0, 1.0) == pytest.approx(105.0 + 0.6 * 595.0)
    assert power_w(TDP, 1.0, 0.0) == pytest.approx(105.0 + 0.6 * 595.0)


def test_a_step_busy_on_both_pipelines_draws_at_most_the_tdp():
    assert power_w(TDP, 1.0, 1.0) == pytest.approx(TDP)
    assert power_w(TDP, 3.0, 2.0) == pytest.approx(TDP)  # busy fractions above one count as one
    assert power_w(TDP, 0.5, 0.5) == pytest.approx(105.0 + 0.6 * 595.0)


def test_step_energy_is_the_average_power_over_the_step():
    # compute busy half the step, memory all of it: load 0.6 x 0.5 + 0.6 x 1 = 0.9
    assert step_energy_j(TDP, 0.01, 0.005, 0.01) == pytest.approx((105.0 + 0.9 * 595.0) * 0.01)
    assert step_energy_j(TDP, 0.0, 0.0, 0.0) == 0.0


def test_the_energy_of_steps_run_one_after_another_is_the_sum_of_theirs():
    steps = [(0.01, 0.005, 0.01), (0.0, 0.0, 0.0), (0.02, 0.03, 0.001), (0.004, 0.001, 0.002)]
    assert steps_energy_j(TDP, steps) == pytest.approx(sum(step_energy_j(TDP, *step) for step in steps), rel=1e-15)
    assert steps_energy_j(TDP, []) == 0.0
