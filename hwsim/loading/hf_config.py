"""placeholder"""
from __future__ import annotations

import json
from pathlib import Path

from hwsim.base.errors import InputError
from hwsim.specs.models import Mla, Model, Moe


def from_hf_config(path: Path) -> Model:
    """Build a profile from a HuggingFace `config.json` (Llama, Mistral, Mixtral, Qwen, OPT, DeepSeek)."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "", "file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), "", f"not valid JSON: {exc}") from None
    source = str(path)

    def need(*keys: str):
        for key in keys:
            if key in config and config[key] is not None:
                return config[key]
        raise InputError(source, keys[0], "missing required field in config.json")

    model_type = str(config.get("model_type", ""))
    is_opt = model_type == "opt"
    hidden = int(need("hidden_size", "n_embd", "d_model"))
    heads = int(need("num_attention_heads", "n_head"))
    experts = config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts")
    moe = None
    if experts:
        moe = Moe(
            experts=int(experts),
            top_k=int(need("num_experts_per_tok")),
            expert_intermediate_size=int(config.get("moe_intermediate_size") or need("intermediate_size")),
            shared_experts=int(config.get("n_shared_experts") or 0),
            shared_intermediate_size=int(config.get("moe_intermediate_size") or 0)
            if config.get("n_shared_experts")
            else int(config.get("shared_expert_intermediate_size") or 0),
            dense_layers=int(config.get("first_k_dense_replace") or 0),
        )
        if moe.shared_intermediate_size and not moe.shared_experts:
            moe = Moe(**{**moe.__dict__, "shared_experts": 1})
    mla = None
    if config.get("kv_lora_rank"):
        mla = Mla(
            q_lora_rank=int(config.get("q_lora_rank") or 0),
            kv_lora_rank=int(config["kv_lora_rank"]),
            qk_nope_head_dim=int(need("qk_nope_head_dim")),
            qk_rope_head_dim=int(need("qk_rope_head_dim")),
            v_head_dim=int(need("v_head_dim")),
        )
    activation = str(config.get("hidden_act") or config.get("activation_function") or "silu")
    return Model(
        id=Path(path).parent.name or Path(path).stem,
        name=str(config.get("_name_or_path") or Path(path).parent.name or model_type),
        hidden_size=hidden,
        num_layers=int(need("num_hidden_layers", "n_layer")),
        num_heads=heads,
        num_kv_heads=int(config.get("num_key_value_heads") or heads),
        head_dim=int(config.get("head_dim") or hidden // heads),
        intermediate_size=int(need("ffn_dim", "intermediate_size") if is_opt else need("intermediate_size")),
        vocab_size=int(need("vocab_size")),
        max_positions=int(need("max_position_embeddings")),
        tie_embeddings=bool(config.get("tie_word_embeddings", is_opt)),
        gated_mlp=not is_opt,
        activation="relu" if "relu" in activation else ("gelu" if "gelu" in activation else "silu"),
        norm="layernorm" if is_opt else "rmsnorm",
        learned_positions=is_opt,
        bias="all" if is_opt else ("qkv" if config.get("attention_bias") or model_type == "qwen2" else "none"),
        moe=moe,
        mla=mla,
        source=source,
    )
