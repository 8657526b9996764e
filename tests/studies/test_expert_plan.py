"""Expert residency: the most popular experts kept on the device, set against naive placements."""
import pytest

from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.loading import catalog
from hwsim.perf import moe
from hwsim.specs import deployment
from hwsim.studies import expert_plan

MIXTRAL = catalog.model("mixtral-8x7b")


def test_residency_optimizer_beats_naive_placements():
    result = expert_plan.plan(MIXTRAL, catalog.system("h100-sxm"), moe.zipf(8, 2, 1.2), deployment.Precision(), 4, 512, 128)
    chosen = result.options[0]
    assert 0 < result.resident < 8
    by_name = {o.name.split(" ")[0] + " " + o.name.split(" ")[1]: o for o in result.options}
    assert chosen.time_per_output_token_s <= min(o.time_per_output_token_s for o in result.options[1:])
    assert by_name["none resident"].hit_rate == 0.0


def test_residency_that_does_not_fit_is_rejected():
    with pytest.raises(DoesNotFitError, match="resident: 8 experts per layer need"):
        expert_plan.plan(MIXTRAL, catalog.system("h100-sxm"), moe.uniform(8, 2), deployment.Precision(), 4, 512, 128, resident=8)


def test_one_expert_is_its_gate_up_and_down_matrices():
    # Mixtral: hidden 4096, expert width 14336, three matrices of 4096 x 14336
    assert expert_plan.expert_bytes(MIXTRAL, deployment.Precision()) == 3 * 4096 * 14336 * 2
    assert expert_plan.expert_bytes(MIXTRAL, deployment.Precision("fp8")) == 3 * 4096 * 14336


def test_a_given_budget_sets_how_many_experts_stay_resident():
    one_set = expert_plan.expert_bytes(MIXTRAL, deployment.Precision()) * MIXTRAL.moe_layers  # one expert, every layer
    result = expert_plan.plan(MIXTRAL, catalog.system("h100-sxm"), moe.uniform(8, 2), deployment.Precision(), 1, 64, 8,
                              budget_bytes=3.5 * one_set)
    assert result.resident == 3 and result.budget_bytes == 3.5 * one_set
    assert result.assignment is None  # one device: nothing to spread


def test_a_dense_model_has_no_experts_to_place():
    with pytest.raises(HwsimError, match="llama-3-8b has no experts to place"):
        expert_plan.plan(catalog.model("llama-3-8b"), catalog.system("h100-sxm"), moe.uniform(8, 2),
                         deployment.Precision(), 1, 64, 8)
