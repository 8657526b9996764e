"""The operator names a kernel speedup may use are exactly those the steps build: the list in the
techniques reader is held to every role a dense, a MoE and an MLA model produce under every
implementation, so neither can drift from the other."""
import itertools
from dataclasses import replace

import pytest

from hwsim.loading import catalog
from hwsim.loading.techniques_yaml import OPERATOR_KINDS, OPERATOR_ROLES
from hwsim.perf.ops import step_ops
from hwsim.specs.deployment import IMPLEMENTATIONS, ExpertSetup
from hwsim.specs.shape import StepShape

DEEPSEEK = catalog.model("deepseek-v3")
MODELS = {
    "dense": catalog.model("llama-3-8b"),
    "dense-learned-positions": catalog.model("opt-6.7b"),
    "moe": catalog.model("mixtral-8x7b"),
    "moe-shared-experts": catalog.model("qwen3-30b-a3b"),
    "moe-plain-mlp": replace(DEEPSEEK, gated_mlp=False),  # no shipped MoE model has one: an up projection alone
    "mla": DEEPSEEK,
    "mla-without-query-compression": replace(DEEPSEEK, mla=replace(DEEPSEEK.mla, q_lora_rank=0)),
}
SHAPES = (StepShape.prefill(2, 64), StepShape.decode(4, 100))
SETUPS = (None, ExpertSetup(expert_parallel=True))


def _roles_and_kinds() -> tuple[set[str], set[str]]:
    roles, kinds = set(), set()
    for model, impl, shape, tp, setup in itertools.product(MODELS.values(), IMPLEMENTATIONS.values(), SHAPES,
                                                           (1, 2), SETUPS):
        for op in step_ops(model, shape, implementation=impl, tp=tp, experts=setup if model.moe else None):
            roles.add(op.role)
            kinds.add(op.kind)
    return roles, kinds


@pytest.fixture(scope="module")
def built():
    return _roles_and_kinds()


def test_every_role_a_step_builds_may_be_named(built):
    roles, _ = built
    assert sorted(roles - set(OPERATOR_ROLES)) == []


def test_every_role_that_may_be_named_is_built_by_some_step(built):
    roles, _ = built
    assert sorted(set(OPERATOR_ROLES) - roles) == []


def test_every_kind_a_step_builds_may_be_named(built):
    _, kinds = built
    assert kinds == set(OPERATOR_KINDS)
