"""Parameter counts and KV sizes of a tiny model, worked out by hand from its shapes, and of every
shipped model against its published size."""
from dataclasses import replace

import pytest

from hwsim.loading import catalog
from hwsim.specs.models import Model, Moe

REQUIRED_MODELS = [
    "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-405b", "mistral-7b",
    "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-7b", "qwen2.5-72b", "qwen3-30b-a3b", "qwen3-235b-a22b",
    "deepseek-v3", "opt-6.7b", "opt-13b", "opt-30b", "opt-66b", "opt-175b", "yi-34b",
]

# hidden 8, 2 heads of 4 (q width 8), one KV head (kv width 4), MLP width 16, vocabulary 10
TINY = Model(id="tiny", name="tiny", hidden_size=8, num_layers=2, num_heads=2, num_kv_heads=1, head_dim=4,
             intermediate_size=16, vocab_size=10, max_positions=32)
ATTENTION = 8 * (8 + 2 * 4) + 8 * 8  # q, k, v in; output projection: 192
NORMS = 2 * 8  # two RMSNorms a layer
DENSE_MLP = 3 * 8 * 16  # gate, up, down: 384
EMBEDDINGS = LM_HEAD = 10 * 8
FINAL_NORM = 8


def test_a_dense_model_counts_its_layers_embeddings_head_and_final_norm():
    layer = ATTENTION + NORMS + DENSE_MLP
    assert TINY.layer_parameters(0) == layer == 592
    assert TINY.parameters() == 2 * layer + EMBEDDINGS + LM_HEAD + FINAL_NORM == 1352
    assert TINY.parameters(active_only=True) == TINY.parameters()
    assert TINY.weight_bytes(16) == 1352 * 2


def test_tied_embeddings_drop_the_head_and_qkv_biases_add_a_vector_per_projection():
    assert replace(TINY, tie_embeddings=True).parameters() == 1352 - LM_HEAD
    assert replace(TINY, bias="qkv").layer_parameters(0) == 592 + 8 + 2 * 4


def test_moe_layers_count_every_expert_but_only_top_k_are_active():
    moe = Moe(experts=4, top_k=2, expert_intermediate_size=4, shared_experts=1, shared_intermediate_size=8,
              dense_layers=1)
    model = replace(TINY, moe=moe)
    expert = 3 * 8 * 4  # one routed expert's MLP: 96
    shared = 3 * 8 * 8  # the shared expert's MLP: 192
    router = 8 * 4
    assert (model.dense_layers, model.moe_layers) == (1, 1)
    assert not model.is_moe_layer(0) and model.is_moe_layer(1)
    assert model.layer_parameters(1) == ATTENTION + NORMS + 4 * expert + shared + router == 816
    assert model.layer_parameters(1, active_only=True) == ATTENTION + NORMS + 2 * expert + shared + router
    assert model.routed_expert_parameters() == 4 * expert
    assert model.parameters() == 592 + 816 + EMBEDDINGS + LM_HEAD + FINAL_NORM


def test_kv_heads_are_split_over_devices_but_never_below_one_each():
    assert TINY.kv_elements_per_token_per_layer() == 2 * 4  # K and V of the one KV head
    assert TINY.kv_bytes_per_token(2.0) == 2 * 8 * 2.0  # layers x elements x bytes
    assert TINY.kv_bytes_per_token_per_device(2.0, tp=2) == TINY.kv_bytes_per_token(2.0)  # the head is copied
    four_heads = replace(TINY, num_heads=4, num_kv_heads=4, head_dim=2)
    assert four_heads.kv_bytes_per_token_per_device(2.0, tp=2) == four_heads.kv_bytes_per_token(2.0) / 2


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_parameter_counts_match_published(model_id):
    model = catalog.model(model_id)
    assert model.parameters() == pytest.approx(model.published_parameters, rel=0.01)
    if model.published_active_parameters:
        assert model.parameters(active_only=True) == pytest.approx(model.published_active_parameters, rel=0.03)


def test_llama_3_8b_has_8_03_billion_parameters():
    assert catalog.model("llama-3-8b").parameters() == pytest.approx(8.03e9, rel=0.001)
