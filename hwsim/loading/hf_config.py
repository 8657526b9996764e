"""Model profiles from HuggingFace `config.json` files (Llama, Mistral, Mixtral, Qwen, OPT, DeepSeek).

A config carries the same shapes a profile YAML does, under each family's own key names
(`n_embd` or `hidden_size`, `num_local_experts` or `n_routed_experts`, ...). Reading it directly
lets any published model be simulated without writing a profile first; `hwsim import-model`
writes the result out as a profile to review and keep.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwsim.base.errors import InputError
from hwsim.specs.models import Mla, Model, Moe


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "", "file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), "", f"not valid JSON: {exc}") from None


def _need(config: dict[str, Any], source: str, *keys: str) -> Any:
    """The value of the first of `keys` that is set; the families spell some fields differently."""
    for key in keys:
        if key in config and config[key] is not None:
            return config[key]
    raise InputError(source, keys[0], "missing required field in config.json")


def _shared_intermediate_size(config: dict[str, Any]) -> int:
    """The width of each shared expert: DeepSeek counts its shared experts (`n_shared_experts`) and
    gives them the routed experts' width; Qwen-MoE gives one shared expert by its width alone."""
    if config.get("n_shared_experts"):
        return int(config.get("moe_intermediate_size") or 0)
    return int(config.get("shared_expert_intermediate_size") or 0)


def _moe(config: dict[str, Any], source: str) -> Moe | None:
    """Routed and shared experts, or None for a dense model."""
    experts = config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts")
    if not experts:
        return None
    moe = Moe(
        experts=int(experts),
        top_k=int(_need(config, source, "num_experts_per_tok")),
        expert_intermediate_size=int(config.get("moe_intermediate_size") or _need(config, source, "intermediate_size")),
        shared_experts=int(config.get("n_shared_experts") or 0),
        shared_intermediate_size=_shared_intermediate_size(config),
        dense_layers=int(config.get("first_k_dense_replace") or 0),
    )
    if moe.shared_intermediate_size and not moe.shared_experts:  # a shared expert given by its width alone
        moe = replace(moe, shared_experts=1)
    return moe


def _mla(config: dict[str, Any], source: str) -> Mla | None:
    """Multi-head latent attention (DeepSeek-V2/V3), present when the config has a KV latent rank."""
    if not config.get("kv_lora_rank"):
        return None
    return Mla(
        q_lora_rank=int(config.get("q_lora_rank") or 0),
        kv_lora_rank=int(config["kv_lora_rank"]),
        qk_nope_head_dim=int(_need(config, source, "qk_nope_head_dim")),
        qk_rope_head_dim=int(_need(config, source, "qk_rope_head_dim")),
        v_head_dim=int(_need(config, source, "v_head_dim")),
    )


def _activation(config: dict[str, Any]) -> str:
    """The MLP activation as a profile names it; variants such as `gelu_new` map to their family."""
    name = str(config.get("hidden_act") or config.get("activation_function") or "silu")
    if "relu" in name:
        return "relu"
    return "gelu" if "gelu" in name else "silu"


def _bias(config: dict[str, Any], model_type: str) -> str:
    """Which projections carry biases: OPT all of them, Qwen2 (and any config saying so) Q, K and V."""
    if model_type == "opt":
        return "all"
    return "qkv" if config.get("attention_bias") or model_type == "qwen2" else "none"


def _intermediate_size(config: dict[str, Any], source: str, is_opt: bool) -> int:
    """The dense MLP width; OPT calls it `ffn_dim`."""
    if is_opt:
        return int(_need(config, source, "ffn_dim", "intermediate_size"))
    return int(_need(config, source, "intermediate_size"))


def from_hf_config(path: Path) -> Model:
    """Build a profile from a HuggingFace `config.json`; its id is the name of the folder holding it."""
    config = _read_json(path)
    source = str(path)
    model_type = str(config.get("model_type", ""))
    is_opt = model_type == "opt"
    hidden = int(_need(config, source, "hidden_size", "n_embd", "d_model"))
    heads = int(_need(config, source, "num_attention_heads", "n_head"))
    moe = _moe(config, source)
    mla = _mla(config, source)
    return Model(
        id=Path(path).parent.name or Path(path).stem,
        name=str(config.get("_name_or_path") or Path(path).parent.name or model_type),
        hidden_size=hidden,
        num_layers=int(_need(config, source, "num_hidden_layers", "n_layer")),
        num_heads=heads,
        num_kv_heads=int(config.get("num_key_value_heads") or heads),
        head_dim=int(config.get("head_dim") or hidden // heads),
        intermediate_size=_intermediate_size(config, source, is_opt),
        vocab_size=int(_need(config, source, "vocab_size")),
        max_positions=int(_need(config, source, "max_position_embeddings")),
        tie_embeddings=bool(config.get("tie_word_embeddings", is_opt)),
        gated_mlp=not is_opt,
        activation=_activation(config),
        norm="layernorm" if is_opt else "rmsnorm",
        learned_positions=is_opt,
        bias=_bias(config, model_type),
        moe=moe,
        mla=mla,
        source=source,
    )
