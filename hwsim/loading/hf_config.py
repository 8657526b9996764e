"""Model profiles from HuggingFace `config.json` files (Llama, Mistral, Mixtral, Qwen, OPT, DeepSeek).

A config carries the same shapes a profile YAML does, under each family's own key names
(`n_embd` or `hidden_size`, `num_local_experts` or `n_routed_experts`, ...). Reading it directly
lets any published model be simulated without writing a profile first; `hwsim import-model`
writes the result out as a profile to review and keep. Every shape is checked as it is read,
and an impossible one is reported under the key the config spells it with.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwsim.base.errors import InputError, brief
from hwsim.loading.fields import read_text
from hwsim.specs.models import Mla, Model, Moe, ShapeError


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object of a config file; anything else (a list, binary bytes, a folder) is an InputError."""
    text = read_text(path, "a HuggingFace config.json")
    if not text.strip():
        raise InputError(str(path), "", "the file is empty; expected a HuggingFace config.json")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), "", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(str(path), "", "not valid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else f"{type(document).__name__} {brief(document)}"
        raise InputError(str(path), "", f"expected a JSON object (a HuggingFace config.json); got {kind}")
    return document


class _Config:
    """One config's keys, read as typed shapes; records which key each profile field came from."""

    def __init__(self, data: dict[str, Any], source: str):
        self.data = data
        self.source = source
        self.keys: dict[str, str] = {}  # profile field path -> the config key it was read from

    def value(self, *keys: str) -> tuple[str, Any]:
        """The first of `keys` that is set, and its value; (keys[0], None) when none is."""
        for key in keys:
            if self.data.get(key) is not None:
                return key, self.data[key]
        return keys[0], None

    def need(self, field: str, *keys: str) -> int:
        """A required shape for profile `field`, under the first of `keys` that is set."""
        key, value = self.value(*keys)
        if value is None:
            raise InputError(self.source, keys[0], "missing required field in config.json")
        return self._whole(field, key, value)

    def optional(self, field: str, *keys: str, default: int = 0) -> int:
        """A shape for profile `field` when one of `keys` is set (and not zero), else `default`."""
        key, value = self.value(*keys)
        if value is None or (value == 0 and not isinstance(value, bool)):
            return default
        return self._whole(field, key, value)

    def _whole(self, field: str, key: str, value: Any) -> int:
        """`value` of `key` as a whole number (JSON may write one as 8.0)."""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(self.source, key, f"expected a whole number; got {brief(value)}")
        self.keys[field] = key
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InputError(self.source, key, f"expected true or false; got {brief(value)}")
        return value

    def text(self, *keys: str, default: str = "") -> str:
        _, value = self.value(*keys)
        return default if value is None else str(value)


def _shared_intermediate_size(config: _Config) -> int:
    """The width of each shared expert: DeepSeek counts its shared experts (`n_shared_experts`) and
    gives them the routed experts' width; Qwen-MoE gives one shared expert by its width alone."""
    if config.optional("moe.shared_experts", "n_shared_experts"):
        return config.optional("moe.shared_intermediate_size", "moe_intermediate_size")
    return config.optional("moe.shared_intermediate_size", "shared_expert_intermediate_size")


def _moe(config: _Config) -> Moe | None:
    """Routed and shared experts, or None for a dense model."""
    experts = config.optional("moe.experts", "num_local_experts", "num_experts", "n_routed_experts")
    if not experts:
        return None
    moe = Moe(
        experts=experts,
        top_k=config.need("moe.top_k", "num_experts_per_tok"),
        expert_intermediate_size=config.optional("moe.expert_intermediate_size", "moe_intermediate_size")
        or config.need("moe.expert_intermediate_size", "intermediate_size"),
        shared_experts=config.optional("moe.shared_experts", "n_shared_experts"),
        shared_intermediate_size=_shared_intermediate_size(config),
        dense_layers=config.optional("moe.dense_layers", "first_k_dense_replace"),
    )
    if moe.shared_intermediate_size and not moe.shared_experts:  # a shared expert given by its width alone
        moe = replace(moe, shared_experts=1)
    return moe


def _mla(config: _Config) -> Mla | None:
    """Multi-head latent attention (DeepSeek-V2/V3), present when the config has a KV latent rank."""
    kv_lora_rank = config.optional("mla.kv_lora_rank", "kv_lora_rank")
    if not kv_lora_rank:
        return None
    return Mla(
        q_lora_rank=config.optional("mla.q_lora_rank", "q_lora_rank"),
        kv_lora_rank=kv_lora_rank,
        qk_nope_head_dim=config.need("mla.qk_nope_head_dim", "qk_nope_head_dim"),
        qk_rope_head_dim=config.need("mla.qk_rope_head_dim", "qk_rope_head_dim"),
        v_head_dim=config.need("mla.v_head_dim", "v_head_dim"),
    )


def _activation(config: _Config) -> str:
    """The MLP activation as a profile names it; variants such as `gelu_new` map to their family."""
    name = config.text("hidden_act", "activation_function", default="silu")
    if "relu" in name:
        return "relu"
    return "gelu" if "gelu" in name else "silu"


def _bias(config: _Config, model_type: str) -> str:
    """Which projections carry biases: OPT all of them, Qwen2 (and any config saying so) Q, K and V."""
    if model_type == "opt":
        return "all"
    return "qkv" if config.flag("attention_bias", False) or model_type == "qwen2" else "none"


def _intermediate_size(config: _Config, is_opt: bool) -> int:
    """The dense MLP width; OPT calls it `ffn_dim`."""
    if is_opt:
        return config.need("intermediate_size", "ffn_dim", "intermediate_size")
    return config.need("intermediate_size", "intermediate_size")


def _head_dim(config: _Config, hidden: int, heads: int) -> int:
    """`head_dim`, by default the hidden size shared by the heads (which then must divide it)."""
    if config.value("head_dim")[1] is None and heads > hidden:
        raise InputError(config.source, config.keys["num_heads"],
                         f"must not exceed the hidden size ({hidden}) unless head_dim is given; got {heads}")
    return config.optional("head_dim", "head_dim", default=hidden // heads)


def _model(config: _Config, path: Path) -> Model:
    """The profile a config describes; raises ShapeError for an impossible shape."""
    model_type = config.text("model_type")
    is_opt = model_type == "opt"
    hidden = config.need("hidden_size", "hidden_size", "n_embd", "d_model")
    heads = config.need("num_heads", "num_attention_heads", "n_head")
    if heads < 1:
        raise ShapeError("num_heads", f"must be at least 1; got {heads}")
    return Model(
        id=Path(path).parent.name or Path(path).stem,
        name=config.text("_name_or_path", default=Path(path).parent.name or model_type),
        hidden_size=hidden,
        num_layers=config.need("num_layers", "num_hidden_layers", "n_layer"),
        num_heads=heads,
        num_kv_heads=config.optional("num_kv_heads", "num_key_value_heads", default=heads),
        head_dim=_head_dim(config, hidden, heads),
        intermediate_size=_intermediate_size(config, is_opt),
        vocab_size=config.need("vocab_size", "vocab_size"),
        max_positions=config.need("max_positions", "max_position_embeddings"),
        tie_embeddings=config.flag("tie_word_embeddings", is_opt),
        gated_mlp=not is_opt,
        activation=_activation(config),
        norm="layernorm" if is_opt else "rmsnorm",
        learned_positions=is_opt,
        bias=_bias(config, model_type),
        moe=_moe(config),
        mla=_mla(config),
        source=str(path),
    )


def from_hf_config(path: Path) -> Model:
    """Build a profile from a HuggingFace `config.json`; its id is the name of the folder holding it."""
    config = _Config(_read_json(path), str(path))
    try:
        return _model(config, path)
    except ShapeError as exc:
        key = config.keys.get(exc.field, exc.field)
        raise InputError(str(path), key, exc.message) from None
