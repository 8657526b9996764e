"""Model profile YAML: shapes read strictly, attention defaults filled in, impossible shapes refused."""
import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog
from hwsim.loading.fields import Fields
from hwsim.loading.model_yaml import load_model

DENSE = {"id": "tiny", "name": "tiny", "hidden_size": 64, "num_layers": 2, "num_heads": 8, "intermediate_size": 128,
         "vocab_size": 1000, "max_positions": 512}


def profile(**changes):
    return load_model(Fields({**DENSE, **changes}, "tiny.yaml"))


def test_bad_model_profile_rejects_top_k_above_experts(tmp_path):
    source = catalog.model_files()["mixtral-8x7b"].read_text().replace("top_k: 2", "top_k: 9")
    path = tmp_path / "mixtral-8x7b.yaml"
    path.write_text(source)
    with pytest.raises(HwsimError, match="top_k"):
        catalog.model(str(path))


def test_plain_multi_head_attention_is_the_default():
    model = profile()
    assert (model.num_kv_heads, model.head_dim) == (8, 64 // 8)
    assert model.gated_mlp and model.activation == "silu" and model.norm == "rmsnorm" and not model.tie_embeddings
    assert model.moe is None and model.mla is None


def test_kv_heads_must_divide_the_query_heads():
    assert profile(num_kv_heads=2).num_kv_heads == 2
    with pytest.raises(InputError, match="tiny.yaml: num_kv_heads: must divide num_heads \\(8\\); got 3"):
        profile(num_kv_heads=3)


def test_a_moe_block_without_shared_experts_or_dense_layers():
    model = profile(moe={"experts": 4, "top_k": 2, "expert_intermediate_size": 32})
    assert (model.moe.experts, model.moe.top_k, model.moe.expert_intermediate_size) == (4, 2, 32)
    assert (model.moe.shared_experts, model.moe.dense_layers) == (0, 0)


@pytest.mark.parametrize("changes, expected", [
    ({"mlp": "swiglu"}, "mlp: expected one of gated, plain"),
    ({"moe": {"experts": 4, "top_k": 8, "expert_intermediate_size": 32}}, "moe.top_k: must not exceed experts \\(4\\); got 8"),
    ({"mla": {"kv_lora_rank": 512}}, "mla.qk_nope_head_dim: missing required field"),
    ({"layers": 2}, "layers: unknown field"),
])
def test_a_bad_profile_names_the_field(changes, expected):
    with pytest.raises(InputError, match=expected):
        profile(**changes)
