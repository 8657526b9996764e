"""Device memory of a deployment: weights, KV cache, activations and the runtime reserve."""
import pytest

from hwsim.base.errors import DoesNotFitError
from hwsim.loading import catalog
from hwsim.perf.memory import RUNTIME_RESERVE_BYTES, memory_fit, require_fit, weights_per_device
from hwsim.specs.deployment import Precision

LLAMA = catalog.model("llama-3-8b")  # 8.03e9 parameters; 32 layers of 8 KV heads of 128
H100 = catalog.system("h100-sxm")
KV_PER_TOKEN = 32 * 8 * 128 * 2 * 2  # layers x KV heads x head dim x (K and V) x 2 bytes: 128 KiB


def test_llama_3_8b_weights_take_two_bytes_a_parameter_in_bf16():
    fit = memory_fit(LLAMA, H100, Precision(), 1, 100, 100)
    assert fit.weights_bytes == pytest.approx(16.06e9, rel=1e-3)
    assert weights_per_device(LLAMA, Precision("fp8"), 1) == pytest.approx(8.03e9, rel=1e-3)
    assert weights_per_device(LLAMA, Precision("int4", weight_bits=4.5), 1) == pytest.approx(8.03e9 * 4.5 / 8, rel=1e-3)


def test_the_kv_cache_holds_every_layers_keys_and_values_for_every_token():
    fit = memory_fit(LLAMA, H100, Precision(), 4, 1000, 4)
    assert fit.kv_cache_bytes == 4 * 1000 * KV_PER_TOKEN
    assert memory_fit(LLAMA, H100, Precision("bf16", "fp8"), 4, 1000, 4).kv_cache_bytes == 4 * 1000 * KV_PER_TOKEN / 2


def test_activations_are_one_layers_widest_tensors_plus_fp32_logits():
    fit = memory_fit(LLAMA, H100, Precision(), 4, 1000, 512)
    # input and residual (2 x 4096) and the gate-and-up output (2 x 14336), in bf16; logits of 128256 per sequence
    assert fit.activation_bytes == 512 * (2 * 4096 + 2 * 14336) * 2 + 4 * 128256 * 4


def test_tensor_parallelism_divides_weights_kv_heads_and_wide_activations():
    one = memory_fit(LLAMA, H100, Precision(), 4, 1000, 512)
    two = memory_fit(LLAMA, catalog.system("h100-sxm", 2), Precision(), 4, 1000, 512)
    assert two.weights_bytes == pytest.approx(one.weights_bytes / 2)
    assert two.kv_cache_bytes == pytest.approx(one.kv_cache_bytes / 2)
    assert two.activation_bytes == 512 * (2 * 4096 + 2 * 14336 / 2) * 2 + 4 * 128256 * 4 / 2
    assert two.reserve_bytes == one.reserve_bytes == RUNTIME_RESERVE_BYTES


def test_attention_data_parallelism_splits_only_the_routed_experts():
    mixtral = catalog.model("mixtral-8x7b")
    total, experts = mixtral.weight_bytes(16), 2 * mixtral.routed_expert_parameters()
    assert weights_per_device(mixtral, Precision(), 2, attention_dp=True) == pytest.approx(total - experts / 2)
    assert weights_per_device(mixtral, Precision(), 2) == pytest.approx(total / 2)


def test_the_total_is_checked_against_one_devices_memory():
    fit = memory_fit(LLAMA, H100, Precision(), 4, 1000, 512)
    assert fit.total_bytes == fit.weights_bytes + fit.kv_cache_bytes + fit.activation_bytes + RUNTIME_RESERVE_BYTES
    assert fit.capacity_bytes == 80 * 2**30 and fit.fits
    require_fit(fit, "llama")
    too_big = memory_fit(catalog.model("llama-3-70b"), H100, Precision(), 1, 100, 100)
    assert not too_big.fits
    with pytest.raises(DoesNotFitError, match=r"^70b does not fit in device memory: weights 141 GB, KV cache .* of 85.9 GB$"):
        require_fit(too_big, "70b")


def test_offloaded_weights_leave_embeddings_and_the_lm_head_on_the_device_and_experts_follow_their_placement():
    from hwsim.perf.memory import weights_by_tier
    from hwsim.specs.placement import parse

    mixtral = catalog.model("mixtral-8x7b")
    bf16 = Precision()
    experts = mixtral.routed_expert_parameters() * 2.0
    resident = (mixtral.embedding_parameters() + mixtral.lm_head_parameters() + mixtral.norm_parameters()) * 2.0
    split = weights_by_tier(mixtral, bf16, parse("experts=device:0.75,host:0.25"))
    assert split["host"] == pytest.approx(0.25 * experts)
    assert split["device"] + split["host"] == pytest.approx(mixtral.weight_bytes(16))
    everything_away = weights_by_tier(mixtral, bf16, parse("weights=host"))
    assert everything_away["device"] == pytest.approx(resident)


def test_a_named_lm_head_leaves_the_device_and_a_tied_one_takes_the_embedding_with_it():
    from hwsim.perf.memory import weights_by_tier
    from hwsim.specs.placement import parse

    llama = catalog.model("llama-3-8b")
    head = llama.lm_head_parameters() * 2.0
    kept = weights_by_tier(llama, Precision(), parse("weights=host"))
    moved = weights_by_tier(llama, Precision(), parse("weights=host;lm_head=host"))
    assert kept["device"] - moved["device"] == pytest.approx(head)
    assert moved["host"] - kept["host"] == pytest.approx(head)
    opt = catalog.model("opt-30b")  # OPT ties its head to the token embedding
    tied = weights_by_tier(opt, Precision("fp16"), parse("weights=host;lm_head=host"))
    untied = weights_by_tier(opt, Precision("fp16"), parse("weights=host"))
    assert untied["device"] - tied["device"] == pytest.approx(opt.vocab_size * opt.hidden_size * 2.0)
