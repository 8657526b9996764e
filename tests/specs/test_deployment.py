"""A deployment's number formats and launch mode, and the tensor parallelism its system implies."""
from dataclasses import replace

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.specs.deployment import FUSED, Deployment, Precision

LLAMA = catalog.model("llama-3-8b")


def test_bf16_keeps_weights_activations_and_the_kv_cache_in_two_bytes():
    bf16 = Precision()
    assert (bf16.weight_bytes_per_param, bf16.act_bytes, bf16.kv_bytes) == (2.0, 2.0, 2.0)
    assert bf16.compute_dtype == "bf16" and bf16.kv_dtype_name == "bf16"


def test_fp8_weights_keep_a_16_bit_kv_cache_unless_an_fp8_cache_is_asked_for():
    fp8 = Precision("fp8")
    assert (fp8.weight_bytes_per_param, fp8.act_bytes, fp8.kv_bytes) == (1.0, 2.0, 2.0)
    assert fp8.kv_dtype_name == "bf16"
    assert Precision("fp8", "fp8").kv_bytes == 1.0 and Precision("fp8", "fp8").kv_dtype_name == "fp8"


def test_int4_is_weight_only_its_bits_may_include_the_scales():
    int4 = Precision("int4")
    assert int4.weight_bytes_per_param == 0.5 and int4.compute_dtype == "fp16"
    assert Precision("int4", weight_bits=4.5).weight_bytes_per_param == 4.5 / 8


def test_fp32_models_move_fp32_activations_and_a_kept_share_shrinks_the_cache():
    assert Precision("fp32").act_bytes == 4.0 and Precision("tf32").kv_dtype_name == "fp32"
    assert Precision(kv_kept=0.25).kv_bytes == 0.5


@pytest.mark.parametrize("kwargs, expected", [
    ({"dtype": "fp6"}, "unknown dtype 'fp6'; expected one of fp32, tf32, bf16, fp16, fp8, int8, int4"),
    ({"kv_dtype": "int2"}, "unknown dtype 'int2'"),
    ({"weight_bits": 0.5}, "weight_bits must be between 1 and 32; got 0.5"),
    ({"kv_kept": 0.0}, r"kv_kept must be in \(0, 1\]; got 0.0"),
])
def test_impossible_number_formats_are_refused(kwargs, expected):
    with pytest.raises(HwsimError, match=expected):
        Precision(**kwargs)


def test_a_deployment_defaults_to_bf16_fused_kernels_in_graph_launch_on_the_device():
    deployment = Deployment(LLAMA, catalog.system("h100-sxm"))
    assert deployment.precision == Precision() and deployment.implementation == FUSED
    assert deployment.launch == "graph" and deployment.placement.on_device
    assert deployment.experts is None and deployment.techniques is None


def test_an_unknown_launch_mode_is_refused():
    with pytest.raises(HwsimError, match="unknown launch mode 'lazy'; expected one of graph, eager"):
        Deployment(LLAMA, catalog.system("h100-sxm"), launch="lazy")


def test_tensor_parallelism_spans_every_accelerator_or_one_cpu():
    assert Deployment(LLAMA, catalog.system("h100-sxm", 4)).tp == 4
    assert Deployment(LLAMA, catalog.system("h100-sxm")).tp == 1
    cpu_only = catalog.system("ryzen-7950x")
    assert Deployment(LLAMA, cpu_only).tp == 1
    with pytest.raises(HwsimError, match="tensor parallelism needs accelerators; this system has none"):
        Deployment(LLAMA, replace(cpu_only, accelerator_count=2))
