"""Reading model profile YAML (`workloads/models/*.yaml`) into a `Model`.

A profile gives the shapes that decide FLOPs and bytes, with an optional `moe` block (routed
and shared experts) and `mla` block (DeepSeek's latent attention). Parameter counts are not
read: they follow from the shapes, and `published_parameters` is kept only to check them.
"""
from __future__ import annotations

from hwsim.loading.fields import Fields
from hwsim.specs.models import Mla, Model, Moe


def _moe(fields: Fields) -> Moe | None:
    """The `moe` block, or None for a dense model."""
    if not fields.has("moe"):
        return None
    section = fields.section("moe")
    moe = Moe(
        experts=section.integer("experts"),
        top_k=section.integer("top_k"),
        expert_intermediate_size=section.integer("expert_intermediate_size"),
        shared_experts=section.integer("shared_experts", 0, low=0),
        shared_intermediate_size=section.integer("shared_intermediate_size", 0, low=0),
        dense_layers=section.integer("dense_layers", 0, low=0),
    )
    section.finish()
    if moe.top_k > moe.experts:
        raise section.error("top_k", f"must not exceed experts ({moe.experts}); got {moe.top_k}")
    return moe


def _mla(fields: Fields) -> Mla | None:
    """The `mla` block, or None for attention with plain K and V."""
    if not fields.has("mla"):
        return None
    section = fields.section("mla")
    mla = Mla(
        q_lora_rank=section.integer("q_lora_rank", 0, low=0),
        kv_lora_rank=section.integer("kv_lora_rank"),
        qk_nope_head_dim=section.integer("qk_nope_head_dim"),
        qk_rope_head_dim=section.integer("qk_rope_head_dim"),
        v_head_dim=section.integer("v_head_dim"),
    )
    section.finish()
    return mla


def load_model(fields: Fields) -> Model:
    """A model profile; `num_kv_heads` and `head_dim` default to plain multi-head attention's."""
    hidden = fields.integer("hidden_size")
    heads = fields.integer("num_heads")
    moe = _moe(fields)
    mla = _mla(fields)
    model = Model(
        id=fields.string("id"),
        name=fields.string("name"),
        hidden_size=hidden,
        num_layers=fields.integer("num_layers"),
        num_heads=heads,
        num_kv_heads=fields.integer("num_kv_heads", heads),
        head_dim=fields.integer("head_dim", hidden // heads),
        intermediate_size=fields.integer("intermediate_size"),
        vocab_size=fields.integer("vocab_size"),
        max_positions=fields.integer("max_positions"),
        tie_embeddings=fields.boolean("tie_embeddings", False),
        gated_mlp=fields.string("mlp", "gated", choices=("gated", "plain")) == "gated",
        activation=fields.string("activation", "silu", choices=("silu", "gelu", "relu")),
        norm=fields.string("norm", "rmsnorm", choices=("rmsnorm", "layernorm")),
        learned_positions=fields.string("position", "rope", choices=("rope", "learned")) == "learned",
        bias=fields.string("bias", "none", choices=("none", "qkv", "all")),
        moe=moe,
        mla=mla,
        published_parameters=fields.number("published_parameters", None, low=1.0),
        published_active_parameters=fields.number("published_active_parameters", None, low=1.0),
        source=fields.string("source", ""),
    )
    if heads % model.num_kv_heads:
        raise fields.error("num_kv_heads", f"must divide num_heads ({heads}); got {model.num_kv_heads}")
    fields.finish()
    return model
