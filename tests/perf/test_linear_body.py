"""A step's body from its operators' lines in the token count equals the operators priced one by one,
and only deployments whose operators are affine in the tokens get lines."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.loading import catalog
from hwsim.perf.linear_body import ANCHORS, LinearBody
from hwsim.perf.ops import Op
from hwsim.perf.roofline import OpCost
from hwsim.perf.step_model import StepModel, _busy_sum
from hwsim.specs.deployment import Deployment, Precision

DENSE = [("llama-3-8b", "h100-sxm", 1, Precision()),
         ("llama-3-70b", "h100-sxm", 4, Precision("fp8")),  # tensor parallel: all-reduces in the body
         ("qwen2.5-7b", "rtx-4090", 1, Precision()),
         ("llama-3-8b", "a100-sxm-80gb", 2, Precision("bf16", "fp8"))]


def body_model(model: str, hardware: str, count: int, precision: Precision) -> StepModel:
    timer = StepModel(Deployment(catalog.model(model), catalog.system(hardware, count), precision))
    timer._body(ANCHORS[0])  # the lines are looked for at the first body priced
    return timer


@pytest.mark.parametrize("model, hardware, count, precision", DENSE)
@settings(max_examples=40, deadline=None)
@given(tokens=st.integers(min_value=ANCHORS[0], max_value=65536))
def test_a_dense_models_body_from_its_lines_equals_its_operators_priced(model, hardware, count, precision, tokens):
    timer = body_model(model, hardware, count, precision)
    lines = timer._linear_body()
    assert lines is not None
    assert lines(tokens) == pytest.approx(_busy_sum(timer._body_costs(tokens)), rel=1e-12)


@pytest.mark.parametrize("model, precision", [
    ("mixtral-8x7b", Precision()),  # the experts a step touches grow with its tokens, not in a line
    ("llama-3-8b", Precision.of(None, weight_format="int4-tinygemm")),  # a quantized kernel's efficiency follows the rows
])
def test_operators_that_are_not_affine_in_the_tokens_are_priced_one_by_one(model, precision):
    timer = body_model(model, "h100-sxm", 2 if model.startswith("mixtral") else 1, precision)
    assert timer._linear_body() is None
    assert timer._body(3000) == _busy_sum(timer._body_costs(3000))


def test_one_token_is_a_decode_step_priced_from_its_own_operators():
    timer = body_model("llama-3-8b", "h100-sxm", 1, Precision())
    assert timer._body(1) == _busy_sum(timer._body_costs(1))


def test_lines_that_miss_the_check_are_not_used():
    def gemm(tokens: int, compute_s: float) -> OpCost:
        op = Op("mlp_up", "gemm", "bf16", flops=2.0 * tokens)
        return OpCost(op, 1e-6 + max(compute_s, 1e-5), compute_s, 1e-5, 0.0, "compute", 1e-6 + max(compute_s, 1e-5))

    assert LinearBody.of(lambda tokens: [gemm(tokens, 1e-9 * tokens)], 1e9, 1e-6) is not None
    assert LinearBody.of(lambda tokens: [gemm(tokens, 1e-12 * tokens ** 2)], 1e9, 1e-6) is None  # a curve
