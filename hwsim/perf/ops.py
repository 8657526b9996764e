"""The operators of one forward step: FLOPs and bytes by tensor class, per layer kind.

A step is described by `StepShape`: groups of sequences, each group with the number of new
tokens per sequence (`q_len`) and the context each new token attends to (`kv_len`, new tokens
included). Prefill of P tokens is (q_len=P, kv_len=P); a decode step over C cached tokens is
(q_len=1, kv_len=C+1); a chunk of chunked prefill is (q_len=chunk, kv_len=done+chunk).

`Implementation` says how the framework turns the math into kernels. `unfused` is a plain
PyTorch module implementation (RMSNorm, rotary and SiLU as chains of elementwise kernels, as in
the reference H200 step measurements); `fused` is a serving engine (fused norm+residual, fused
rotary, fused SiLU-and-mul). The math is the same; kernel counts and activation traffic differ.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hwsim.base.errors import HwsimError
from hwsim.specs.deployment import FUSED, ExpertSetup, Implementation, Precision
from hwsim.specs.kernels import weight_format
from hwsim.specs.models import Model
from hwsim.specs.shape import AttnGroup, StepShape

BLOCKS = ("embedding", "attention", "mlp", "moe", "head")  # where in the model an operator runs
ALL_TO_ALL = ("alltoall_dispatch", "alltoall_combine")  # collectives that move routed tokens, not sums


@dataclass(frozen=True)
class Op:
    """One operator of a step, identified by its `role` (what it computes, e.g. `qkv_proj`,
    `attention`, `experts_down`) and its `block` (embedding, attention, mlp, moe, head). GEMMs
    carry their dimensions (`m` x `k` activations times `n` x `k` weights, over `experts` weight
    matrices); attention carries its groups and head counts. `shape` is display text only."""

    role: str
    kind: str  # gemm | attention | elementwise | collective
    dtype: str
    flops: float = 0.0
    weight_bytes: float = 0.0
    act_bytes: float = 0.0  # activations read plus written
    kv_read_bytes: float = 0.0
    kv_write_bytes: float = 0.0
    repeat: int = 1  # instances per step (usually the number of layers)
    kernels: int = 1  # kernel launches per instance
    causal: bool = False  # attention over new tokens that see each other (prefill)
    block: str = "attention"
    m: float = 0  # rows: a data-parallel share may be a fraction
    n: int = 0
    k: int = 0
    experts: float = 1.0  # weight matrices a GEMM reads (routed experts), else 1
    groups: tuple[AttnGroup, ...] = ()  # attention: the step's sequence groups
    heads: int = 0  # attention: query heads and KV heads on this device
    kv_heads: int = 0
    head_dim: int = 0  # attention: the size each score is taken over
    weight_format: str | None = None  # GEMM over quantized weights: the format whose kernel runs it

    @property
    def name(self) -> str:
        """The operator's display name."""
        return self.role

    @property
    def routed_experts(self) -> bool:
        """A routed expert's GEMM or activation: its weights follow the `experts` placement."""
        return self.role.startswith("experts_")

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.act_bytes + self.kv_read_bytes + self.kv_write_bytes

    @property
    def shape(self) -> str:
        """Display text of the operator's dimensions."""
        if self.kind == "gemm":
            return f"m={self.m} n={self.n} k={self.k}" + (
                f" x{self.experts:.3g} experts" if self.experts != 1.0 else "")
        if self.kind == "attention":
            groups = ", ".join(f"{g.sequences}x(q={g.q_len}, kv={g.kv_len})" for g in self.groups)
            return f"{groups}; {self.heads} heads / {self.kv_heads} kv heads"
        return ""


def expected_active_experts(experts: int, top_k: int, tokens: float) -> float:
    """Distinct experts touched by `tokens` tokens under uniform routing: E * (1 - (1 - k/E)^T)."""
    if tokens <= 0:
        return 0.0
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


def step_ops(
    model: Model,
    shape: StepShape,
    precision: Precision = Precision(),
    implementation: Implementation = FUSED,
    tp: int = 1,
    layers: int | None = None,
    active_experts: float | None = None,
    experts: ExpertSetup | None = None,
) -> list[Op]:
    """Every operator of one forward step of `model` on one of `tp` tensor-parallel shards.

    MoE layers touch `active_experts` distinct experts when given (routing fixed ahead), else the
    expected number under `experts.routing` (uniform by default). With expert parallelism the
    experts are spread whole over the `tp` devices and the step waits for the busiest one, after
    an all-to-all dispatch and before an all-to-all combine."""
    layers = model.num_layers if layers is None else layers
    _check_split(model, layers, tp)
    builder = _Builder(model, shape, precision, implementation, tp)
    moe_layers = sum(1 for i in range(layers) if model.is_moe_layer(i))
    dense_layers = layers - moe_layers
    setup = experts or ExpertSetup()
    local = builder
    local_shape, local_tp = attention_scope(model, shape, tp, setup)
    if local_tp != tp:
        local = _Builder(model, local_shape, precision, implementation, local_tp)
        setup = replace(setup, expert_parallel=True)
    ops = local.section("embedding", local.embedding)
    ops += local.section("attention", local.attention_block, layers)
    if dense_layers:
        ops += local.section("mlp", local.dense_mlp, dense_layers, model.intermediate_size, "mlp")
    if moe_layers:
        ops += builder.section("moe", builder.moe_mlp, moe_layers, active_experts, setup)
    ops += local.section("head", local.head)
    return [op for op in ops if op.repeat > 0]


def attention_scope(model: Model, shape: StepShape, tp: int, experts: ExpertSetup | None) -> tuple[StepShape, int]:
    """The step shape and tensor-parallel degree attention (and every non-expert layer) runs at:
    with attention data parallelism on a MoE model, one device's share of the sequences with whole
    (replicated) weights; otherwise the whole step split over the `tp` shards."""
    if experts is not None and experts.attention_dp and tp > 1 and model.moe is not None:
        return shape.share(tp), 1
    return shape, tp


def _check_split(model: Model, layers: int, tp: int) -> None:
    """A step runs 1..num_layers layers, and `tp` shards split the query heads evenly (KV heads
    are split too, or replicated when the shards outnumber them)."""
    if layers < 1 or layers > model.num_layers:
        raise HwsimError(f"layers must be between 1 and {model.num_layers}; got {layers}")
    if model.num_heads % tp or model.num_kv_heads % tp and tp % model.num_kv_heads:
        raise HwsimError(f"tensor parallel degree {tp} does not divide the {model.num_heads} heads of {model.id}")


class _Builder:
    def __init__(self, model: Model, shape: StepShape, precision: Precision, impl: Implementation, tp: int):
        self.m = model
        self.shape = shape
        self.p = precision
        self.impl = impl
        self.tp = tp
        self.t = shape.tokens
        self.a = precision.act_bytes
        self.w = precision.weight_bytes_per_param
        self.dt = precision.compute_dtype
        self.block = "attention"  # the block the operators made now belong to

    def section(self, block: str, build: Callable[..., list[Op]], *args: Any) -> list[Op]:
        """The operators `build(*args)` makes, each in `block` as it is made (the step model builds
        a step's operators for every new token count it meets, so they are not copied afterwards)."""
        self.block = block
        return build(*args)

    def gemm(self, name: str, m: float, n: int, k: int, repeat: int, experts: float = 1.0) -> Op:
        """y[m, n] = x[m, k] @ W[n, k]^T; `experts` weight matrices are read: one grouped GEMM in an
        engine, one GEMM per expert in a plain PyTorch module (the reference implementation).
        With a weight format its kernel runs every linear layer but the router (kept in 16 bits by
        every quantizer); the LM head too when the format quantizes it."""
        bytes_per_weight, fmt = self.w, self.p.weight_format
        if name == "router":
            fmt = None
        elif name == "lm_head":
            bytes_per_weight = self.p.head_bytes_per_param
            if fmt and bytes_per_weight >= 2.0 and weight_format(fmt).weight_dtype != "fp16":
                fmt = None  # a 16-bit head beside quantized layers runs the plain 16-bit GEMM
        if fmt is None and self.p.weight_format:
            bytes_per_weight = self.a
        return Op(
            kernels=self._per_expert(experts),
            role=name,
            kind="gemm",
            dtype=self.dt,
            weight_format=fmt,
            flops=2.0 * m * n * k,
            weight_bytes=experts * n * k * bytes_per_weight,
            act_bytes=(m * k + m * n) * self.a,
            repeat=repeat,
            m=m,
            n=n,
            k=k,
            experts=experts,
            block=self.block,
        )

    def _per_expert(self, experts: float) -> int:
        if experts == 1.0 or self.impl is FUSED:
            return 1
        return max(1, round(experts))

    def elementwise(self, name: str, elements: float, bytes_per_element: float, kernels: int, repeat: int) -> Op:
        return Op(name, "elementwise", self.dt, act_bytes=elements * bytes_per_element, repeat=repeat, kernels=kernels,
                  block=self.block)

    def norm(self, name: str, rows: float, repeat: int) -> Op:
        h = self.m.hidden_size
        if self.m.norm == "layernorm":  # one fused kernel in every framework
            return self.elementwise(name, rows * h, 2 * self.a, 1, repeat)
        per_act, fixed = self.impl.norm_bytes
        return self.elementwise(name, rows * h, per_act * self.a + fixed, self.impl.norm_kernels, repeat)

    def allreduce(self, name: str, repeat: int) -> Op:
        return Op(name, "collective", self.dt, act_bytes=self.t * self.m.hidden_size * self.a, repeat=repeat,
                  block=self.block)

    def embedding(self) -> list[Op]:
        h = self.m.hidden_size
        ops = [self.elementwise("embedding", self.t * h, 2 * self.a, 1, 1)]
        if self.m.learned_positions:
            ops.append(self.elementwise("position_embedding", self.t * h, 4 * self.a, 2, 1))
        return ops

    def attention_block(self, layers: int) -> list[Op]:
        m, t, tp, a = self.m, self.t, self.tp, self.a
        heads = m.num_heads // tp
        kv_heads = max(1, m.num_kv_heads // tp)
        h = m.hidden_size
        ops = [self.norm("attn_norm", t, layers)]
        if m.mla:
            ops += self._mla_projections(layers, heads)
            kv_width_cached = m.kv_elements_per_token_per_layer()  # one latent shared by all heads
            rope_width = (heads + 1) * m.mla.qk_rope_head_dim
        else:
            q_w, kv_w = heads * m.head_dim, kv_heads * m.head_dim
            ops.append(self.gemm("qkv_proj", t, q_w + 2 * kv_w, h, layers))
            kv_width_cached = 2 * kv_w
            rope_width = q_w + kv_w
        if not m.learned_positions:
            ops.append(self.elementwise("rotary", t * rope_width, self.impl.rotary_bytes_per_act * a,
                                        self.impl.rotary_kernels, layers))
        kvb = self.p.kv_bytes
        ops.append(Op("kv_cache_write", "elementwise", self.dt, act_bytes=t * kv_width_cached * a,
                      kv_write_bytes=t * kv_width_cached * kvb, repeat=layers,
                      kernels=1 if self.impl is FUSED or m.mla else 2))
        ops += self._attention(layers)
        out_w = heads * (m.mla.v_head_dim if m.mla else m.head_dim)
        # moving the heads back behind the sequence is a copy, unless every sequence has one new
        # token: a transpose across a dimension of size 1 leaves the memory order as it is
        if self.impl.attn_out_copy and not self.shape.is_decode_only:
            ops.append(self.elementwise("attn_out_copy", t * out_w, 2 * a, 1, layers))
        ops.append(self.gemm("o_proj", t, h, out_w, layers))
        if tp > 1:
            ops.append(self.allreduce("attn_allreduce", layers))
        if self.impl.residual_kernels:
            ops.append(self.elementwise("residual_add", t * h, 3 * a, 1, layers))
        ops.append(self.norm("mlp_norm", t, layers))
        return ops

    def _mla_projections(self, layers: int, heads: int) -> list[Op]:
        m, t, h = self.m, self.t, self.m.hidden_size
        mla = m.mla
        assert mla is not None  # only MLA models build MLA projections
        qk_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        ops = []
        if mla.q_lora_rank:
            ops.append(self.gemm("q_a_proj", t, mla.q_lora_rank, h, layers))
            ops.append(self.gemm("q_b_proj", t, heads * qk_head, mla.q_lora_rank, layers))
        else:
            ops.append(self.gemm("q_proj", t, heads * qk_head, h, layers))
        ops.append(self.gemm("kv_a_proj", t, mla.kv_lora_rank + mla.qk_rope_head_dim, h, layers))
        # absorbed form: the up-projection of the latent costs this GEMM's worth per new token
        ops.append(self.gemm("kv_b_proj", t, heads * (mla.qk_nope_head_dim + mla.v_head_dim), mla.kv_lora_rank, layers))
        return ops

    def _attention(self, layers: int) -> list[Op]:
        fused = model_attention_op(self.m, self.shape, self.p, self.tp, layers)
        return [fused] if self.impl.attention == "flash" else materialized_attention_ops(fused, self.p)

    def dense_mlp(self, layers: int, width: int, name: str, experts: float = 1.0, tokens: float | None = None,
                  shard: bool = True) -> list[Op]:
        m, a = self.m, self.a
        t = self.t if tokens is None else tokens
        width = width // self.tp if shard else width
        h = m.hidden_size
        ops = []
        if m.gated_mlp:
            ops.append(self.gemm(f"{name}_gate_up", t, 2 * width, h, layers, experts))
        else:
            ops.append(self.gemm(f"{name}_up", t, width, h, layers, experts))
        act_kernels = (self.impl.act_kernels if m.gated_mlp else 1) * self._per_expert(experts)
        ops.append(self.elementwise(f"{name}_act", t * width, self.impl.act_bytes_per_act * a if m.gated_mlp else 2 * a,
                                    act_kernels, layers))
        ops.append(self.gemm(f"{name}_down", t, h, width, layers, experts))
        return ops + self._mlp_tail(layers) if name == "mlp" else ops

    def _mlp_tail(self, layers: int, allreduce: bool = True) -> list[Op]:
        ops = []
        if self.tp > 1 and allreduce:
            ops.append(self.allreduce("mlp_allreduce", layers))
        if self.impl.residual_kernels:
            ops.append(self.elementwise("residual_add_2", self.t * self.m.hidden_size, 3 * self.a, 1, layers))
        return ops

    def moe_mlp(self, layers: int, active_experts: float | None, setup: ExpertSetup) -> list[Op]:
        moe, t, h = self.m.moe, self.t, self.m.hidden_size
        assert moe is not None  # only MoE layers build a MoE MLP
        routing = setup.routing
        if active_experts is not None:
            active = active_experts
        elif routing is not None:
            active = routing.expected_active(t)
        else:
            active = expected_active_experts(moe.experts, moe.top_k, t)
        if not 0 < active <= moe.experts:
            raise HwsimError(f"active_experts must be between 0 and {moe.experts}; got {active}")
        ops = [self.gemm("router", t, moe.experts, h, layers)]
        if self.impl is not FUSED:
            # softmax, top-k, renormalize; then per expert: gather its tokens, scale and scatter-add back
            ops.append(self.elementwise("router_select", t * moe.experts, 3 * self.a, 3, layers))
            ops.append(self.elementwise("experts_gather_scatter", t * moe.top_k * h, 4 * self.a,
                                        3 * max(1, round(active)), layers))
        if setup.expert_parallel and self.tp > 1:
            from hwsim.perf import moe as moe_mod

            routing = routing or moe_mod.uniform(moe.experts, moe.top_k)
            owner = setup.owner or moe_mod.round_robin(moe.experts, self.tp)
            rows, distinct, _ = moe_mod.busiest_device(routing, t, owner, setup.capacity_factor)
            if active_experts is not None:  # routing fixed ahead: scale the busiest device's share
                distinct = min(distinct * active_experts / max(active, 1e-9), moe.experts)
            tokens_x_k = t * moe.top_k
            ops.append(Op("alltoall_dispatch", "collective", self.dt, act_bytes=tokens_x_k * h * self.a, repeat=layers,
                             block=self.block))
            ops += self.dense_mlp(layers, moe.expert_intermediate_size, "experts", experts=max(distinct, 1e-9),
                                  tokens=max(1, round(rows)), shard=False)
            ops.append(Op("alltoall_combine", "collective", self.dt, act_bytes=tokens_x_k * h * self.a, repeat=layers,
                             block=self.block))
        else:
            # each routed token-expert pair is one row of a grouped GEMM over the active experts
            ops += self.dense_mlp(layers, moe.expert_intermediate_size, "experts", experts=active,
                                  tokens=t * moe.top_k)
        if moe.shared_experts:
            ops += self.dense_mlp(layers, moe.shared_intermediate_size * moe.shared_experts, "shared_expert")
        return ops + self._mlp_tail(layers, allreduce=not (setup.expert_parallel and self.tp > 1))

    def head(self) -> list[Op]:
        seqs, h = self.shape.sequences, self.m.hidden_size
        ops = []
        if self.t != seqs:  # pick the last position of each sequence
            ops.append(self.elementwise("last_token_gather", seqs * h, 2 * self.a, 1, 1))
        ops.append(self.norm("final_norm", seqs, 1))
        ops.append(self.gemm("lm_head", seqs, self.m.vocab_size // self.tp, h, 1))
        return ops


def attention_op(shape: StepShape, heads: int, kv_heads: int, score_dim: int, value_dim: int,
                 kv_width_cached: int, precision: Precision, repeat: int = 1) -> Op:
    """Fused attention over all groups: causal within the new tokens, full over the cached prefix
    (its FLOPs and bytes from `attention_work`)."""
    flops, act_bytes, kv_read = attention_work(shape.groups, heads, score_dim, value_dim, kv_width_cached,
                                               precision.kv_bytes, precision.act_bytes, precision.kv_staging_bytes)
    return Op("attention", "attention", precision.compute_dtype, flops=flops, act_bytes=act_bytes,
              kv_read_bytes=kv_read, repeat=repeat, causal=any(g.q_len > 1 for g in shape.groups),
              groups=shape.groups, heads=heads, kv_heads=kv_heads, head_dim=score_dim)


def attention_work(groups: tuple[AttnGroup, ...], heads: int, score_dim: int, value_dim: int, kv_width_cached: int,
                   kv_bytes: float, act_bytes: float, kv_staging_bytes: float) -> tuple[float, float, float]:
    """FLOPs, activation bytes and cached-KV bytes of fused attention over `groups`, with the cache's,
    the activations' and an unpacked cache's bytes per element.

    FLOPs count the (query, key) pairs actually visited; bytes are the cached K/V read once per
    sequence (query heads of a group share their KV head) plus queries and outputs, and any
    unpacking of a quantized cache."""
    flops = kv_read = q_bytes = unpacked = 0.0
    for g in groups:
        prefix = g.kv_len - g.q_len
        pairs = g.q_len * prefix + g.q_len * (g.q_len + 1) / 2
        flops += g.sequences * heads * 2.0 * pairs * (score_dim + value_dim)
        kv_read += g.sequences * g.kv_len * kv_width_cached * kv_bytes
        q_bytes += g.sequences * g.q_len * heads * (score_dim + value_dim) * act_bytes
        unpacked += g.sequences * g.kv_len * kv_width_cached * kv_staging_bytes
    return flops, q_bytes + unpacked, kv_read


def model_attention_op(model: Model, shape: StepShape, precision: Precision, tp: int = 1,
                       layers: int | None = None) -> Op:
    """The attention operator of `model` (GQA or MLA) for `shape`, on one of `tp` shards."""
    heads, kv_heads, score_dim, value_dim, kv_width_cached = attention_dims(model, tp)
    return attention_op(shape, heads, kv_heads, score_dim, value_dim, kv_width_cached, precision,
                        model.num_layers if layers is None else layers)


def attention_dims(model: Model, tp: int = 1) -> tuple[int, int, int, int, int]:
    """Query heads, KV heads, score and value widths, and cached KV elements per token and layer of
    `model`'s attention (GQA or MLA) on one of `tp` shards."""
    heads = model.num_heads // tp
    kv_heads = max(1, model.num_kv_heads // tp)
    if model.mla:  # scores over the latent (kv_lora + rope) and values from the latent (kv_lora)
        score_dim, value_dim = model.mla.kv_lora_rank + model.mla.qk_rope_head_dim, model.mla.kv_lora_rank
        kv_width_cached = model.kv_elements_per_token_per_layer()
    else:
        score_dim = value_dim = model.head_dim
        kv_width_cached = 2 * kv_heads * model.head_dim
    return heads, kv_heads, score_dim, value_dim, kv_width_cached


def materialized_attention_ops(fused: Op, precision: Precision) -> list[Op]:
    """The attention of `fused` with its scores materialized, as PyTorch's SDPA math backend runs it.
    Half-precision inputs are computed in fp32 (the default of
    `torch.backends.cuda.allow_fp16_bf16_reduction_math_sdp`): Q, K and V are converted, K and V
    expanded to every query head, scores = Q K^T over every query-key pair in fp32, a causal mask
    added, a softmax, then P V; each pass over the fp32 scores reads and writes them."""
    a, fp32 = precision.act_bytes, 4.0
    d = fused.head_dim
    pairs = q_elements = kv_elements = kv_expanded = 0.0
    for g in fused.groups:
        pairs += g.sequences * fused.heads * g.q_len * g.kv_len
        q_elements += g.sequences * fused.heads * g.q_len * d
        kv_elements += 2 * g.sequences * fused.kv_heads * g.kv_len * d
        kv_expanded += 2 * g.sequences * fused.heads * g.kv_len * d
    passes = 2 if fused.causal else 1  # mask add and softmax each read and write the scores
    rows = max((g.q_len for g in fused.groups), default=1)
    context = int(max((g.kv_len for g in fused.groups), default=1))
    repeat, block = fused.repeat, fused.block
    convert = (q_elements + kv_elements) * (a + fp32) + kv_elements * fp32 + kv_expanded * fp32  # upcast, expand
    return [
        Op("attention_upcast", "elementwise", fused.dtype, act_bytes=convert, kv_read_bytes=fused.kv_read_bytes,
           kernels=5, repeat=repeat, block=block),
        Op("attention_scores", "gemm", "fp32", flops=2.0 * pairs * d,
           act_bytes=(q_elements + kv_expanded / 2 + pairs) * fp32, m=rows, n=context, k=d, repeat=repeat, block=block),
        Op("attention_softmax", "elementwise", fused.dtype, act_bytes=passes * 2 * pairs * fp32, kernels=passes,
           repeat=repeat, block=block),
        Op("attention_values", "gemm", "fp32", flops=2.0 * pairs * d,
           act_bytes=(pairs + kv_expanded / 2 + q_elements) * fp32 + q_elements * a, m=rows, n=d, k=context,
           repeat=repeat, block=block),
    ]
