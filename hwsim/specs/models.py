"""Model profiles: the shapes that decide FLOPs and bytes, and the parameter counts they imply.

A profile is read from `workloads/models/ID.yaml` or from a HuggingFace `config.json`.
Parameter counts are computed from the shapes (never stored), so a test can hold every
shipped profile to its published size.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from hwsim.base.errors import HwsimError, brief

# Model-independent ceilings on each shape, far above the largest published model (DeepSeek-V3:
# hidden 7168, 61 layers, 128 heads, a 129k vocabulary, 256 experts): a figure beyond them is a
# typo, and the per-layer parameter count and per-expert routing would not finish on it.
SHAPE_LIMITS = {
    "hidden_size": 1_000_000,
    "num_layers": 10_000,
    "num_heads": 100_000,
    "num_kv_heads": 100_000,
    "head_dim": 100_000,
    "intermediate_size": 10_000_000,
    "vocab_size": 100_000_000,
    "max_positions": 1_000_000_000,
    "moe.experts": 100_000,
    "moe.top_k": 100_000,
    "moe.expert_intermediate_size": 10_000_000,
    "moe.shared_experts": 10_000,
    "moe.shared_intermediate_size": 10_000_000,
    "moe.dense_layers": 10_000,
    "mla.q_lora_rank": 1_000_000,
    "mla.kv_lora_rank": 1_000_000,
    "mla.qk_nope_head_dim": 100_000,
    "mla.qk_rope_head_dim": 100_000,
    "mla.v_head_dim": 100_000,
}
# shapes that may be zero: no shared experts, no dense layers before the MoE ones, no query compression
MAY_BE_ZERO = ("moe.shared_experts", "moe.shared_intermediate_size", "moe.dense_layers", "mla.q_lora_rank")


class ShapeError(HwsimError):
    """An impossible model shape, located by its profile field path (`num_kv_heads`, `moe.top_k`), so
    that each loader can name the key its own file spells it with."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def __reduce__(self):
        """Rebuild from field and message, so the error survives a process pool or a copy intact."""
        return type(self), (self.field, self.message)


def _check_range(field: str, value: object) -> None:
    """A shape is a whole number from 1 (0 where `MAY_BE_ZERO` allows) up to its `SHAPE_LIMITS` ceiling."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(field, f"expected a whole number; got {brief(value)}")
    low = 0 if field in MAY_BE_ZERO else 1
    if value < low:
        raise ShapeError(field, f"must be at least {low}; got {brief(value)}")
    if value > SHAPE_LIMITS[field]:
        raise ShapeError(field, f"must be at most {SHAPE_LIMITS[field]:,}; got {brief(value)}")


def _check_block(prefix: str, block: Moe | Mla) -> None:
    """Every shape of a `moe` or `mla` block within its range."""
    for item in fields(block):
        _check_range(f"{prefix}.{item.name}", getattr(block, item.name))


@dataclass(frozen=True)
class Moe:
    experts: int  # routed experts per MoE layer
    top_k: int
    expert_intermediate_size: int
    shared_experts: int = 0
    shared_intermediate_size: int = 0  # per shared expert
    dense_layers: int = 0  # the first layers use a dense MLP (DeepSeek's first_k_dense_replace)


@dataclass(frozen=True)
class Mla:
    """Multi-head latent attention (DeepSeek-V2/V3): KV cached as a compressed latent."""

    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int  # dense MLP width
    vocab_size: int
    max_positions: int
    tie_embeddings: bool = False
    gated_mlp: bool = True  # SwiGLU-style: gate, up and down matrices
    activation: str = "silu"
    norm: str = "rmsnorm"
    learned_positions: bool = False  # OPT: a learned position table instead of rotary
    bias: str = "none"  # none | qkv | all
    moe: Moe | None = None
    mla: Mla | None = None
    published_parameters: float | None = None
    published_active_parameters: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        """Refuse shapes no model has: a count of zero, a size past `SHAPE_LIMITS`, KV heads that do
        not divide the query heads, more experts per token than experts or more dense layers than layers."""
        for name in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
                     "vocab_size", "max_positions"):
            _check_range(name, getattr(self, name))
        if self.num_heads % self.num_kv_heads:
            raise ShapeError("num_kv_heads", f"must divide num_heads ({self.num_heads}); got {self.num_kv_heads}")
        if self.moe is not None:
            _check_block("moe", self.moe)
            if self.moe.top_k > self.moe.experts:
                raise ShapeError("moe.top_k", f"must not exceed experts ({self.moe.experts}); got {self.moe.top_k}")
            if self.moe.dense_layers > self.num_layers:
                raise ShapeError("moe.dense_layers",
                                 f"must not exceed num_layers ({self.num_layers}); got {self.moe.dense_layers}")
        if self.mla is not None:
            _check_block("mla", self.mla)

    # --- shapes -----------------------------------------------------------------------------
    @property
    def q_width(self) -> int:
        if self.mla:
            return self.num_heads * (self.mla.qk_nope_head_dim + self.mla.qk_rope_head_dim)
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        """Width of K (and of V) per token, before any latent compression."""
        return self.num_kv_heads * self.head_dim

    @property
    def attention_output_width(self) -> int:
        return self.num_heads * (self.mla.v_head_dim if self.mla else self.head_dim)

    def kv_elements_per_token_per_layer(self) -> int:
        """Elements cached per token per layer: K and V, or MLA's latent plus its rotary key."""
        if self.mla:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.kv_width

    def kv_bytes_per_token(self, kv_bytes_per_element: float) -> float:
        return self.num_layers * self.kv_elements_per_token_per_layer() * kv_bytes_per_element

    def kv_bytes_per_token_per_device(self, kv_bytes_per_element: float, tp: int) -> float:
        """KV bytes one of `tp` tensor-parallel devices keeps per token. KV heads are split over the
        devices but never below one head each, so with more devices than KV heads each head is
        stored on several devices; MLA's shared latent is stored on every device."""
        if self.mla:
            return self.kv_bytes_per_token(kv_bytes_per_element)
        heads_per_device = max(1.0, self.num_kv_heads / tp)
        return self.kv_bytes_per_token(kv_bytes_per_element) * heads_per_device / self.num_kv_heads

    def is_moe_layer(self, layer: int) -> bool:
        return self.moe is not None and layer >= self.moe.dense_layers

    @property
    def moe_layers(self) -> int:
        return 0 if self.moe is None else self.num_layers - self.moe.dense_layers

    @property
    def dense_layers(self) -> int:
        return self.num_layers - self.moe_layers

    # --- parameters -------------------------------------------------------------------------
    def attention_parameters(self) -> int:
        h = self.hidden_size
        if self.mla:
            m = self.mla
            q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * self.q_width if m.q_lora_rank else h * self.q_width
            kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
            kv += m.kv_lora_rank * self.num_heads * (m.qk_nope_head_dim + m.v_head_dim)
            return q + kv + self.attention_output_width * h
        params = h * (self.q_width + 2 * self.kv_width) + self.attention_output_width * h
        if self.bias in ("qkv", "all"):
            params += self.q_width + 2 * self.kv_width
        if self.bias == "all":
            params += h
        return params

    def mlp_parameters(self, width: int) -> int:
        matrices = 3 if self.gated_mlp else 2
        params = matrices * self.hidden_size * width
        if self.bias == "all":
            params += width * (matrices - 1) + self.hidden_size
        return params

    def norm_parameters(self) -> int:
        return self.hidden_size * (2 if self.norm == "layernorm" else 1)

    def layer_parameters(self, layer: int, active_only: bool = False) -> int:
        params = self.attention_parameters() + 2 * self.norm_parameters()
        moe = self.moe
        if moe is None or not self.is_moe_layer(layer):
            return params + self.mlp_parameters(self.intermediate_size)
        routed = moe.top_k if active_only else moe.experts
        params += routed * self.mlp_parameters(moe.expert_intermediate_size)
        params += moe.shared_experts * self.mlp_parameters(moe.shared_intermediate_size)
        return params + self.hidden_size * moe.experts  # router

    def embedding_parameters(self) -> int:
        params = self.vocab_size * self.hidden_size
        if self.learned_positions:
            params += (self.max_positions + 2) * self.hidden_size  # OPT keeps 2 offset rows
        return params

    def lm_head_parameters(self) -> int:
        return 0 if self.tie_embeddings else self.vocab_size * self.hidden_size

    def parameters(self, active_only: bool = False) -> int:
        layers = sum(self.layer_parameters(i, active_only) for i in self._layer_kinds())
        return layers + self.embedding_parameters() + self.lm_head_parameters() + self.norm_parameters()

    def _layer_kinds(self):
        """One representative index per layer, cheap even for 126 layers."""
        return range(self.num_layers)

    def routed_expert_parameters(self) -> int:
        if self.moe is None:
            return 0
        return self.moe_layers * self.moe.experts * self.mlp_parameters(self.moe.expert_intermediate_size)

    def weight_bytes(self, bits_per_weight: float) -> float:
        """All weights stored at `bits_per_weight`; the input embedding table is counted too."""
        return self.parameters() * bits_per_weight / 8
