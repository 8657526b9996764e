"""The one step model: every step time of a `Deployment`, memoized.

`StepModel.cost(shape)` gives the detailed step (its operators, or its tiers when data lives
outside the accelerator); `StepModel.step(groups)` gives the serving engine (time, compute busy,
memory busy) fast enough to ask once per scheduling decision. With CUDA-graph launch and all data
on the device, everything but attention depends only on how many tokens and sequences a step
carries, so that part is memoized by (tokens, sequences) and attention, which depends on every
sequence's context, is one operator priced directly; the sum equals `cost(shape)`. A token count
met for the first time is priced from its operators' lines in the token count where they have
them (`hwsim.perf.linear_body`), and a run of decode steps from attention's line in the context
(`DecodeRun`).

Speculative decoding: a decode-only step is `draft_length` draft steps plus one verification of
draft_length + 1 tokens per sequence, divided by the tokens it yields on average, so one-token
steps carry the right time per token.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from typing import Protocol

from hwsim.base.errors import HwsimError
from hwsim.perf import roofline
from hwsim.perf.linear_body import ANCHORS, LinearBody
from hwsim.perf.offload import TierStep, tier_step
from hwsim.perf.ops import attention_dims, attention_scope, attention_work, model_attention_op, step_ops
from hwsim.perf.step import StepCost, operator_step, price_op
from hwsim.perf.techniques import apply_to_cost, transform_ops
from hwsim.specs.deployment import Deployment
from hwsim.specs.shape import AttnGroup, Count, StepShape, size
from hwsim.specs.techniques import Speculative

Busy = tuple[float, float, float]  # (time, compute busy, memory busy) of one device, seconds


class RunTimer(Protocol):
    """A run of decode steps, as `StepTimer.decode_run` gives it (`DecodeRun` for a `StepModel`)."""

    def busy(self, first: int, steps: int) -> list[Busy]:
        """(time, compute busy, memory busy) of a run's steps `first` .. `first + steps - 1`."""
        ...


class StepTimer(Protocol):
    """What the serving engine asks of a step model: `StepModel`, or a stand-in that times steps its own way."""

    def step(self, groups: tuple[AttnGroup, ...]) -> Busy:
        ...

    def decode_run(self, groups: tuple[AttnGroup, ...]) -> RunTimer:
        ...


class StepModel:
    def __init__(self, deployment: Deployment, layers: int | None = None, active_experts: float | None = None):
        self.deployment = deployment
        self.layers = layers
        self.active_experts = active_experts
        techniques = deployment.techniques
        self.speculative: Speculative | None = techniques.speculative if techniques is not None else None
        self._draft: StepModel | None = None
        if self.speculative is not None:
            draft = Deployment(self.speculative.draft_model, deployment.system, deployment.precision,
                               deployment.implementation, deployment.launch)
            self._draft = StepModel(draft)
        self._fast = deployment.placement.on_device and deployment.launch == "graph" and layers is None \
            and active_experts is None and deployment.implementation.attention == "flash"
        self._flash = FlashAttention(deployment) if self._fast and deployment.techniques is None else None
        self.cost = functools.lru_cache(maxsize=4096)(self._cost)
        self._dense = functools.lru_cache(maxsize=65536)(self._dense_uncached)
        # per model, not per class: a class-wide cache would keep every model alive
        self._body = functools.lru_cache(maxsize=65536)(self._body_uncached)
        self._head = functools.lru_cache(maxsize=65536)(self._head_uncached)
        self._linear_body = functools.lru_cache(maxsize=1)(self._find_linear_body)

    # --- detailed steps ------------------------------------------------------------------------
    def _cost(self, shape: StepShape) -> StepCost | TierStep:
        """The step of `shape`, per operator (on the device) or per tier (offloaded)."""
        if self.speculative is not None and self._draft is not None and shape.is_decode_only:
            verify = self._plain_cost(StepShape(self.speculative.verify_groups(shape.groups)))
            return _speculative(verify, self._draft.cost(shape), self.speculative)
        return self._plain_cost(shape)

    def _plain_cost(self, shape: StepShape) -> StepCost | TierStep:
        cost = operator_step(self.deployment, shape, self.layers, self.active_experts)
        if self.deployment.placement.on_device:
            return cost
        return tier_step(self.deployment, shape, cost, self.layers)

    # --- the serving engine's interface --------------------------------------------------------
    def step_s(self, groups: tuple[AttnGroup, ...]) -> float:
        """Time of one step over these groups (decodes are groups with q_len 1)."""
        return self.step(groups)[0]

    def step(self, groups: tuple[AttnGroup, ...]) -> Busy:
        """(time, compute busy time, memory busy time) of one step; busy times drive the power model."""
        if not self._fast:
            result = self.cost(StepShape(tuple(groups)))
            return (result.time_s, *result.busy_s())
        spec = self.speculative
        if spec is not None and self._draft is not None and all(g.q_len == 1 for g in groups):
            target = self._plain_step(spec.verify_groups(groups))
            draft = self._draft.step(groups)
            per_token = 1.0 / spec.tokens_per_step
            time_s, compute_s, memory_s = ((t + spec.draft_length * d) * per_token
                                           for t, d in zip(target, draft, strict=True))
            return time_s, compute_s, memory_s
        return self._plain_step(groups)

    def decode_run(self, groups: tuple[AttnGroup, ...]) -> DecodeRun:
        """The run of decode steps whose first step is over `groups`, each later one with the first
        group's context a token longer."""
        return DecodeRun(self, groups)

    def _attention(self, groups: tuple[AttnGroup, ...]) -> roofline.OpCost:
        """The attention operator of a step over `groups`, priced on the device."""
        d = self.deployment
        shape, tp = attention_scope(d.model, StepShape(groups), d.tp, d.experts)
        op = model_attention_op(d.model, shape, d.precision, tp)
        if d.techniques is not None:
            op = transform_ops(d.techniques, [op], shape)[0]
        attention = roofline.op_cost(op, d.system.compute)
        if d.techniques is not None:
            attention = apply_to_cost(d.techniques, attention, d.system.compute, d.precision.dtype)
        return attention

    def _plain_step(self, groups: tuple[AttnGroup, ...]) -> Busy:
        tokens, sequences = size(groups)
        if self._flash is not None:
            attention_s, compute_s, memory_s = self._flash.busy(groups)
            layers = self._flash.layers
        else:
            attention = self._attention(groups)
            attention_s, compute_s, memory_s, layers = (attention.time_s, attention.compute_s, attention.memory_s,
                                                        attention.op.repeat)
        dense_s, dense_compute_s, dense_memory_s = self._dense(tokens, sequences)
        return dense_s + attention_s, dense_compute_s + compute_s * layers, dense_memory_s + memory_s * layers

    def _dense_uncached(self, tokens: Count, sequences: Count) -> Busy:
        """Every operator but attention, for a step of `tokens` tokens over `sequences` sequences.

        Without techniques (which may scale operators by the step's prefill share), the head's
        operators (last-token gather, final norm, LM head) depend only on the sequences and every
        other operator only on the tokens, so the two parts are memoized apart: a serving run meets
        far fewer distinct token counts and sequence counts than distinct pairs of them."""
        if self.deployment.techniques is not None:
            return _busy_sum(self._dense_ops(tokens, sequences))
        body = self._body(tokens)
        head = self._head(sequences, tokens == sequences)
        return body[0] + head[0], body[1] + head[1], body[2] + head[2]

    def _dense_ops(self, tokens: Count, sequences: Count) -> list[roofline.OpCost]:
        """The priced operators of a step of `tokens` tokens over `sequences` sequences, but attention."""
        cost = operator_step(self.deployment, _dense_shape(tokens, sequences))
        return [c for c in cost.costs if c.op.kind != "attention"]

    def _body_uncached(self, tokens: Count) -> Busy:
        """The operators before the head for a step of `tokens` tokens (any sequence count gives them),
        from their lines in the token count where they have them (`LinearBody`)."""
        lines = self._linear_body()
        if lines is not None and tokens >= ANCHORS[0]:
            return lines(tokens)
        return _busy_sum(self._body_costs(tokens))

    def _find_linear_body(self) -> LinearBody | None:
        """The body's lines in the token count, looked for at the first body priced."""
        perf = self.deployment.system.compute.performance
        return LinearBody.of(self._body_costs, perf.roofline_sharpness, perf.kernel_overhead_s)

    def _body_costs(self, tokens: Count) -> list[roofline.OpCost]:
        """The body's operators priced one by one. Without techniques an operator's price depends on
        nothing but itself, so only these are priced."""
        d = self.deployment
        ops = step_ops(d.model, _dense_shape(tokens, 1), d.precision, d.implementation, d.tp, experts=d.experts)
        return [price_op(op, d) for op in ops if op.kind != "attention" and op.block != "head"]

    def _head_uncached(self, sequences: Count, decode_only: bool) -> Busy:
        """The head's operators for `sequences` sequences (a gather of their last positions unless
        every token is a sequence's only one)."""
        tokens = sequences if decode_only else sequences + 1
        return _busy_sum([c for c in self._dense_ops(tokens, sequences) if c.op.block == "head"])


class DecodeRun:
    """`StepModel.step` of each step of a run of decode steps: step 0 over `groups`, each later step
    with the first group's context one token longer. Attention's compute and memory times are affine
    in the context, so on the fast path two priced steps give every other one (equal to `step` to
    rounding): they are priced when a stretch of more than two steps is first asked for, and serve
    every later stretch of the run (the engine prices a run a stretch at a time)."""

    def __init__(self, model: StepModel, groups: tuple[AttnGroup, ...]):
        self.model = model
        self.groups = groups
        self._line: tuple[int, Busy, float, float, float, float] | None = None  # origin, dense, attention's line

    def busy(self, first: int, steps: int) -> list[Busy]:
        """(time, compute busy, memory busy) of steps `first` .. `first + steps - 1`."""
        flash = self.model._flash  # the fast path without techniques, where attention has its line
        if flash is None or (self._line is None and steps <= 2):
            return [self.model.step(self._shifted(step)) for step in range(first, first + steps)]
        if self._line is None:
            self._line = self._priced_line(first)
        origin, (dense_s, dense_compute_s, dense_memory_s), compute_s0, compute_step_s, memory_s0, memory_step_s = \
            self._line
        layers, fixed_s, sharpness, smooth_max = flash.layers, flash.overhead_s, flash.sharpness, roofline.smooth_max
        run = []
        for step in range(first - origin, first - origin + steps):
            compute_s = compute_s0 + compute_step_s * step
            memory_s = memory_s0 + memory_step_s * step
            run.append((dense_s + (fixed_s + smooth_max(compute_s, memory_s, sharpness)) * layers,
                        dense_compute_s + compute_s * layers, dense_memory_s + memory_s * layers))
        return run

    def _priced_line(self, origin: int) -> tuple[int, Busy, float, float, float, float]:
        """The dense part and attention's compute and memory times at step `origin` and their growth
        per step, from steps `origin` and `origin + 1` priced."""
        flash, groups = self.model._flash, self.groups
        assert flash is not None
        _, first_compute_s, first_memory_s = flash.busy(self._shifted(origin))
        _, second_compute_s, second_memory_s = flash.busy(self._shifted(origin + 1))
        return (origin, self.model._dense(*size(groups)), first_compute_s, second_compute_s - first_compute_s,
                first_memory_s, second_memory_s - first_memory_s)

    def _shifted(self, step: int) -> tuple[AttnGroup, ...]:
        groups = self.groups
        if not step:
            return groups
        first = groups[0]
        return (AttnGroup(first.sequences, first.q_len, first.kv_len + step),) + groups[1:]


class FlashAttention:
    """A deployment's fused attention priced straight from a step's groups, with the arithmetic of
    `ops.attention_op` and `roofline.op_cost` (CUDA-graph launch, one kernel per layer) but without
    building the operator: the serving engine asks for it at every step."""

    def __init__(self, deployment: Deployment):
        compute = deployment.system.compute
        perf = compute.performance
        self.deployment = deployment
        self.dtype = deployment.precision.compute_dtype
        self.rate = (compute.peak(self.dtype) or 0.0) * perf.attention_efficiency  # FLOP/s achieved (0: none)
        self.bandwidth = compute.memory_bandwidth_bytes_per_s * perf.memory_efficiency
        self.sharpness, self.overhead_s = perf.roofline_sharpness, perf.kernel_overhead_s
        self.layers = deployment.model.num_layers
        d = deployment
        _, tp = attention_scope(d.model, StepShape(()), d.tp, d.experts)
        self._data_parallel = tp != d.tp  # each device attends for its share of the sequences
        heads, _, self._score_dim, self._value_dim, self._kv_width = attention_dims(d.model, tp)
        self._heads = heads
        precision = d.precision
        self._element_bytes = (precision.kv_bytes, precision.act_bytes, precision.kv_staging_bytes)

    def busy(self, groups: tuple[AttnGroup, ...]) -> Busy:
        """(time of every layer, compute busy time and memory busy time of one layer)."""
        d = self.deployment
        if self._data_parallel:
            groups = attention_scope(d.model, StepShape(groups), d.tp, d.experts)[0].groups
        flops, act_bytes, kv_bytes = attention_work(groups, self._heads, self._score_dim, self._value_dim,
                                                    self._kv_width, *self._element_bytes)
        if flops and not self.rate:
            raise HwsimError(f"the device has no {self.dtype} compute rate (op attention)")
        compute_s = flops / self.rate if flops else 0.0
        memory_s = (act_bytes + kv_bytes) / self.bandwidth
        busy_s = roofline.smooth_max(compute_s, memory_s, self.sharpness)
        return (self.overhead_s + busy_s) * self.layers, compute_s, memory_s


SHARED_MODELS = 8  # deployments whose step models a process keeps (a plan's candidates come deployment by deployment)
_shared: dict[str, StepModel] = {}


def step_model_for(deployment: Deployment) -> StepModel:
    """The step model of `deployment`, shared by this process's simulations of it, so candidates that
    differ only in replicas or engine limits price each step once. Keyed by its repr, since its
    profiles hold dicts and do not hash, and checked equal; the latest `SHARED_MODELS` are kept."""
    key = repr(deployment)
    model = _shared.pop(key, None)
    if model is None or model.deployment != deployment:
        model = StepModel(deployment)
    _shared[key] = model
    while len(_shared) > SHARED_MODELS:
        del _shared[next(iter(_shared))]  # the least recently used
    return model


def forget_step_models() -> None:
    """Share no step model built so far (to time or test runs that each build their own)."""
    _shared.clear()


def _dense_shape(tokens: Count, sequences: Count) -> StepShape:
    """A step of `tokens` tokens over `sequences` sequences: one prefill chunk and decodes, or decodes only
    (what every operator but attention sees of a step)."""
    if tokens > sequences:
        prompt = tokens - sequences + 1  # whole: only decodes are ever shared out in fractions
        return StepShape((AttnGroup(1, prompt, prompt),)  # type: ignore[arg-type]
                         + ((AttnGroup(sequences - 1, 1, 1),) if sequences > 1 else ()))
    return StepShape((AttnGroup(sequences, 1, 1),))


def _busy_sum(costs: list[roofline.OpCost]) -> Busy:
    """(time, compute busy, memory busy) of priced operators run one after the other."""
    return (sum(c.time_s for c in costs), sum(c.compute_s * c.op.repeat for c in costs),
            sum(c.memory_s * c.op.repeat for c in costs))


def _speculative(verify: StepCost | TierStep, draft: StepCost | TierStep,
                 spec: Speculative) -> StepCost | TierStep:
    """One speculative decode step per yielded token: the verification and the draft steps, each
    scaled by its share of a token (per operator for an on-device step)."""
    per_token = 1.0 / spec.tokens_per_step
    time_s = (verify.time_s + spec.draft_length * draft.time_s) * per_token
    if isinstance(verify, TierStep):
        draft_busy = draft.busy_s()[0]
        return replace(verify, time_s=time_s,
                       device_busy_s=(verify.device_busy_s + spec.draft_length * draft_busy) * per_token)
    assert isinstance(draft, StepCost)
    scale = spec.draft_length * per_token
    costs = tuple(replace(c, time_s=c.time_s * per_token, compute_s=c.compute_s * per_token,
                          memory_s=c.memory_s * per_token) for c in verify.costs)
    costs += tuple(replace(c, time_s=c.time_s * scale, compute_s=c.compute_s * scale, memory_s=c.memory_s * scale)
                   for c in draft.costs)
    return StepCost(time_s, costs, verify.shape)
