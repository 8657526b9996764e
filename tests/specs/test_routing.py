"""Expert routing: each expert's chance to be among a token's top-k, and the distinct experts a step touches."""
import pytest

from hwsim.specs.routing import Routing

UNIFORM = Routing(8, 2, ((1 / 8,) * 8,))
# one expert takes 70% of the routed tokens: with top-2 it is always chosen, and the second choice
# spreads over the other three, each 1/3 of the time
SKEWED = Routing(4, 2, ((0.7, 0.1, 0.1, 0.1),), "skewed")


def test_a_uniform_expert_is_chosen_k_out_of_e_times():
    assert UNIFORM.probabilities() == pytest.approx([2 / 8] * 8)


def test_no_expert_is_chosen_more_than_always_and_its_excess_goes_to_the_others():
    assert SKEWED.probabilities() == pytest.approx([1.0, 1 / 3, 1 / 3, 1 / 3])
    assert SKEWED.probabilities().sum() == pytest.approx(2.0)


def test_distinct_experts_a_step_touches():
    assert UNIFORM.expected_active(0) == 0.0
    assert UNIFORM.expected_active(1) == pytest.approx(2.0)
    assert UNIFORM.expected_active(3) == pytest.approx(8 * (1 - (6 / 8) ** 3))
    assert SKEWED.expected_active(2) == pytest.approx(1 + 3 * (1 - (2 / 3) ** 2))


def test_layers_are_averaged_unless_one_is_named():
    layered = Routing(4, 1, ((1.0, 0.0, 0.0, 0.0), (0.25, 0.25, 0.25, 0.25)))
    assert layered.expected_active(2, layer=0) == pytest.approx(1.0)
    assert layered.expected_active(2, layer=1) == pytest.approx(4 * (1 - 0.75**2))
    assert layered.expected_active(2) == pytest.approx((1.0 + 4 * (1 - 0.75**2)) / 2)
