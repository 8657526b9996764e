"""The `techniques:` block: each technique read with its defaults and the draft model resolved."""
import pytest

from hwsim.base.errors import InputError
from hwsim.loading import catalog
from hwsim.loading.fields import Fields
from hwsim.loading.techniques_yaml import load_techniques
from hwsim.specs.models import Model


def techniques(source: str = "s.yaml", **block):
    return load_techniques(Fields(block, source, "techniques"))


def test_an_empty_block_changes_nothing():
    assert techniques().is_identity


def test_the_draft_model_is_resolved_to_a_model_and_the_rest_defaults():
    spec = techniques(speculative={"draft_model": "llama-3.2-1b"}).speculative
    assert isinstance(spec.draft_model, Model) and spec.draft_model == catalog.model("llama-3.2-1b")
    assert (spec.draft_length, spec.acceptance) == (4, 0.7)


def test_an_unknown_draft_model_is_an_error_naming_the_field():
    with pytest.raises(InputError, match=r"^s.yaml: techniques.speculative.draft_model: unknown model 'llama-9-1b'"):
        techniques(speculative={"draft_model": "llama-9-1b"})


def test_quantization_and_kernel_speedups_keep_what_the_block_gives():
    read = techniques(quantization={"bits": 4, "group_size": 64}, kernel_speedup={"attention": 1.5, "gemm": 1.2},
                      kv_kept=0.5)
    assert read.quantization.weight_bits == 4 + 16 / 64  # a 16-bit scale per group of 64 weights
    assert read.quantization.dequant_flops == 2.0
    assert read.kernel_speedup == (("attention", 1.5), ("gemm", 1.2))
    assert read.kv_kept == 0.5 and read.sparsity == 0.0


def test_an_unknown_technique_is_named():
    with pytest.raises(InputError, match="techniques.pruning: unknown field"):
        techniques(pruning=0.5)
