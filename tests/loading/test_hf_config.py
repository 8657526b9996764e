"""HuggingFace config.json files of each family map onto the same profile fields."""
import json

import pytest

from hwsim.base.errors import InputError
from hwsim.loading import catalog
from hwsim.loading.hf_config import from_hf_config
from hwsim.specs.models import Mla, Moe


def write_config(tmp_path, folder: str, config: dict):
    path = tmp_path / folder / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(config))
    return path


LLAMA_LIKE = {"hidden_size": 64, "num_attention_heads": 8, "num_hidden_layers": 2, "intermediate_size": 128,
              "vocab_size": 1000, "max_position_embeddings": 512}


def test_a_dense_llama_config_takes_its_id_from_the_folder_and_defaults_to_plain_attention(tmp_path):
    model = from_hf_config(write_config(tmp_path, "tiny-llama", {**LLAMA_LIKE, "model_type": "llama"}))
    assert model.id == "tiny-llama"
    assert model.name == "tiny-llama"  # no _name_or_path: the folder names it
    assert (model.num_kv_heads, model.head_dim) == (8, 64 // 8)
    assert (model.gated_mlp, model.norm, model.activation, model.bias) == (True, "rmsnorm", "silu", "none")
    assert model.moe is None and model.mla is None
    assert not model.tie_embeddings


def test_gpt2_style_keys_are_read_and_gelu_variants_become_gelu(tmp_path):
    config = {"n_embd": 64, "n_head": 4, "n_layer": 3, "intermediate_size": 256, "vocab_size": 100,
              "max_position_embeddings": 128, "activation_function": "gelu_new"}
    model = from_hf_config(write_config(tmp_path, "gpt", config))
    assert (model.hidden_size, model.num_heads, model.num_layers) == (64, 4, 3)
    assert model.activation == "gelu"


def test_opt_has_a_plain_relu_mlp_layernorm_biases_learned_positions_and_tied_embeddings(tmp_path):
    config = {**LLAMA_LIKE, "model_type": "opt", "ffn_dim": 256, "activation_function": "relu"}
    model = from_hf_config(write_config(tmp_path, "opt", config))
    assert model.intermediate_size == 256  # ffn_dim wins over intermediate_size
    assert (model.gated_mlp, model.norm, model.bias, model.activation) == (False, "layernorm", "all", "relu")
    assert model.learned_positions and model.tie_embeddings


def test_qwen2_projections_carry_qkv_biases(tmp_path):
    model = from_hf_config(write_config(tmp_path, "qwen", {**LLAMA_LIKE, "model_type": "qwen2"}))
    assert model.bias == "qkv"


def test_mixtral_experts_are_routed_at_the_dense_width_without_shared_ones(tmp_path):
    config = {**LLAMA_LIKE, "num_local_experts": 8, "num_experts_per_tok": 2}
    model = from_hf_config(write_config(tmp_path, "mixtral", config))
    assert model.moe == Moe(experts=8, top_k=2, expert_intermediate_size=128)


def test_deepseek_shared_experts_are_counted_at_the_routed_width_and_mla_is_read(tmp_path):
    config = {**LLAMA_LIKE, "n_routed_experts": 16, "n_shared_experts": 2, "num_experts_per_tok": 4,
              "moe_intermediate_size": 32, "first_k_dense_replace": 1, "kv_lora_rank": 16, "q_lora_rank": 24,
              "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8}
    model = from_hf_config(write_config(tmp_path, "deepseek", config))
    assert model.moe == Moe(experts=16, top_k=4, expert_intermediate_size=32, shared_experts=2,
                            shared_intermediate_size=32, dense_layers=1)
    assert model.mla == Mla(q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8)


def test_a_shared_expert_given_by_its_width_alone_counts_as_one(tmp_path):
    config = {**LLAMA_LIKE, "num_experts": 60, "num_experts_per_tok": 4, "moe_intermediate_size": 16,
              "shared_expert_intermediate_size": 96}
    model = from_hf_config(write_config(tmp_path, "qwen-moe", config))
    assert model.moe == Moe(experts=60, top_k=4, expert_intermediate_size=16, shared_experts=1,
                            shared_intermediate_size=96)


@pytest.mark.parametrize("drop, expected", [
    ("num_attention_heads", "num_attention_heads: missing required field in config.json"),
    ("num_hidden_layers", "num_hidden_layers: missing required field in config.json"),
    ("vocab_size", "vocab_size: missing required field in config.json"),
])
def test_a_missing_field_is_named_by_its_first_spelling(tmp_path, drop, expected):
    config = {k: v for k, v in LLAMA_LIKE.items() if k != drop}
    with pytest.raises(InputError, match=expected):
        from_hf_config(write_config(tmp_path, "broken", config))


def test_experts_without_a_top_k_are_an_error(tmp_path):
    with pytest.raises(InputError, match="num_experts_per_tok: missing required field"):
        from_hf_config(write_config(tmp_path, "moe", {**LLAMA_LIKE, "num_experts": 4}))


def test_a_file_that_is_not_json_is_an_input_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        from_hf_config(path)


def test_hf_config_becomes_a_profile(data_dir):
    model = catalog.model(str(data_dir / "llama-3-8b-config.json"))
    assert model.parameters() == pytest.approx(8.03e9, rel=0.001)
    assert model.num_kv_heads == 8


def test_hf_moe_config_keeps_experts(data_dir):
    model = catalog.model(str(data_dir / "mixtral-config.json"))
    assert model.moe.experts == 8 and model.moe.top_k == 2
    assert model.parameters() == pytest.approx(46.7e9, rel=0.01)
