"""The analytic estimate: consistent with its own steps, honest about memory."""
import pytest

from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.loading import catalog
from hwsim.perf.estimate import estimate
from hwsim.perf.step_model import StepModel
from hwsim.specs import deployment, shape
from hwsim.specs.deployment import Deployment

LLAMA = catalog.model("llama-3-8b")
H100 = catalog.system("h100-sxm")


def test_decode_total_matches_the_sum_of_every_step():
    result = estimate(Deployment(LLAMA, H100), 4, 300, 40)
    brute = sum(StepModel(Deployment(LLAMA, H100)).cost(shape.StepShape.decode(4, ctx)).time_s for ctx in range(300, 300 + 39))
    assert result.decode_total_s == pytest.approx(brute, rel=2e-3)


def test_throughput_is_tokens_over_end_to_end_time():
    result = estimate(Deployment(LLAMA, H100), 8, 512, 128)
    assert result.output_tokens_per_s == pytest.approx(8 * 128 / (result.prefill_s + result.decode_total_s))


def test_batch_1_decode_is_memory_bound_near_weight_bytes_over_bandwidth():
    result = estimate(Deployment(LLAMA, H100), 1, 128, 16)
    floor = 15.0e9 / 3.35e12
    assert floor < result.time_per_output_token_s < 2 * floor


def test_larger_batches_raise_throughput_but_not_per_step_speed():
    small, large = estimate(Deployment(LLAMA, H100), 1, 512, 64), estimate(Deployment(LLAMA, H100), 32, 512, 64)
    assert large.output_tokens_per_s > 10 * small.output_tokens_per_s
    assert large.time_per_output_token_s > small.time_per_output_token_s


def test_fp8_is_faster_than_bf16_in_decode():
    bf16 = estimate(Deployment(LLAMA, H100), 1, 512, 32)
    fp8 = estimate(Deployment(LLAMA, H100, deployment.Precision("fp8")), 1, 512, 32)
    assert fp8.time_per_output_token_s < 0.7 * bf16.time_per_output_token_s


def test_model_that_does_not_fit_says_so_with_the_breakdown():
    with pytest.raises(DoesNotFitError) as info:
        estimate(Deployment(catalog.model("llama-3-70b"), H100), 1, 512, 128)
    assert "weights 141 GB" in str(info.value) and "of 85.9 GB" in str(info.value)


def test_tensor_parallel_makes_a_70b_model_fit_and_faster_per_token():
    model = catalog.model("llama-3-70b")
    two = estimate(Deployment(model, catalog.system("h100-sxm", 2)), 1, 512, 32)
    four = estimate(Deployment(model, catalog.system("h100-sxm", 4)), 1, 512, 32)
    assert four.time_per_output_token_s < two.time_per_output_token_s


@pytest.mark.parametrize("field, args", [("batch", (0, 10, 10)), ("prompt", (1, -5, 10)), ("output", (1, 10, 0))])
def test_zero_or_negative_sizes_are_rejected(field, args):
    with pytest.raises(HwsimError, match=field):
        estimate(Deployment(LLAMA, H100), *args)


def test_cpu_only_system_estimates_from_dram_bandwidth():
    result = estimate(Deployment(catalog.model("llama-2-7b"), catalog.system("ryzen-7950x"), deployment.Precision("int4")), 1, 64, 16)
    dram = 83.2e9
    assert result.time_per_output_token_s > 3.5e9 / dram
