"""Reading model profile YAML (`workloads/models/*.yaml`) into a `Model`.

A profile gives the shapes that decide FLOPs and bytes, with an optional `moe` block (routed
and shared experts) and `mla` block (DeepSeek's latent attention). Parameter counts are not
read: they follow from the shapes, and `published_parameters` is kept only to check them.
"""
from __future__ import annotations

from hwsim.loading.fields import Fields
from hwsim.specs.models import MAY_BE_ZERO, SHAPE_LIMITS, Mla, Model, Moe, ShapeError


def _shape(fields: Fields, key: str, default: int | None = None, block: str = "") -> int:
    """A shape of the profile (`key` in `fields`, of the `moe` or `mla` block if named), within the
    bounds `SHAPE_LIMITS` sets for it."""
    name = f"{block}.{key}" if block else key
    low = 0 if name in MAY_BE_ZERO else 1
    if default is None:
        return fields.integer(key, low=low, high=SHAPE_LIMITS[name])
    return fields.integer(key, default, low=low, high=SHAPE_LIMITS[name])


def _moe(fields: Fields) -> Moe | None:
    """The `moe` block, or None for a dense model."""
    if not fields.has("moe"):
        return None
    section = fields.section("moe")
    moe = Moe(
        experts=_shape(section, "experts", block="moe"),
        top_k=_shape(section, "top_k", block="moe"),
        expert_intermediate_size=_shape(section, "expert_intermediate_size", block="moe"),
        shared_experts=_shape(section, "shared_experts", 0, block="moe"),
        shared_intermediate_size=_shape(section, "shared_intermediate_size", 0, block="moe"),
        dense_layers=_shape(section, "dense_layers", 0, block="moe"),
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
        q_lora_rank=_shape(section, "q_lora_rank", 0, block="mla"),
        kv_lora_rank=_shape(section, "kv_lora_rank", block="mla"),
        qk_nope_head_dim=_shape(section, "qk_nope_head_dim", block="mla"),
        qk_rope_head_dim=_shape(section, "qk_rope_head_dim", block="mla"),
        v_head_dim=_shape(section, "v_head_dim", block="mla"),
    )
    section.finish()
    return mla


def _head_dim(fields: Fields, hidden: int, heads: int) -> int:
    """`head_dim`, by default the hidden size shared by the heads (which then must not outnumber it)."""
    if not fields.has("head_dim") and heads > hidden:
        raise fields.error("num_heads", f"must not exceed hidden_size ({hidden}) unless head_dim is given; "
                                        f"got {heads}")
    return _shape(fields, "head_dim", hidden // heads)


def load_model(fields: Fields) -> Model:
    """A model profile; `num_kv_heads` and `head_dim` default to plain multi-head attention's."""
    hidden = _shape(fields, "hidden_size")
    heads = _shape(fields, "num_heads")
    moe = _moe(fields)
    mla = _mla(fields)
    try:
        model = Model(
            id=fields.string("id"),
            name=fields.string("name"),
            hidden_size=hidden,
            num_layers=_shape(fields, "num_layers"),
            num_heads=heads,
            num_kv_heads=_shape(fields, "num_kv_heads", heads),
            head_dim=_head_dim(fields, hidden, heads),
            intermediate_size=_shape(fields, "intermediate_size"),
            vocab_size=_shape(fields, "vocab_size"),
            max_positions=_shape(fields, "max_positions"),
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
    except ShapeError as exc:
        raise fields.error(exc.field, exc.message) from None
    fields.finish()
    return model
