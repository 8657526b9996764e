"""What-if techniques as data: their ranges, the tokens speculative decoding yields, and the number
formats quantization and KV reduction leave a deployment with."""
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.specs.deployment import Precision
from hwsim.specs.shape import AttnGroup
from hwsim.specs.techniques import Quantization, Speculative, Techniques

DRAFT = catalog.model("llama-3.2-1b")


def test_speculative_tokens_per_step_is_the_expected_accepted_run_plus_one():
    # (1 - a^(g+1)) / (1 - a): a = 0.5, g = 2 gives 1 + 0.5 + 0.25
    assert Speculative(DRAFT, draft_length=2, acceptance=0.5).tokens_per_step == pytest.approx(1.75)
    assert Speculative(DRAFT, draft_length=4, acceptance=0.7).tokens_per_step == pytest.approx(
        1 + 0.7 + 0.7**2 + 0.7**3 + 0.7**4)
    assert Speculative(DRAFT, draft_length=4, acceptance=1.0).tokens_per_step == 5.0
    assert Speculative(DRAFT, draft_length=4, acceptance=0.0).tokens_per_step == 1.0


def test_verification_checks_every_draft_token_and_the_one_after():
    spec = Speculative(DRAFT, draft_length=4)
    assert spec.verify_groups((AttnGroup(8, 1, 1000),)) == (AttnGroup(8, 5, 1004),)


def test_quantization_counts_a_16_bit_scale_per_group():
    assert Quantization(bits=4, group_size=128).weight_bits == 4.125
    assert Quantization(bits=8, group_size=32).weight_bits == 8.5


def test_quantization_and_kv_reduction_change_the_number_formats():
    four = Techniques(quantization=Quantization(4, 128), kv_kept=0.5).precision(Precision())
    assert (four.dtype, four.weight_bits, four.kv_kept) == ("int4", 4.125, 0.5)
    assert Techniques(quantization=Quantization(8, 128)).precision(Precision()).dtype == "int8"
    assert Techniques(quantization=Quantization(12, 128)).precision(Precision()).dtype == "bf16"
    assert Techniques().precision(Precision("fp8")) == Precision("fp8")


def test_prompt_compression_keeps_at_least_one_token():
    assert Techniques(prompt_kept=0.3).prompt_tokens(1000) == 300
    assert Techniques(prompt_kept=0.3).prompt_tokens(1001) == 301  # rounded up
    assert Techniques(prompt_kept=0.01).prompt_tokens(10) == 1


def test_no_technique_is_the_identity():
    assert Techniques().is_identity
    assert not Techniques(sparsity=0.5).is_identity


@pytest.mark.parametrize("kwargs, expected", [
    ({"sparsity": 1.0}, r"sparsity must be in \[0, 1\); got 1.0"),
    ({"kv_kept": 0.0}, r"kv_kept must be in \(0, 1\]; got 0.0"),
    ({"ffn_active": 1.5}, r"ffn_active must be in \(0, 1\]; got 1.5"),
    ({"speculative": Speculative(DRAFT, acceptance=1.2)}, "speculative.acceptance must be between 0 and 1; got 1.2"),
    ({"speculative": Speculative(DRAFT, draft_length=0)}, "speculative.draft_length must be at least 1; got 0"),
    ({"quantization": Quantization(bits=0.5)}, "quantization.bits must be between 1 and 16; got 0.5"),
    ({"quantization": Quantization(group_size=0)}, "quantization.group_size must be at least 1; got 0"),
    ({"kernel_speedup": (("gemm", 0.0),)}, "kernel_speedup.gemm must be greater than zero; got 0.0"),
])
def test_values_outside_their_range_are_refused_by_name(kwargs, expected):
    with pytest.raises(HwsimError, match=expected):
        Techniques(**kwargs)
