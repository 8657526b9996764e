"""Step times for the serving engine, fast enough to call once per scheduling decision.

With CUDA-graph launch a step's time is the sum of its operators' times. Everything but
attention depends only on how many tokens and sequences the step carries, so that part is
memoized by (tokens, sequences); attention depends on every sequence's context and is one
operator evaluated directly. The sum equals `step.step_cost` for the same shape.
"""
from __future__ import annotations

import functools

from hwsim.loading import catalog
from hwsim.perf import roofline
from hwsim.perf.ops import model_attention_op
from hwsim.perf.step import step_cost
from hwsim.specs.deployment import ExpertSetup, Implementation, Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.shape import AttnGroup, StepShape


class StepTimer:
    def __init__(self, model: Model, system: System, precision: Precision, implementation: Implementation,
                 experts: ExpertSetup | None = None, techniques=None):
        self.model = model
        self.system = system
        self.precision = precision
        self.implementation = implementation
        self.experts = experts
        self.techniques = techniques
        self._draft = None
        self.tp = max(1, system.accelerator_count)
        self.device = system.compute
        self._dense = functools.lru_cache(maxsize=65536)(self._dense_uncached)

    def step_s(self, groups: tuple[AttnGroup, ...]) -> float:
        """Time of one step over these groups (decodes are groups with q_len 1)."""
        return self.step(groups)[0]

    def step(self, groups: tuple[AttnGroup, ...]) -> tuple[float, float, float]:
        """(time, compute busy time, memory busy time) of one step; busy times drive the power model.

        With speculative decoding a decode-only step is `draft_length` draft steps plus one
        verification of draft_length + 1 tokens per sequence, divided by the tokens it yields on
        average, so the engine's one-token steps carry the right time per token."""
        spec = self.techniques.speculative if self.techniques else None
        if spec and all(g.q_len == 1 for g in groups):
            target = self._plain_step(spec.verify_groups(groups))
            draft = self.draft().step(groups)
            per_token = 1.0 / spec.tokens_per_step
            return tuple((t + spec.draft_length * d) * per_token for t, d in zip(target, draft))
        return self._plain_step(groups)

    def draft(self) -> StepTimer:
        if self._draft is None:

            self._draft = StepTimer(catalog.model(self.techniques.speculative.draft_model), self.system,
                                    self.precision, self.implementation)
        return self._draft

    def _plain_step(self, groups: tuple[AttnGroup, ...]) -> tuple[float, float, float]:
        tokens = sum(g.sequences * g.q_len for g in groups)
        sequences = sum(g.sequences for g in groups)
        shape, tp = StepShape(groups), self.tp
        if self.experts is not None and self.experts.attention_dp and tp > 1 and self.model.moe is not None:
            shape, tp = shape.share(tp), 1
        op = model_attention_op(self.model, shape, self.precision, tp)
        if self.techniques is not None:
            op = self.techniques.transform([op], shape)[0]
        attention = roofline.op_cost(op, self.device)
        if self.techniques is not None:
            attention = self.techniques.apply(attention)
        dense_s, dense_compute_s, dense_memory_s = self._dense(tokens, sequences)
        layers = attention.op.repeat
        return (dense_s + attention.time_s, dense_compute_s + attention.compute_s * layers,
                dense_memory_s + attention.memory_s * layers)

    def _dense_uncached(self, tokens: int, sequences: int) -> float:
        if tokens > sequences:
            shape = StepShape((AttnGroup(1, tokens - sequences + 1, tokens - sequences + 1),)
                              + ((AttnGroup(sequences - 1, 1, 1),) if sequences > 1 else ()))
        else:
            shape = StepShape((AttnGroup(sequences, 1, 1),))
        cost = step_cost(self.model, self.system, shape, self.precision, "graph", self.implementation,
                         experts=self.experts, techniques=self.techniques)
        dense = [c for c in cost.costs if c.op.kind != "attention"]
        return (sum(c.time_s for c in dense), sum(c.compute_s * c.op.repeat for c in dense),
                sum(c.memory_s * c.op.repeat for c in dense))
