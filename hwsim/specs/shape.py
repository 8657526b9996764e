"""The shape of one forward step: groups of sequences, each with its new tokens per sequence
(`q_len`) and the context they attend to (`kv_len`, new tokens included)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

Count = int | float  # tokens or sequences of a step: whole, unless a data-parallel share splits sequences


class AttnGroup(NamedTuple):
    """Sequences that share a query length and a context (a named tuple: the serving engine makes
    a few at every step, and a tuple is made faster than a frozen dataclass)."""

    sequences: float  # a data-parallel device's share may be a fraction
    q_len: int
    kv_len: float  # a decode group of many sequences carries their mean context


@dataclass(frozen=True)
class StepShape:
    groups: tuple[AttnGroup, ...]

    @staticmethod
    def prefill(batch: int, prompt_len: int) -> StepShape:
        return StepShape((AttnGroup(batch, prompt_len, prompt_len),))

    @staticmethod
    def decode(batch: int, context_len: int) -> StepShape:
        """One new token per sequence; `context_len` positions were cached before it."""
        return StepShape((AttnGroup(batch, 1, context_len + 1),))

    @property
    def tokens(self) -> float:
        return size(self.groups)[0]

    @property
    def sequences(self) -> float:
        return size(self.groups)[1]

    def share(self, devices: int) -> StepShape:
        """One of `devices` data-parallel devices' part: its share of every group's sequences."""
        return StepShape(tuple(AttnGroup(g.sequences / devices, g.q_len, g.kv_len) for g in self.groups))

    @property
    def is_decode_only(self) -> bool:
        return all(g.q_len == 1 for g in self.groups)


def size(groups: tuple[AttnGroup, ...]) -> tuple[Count, Count]:
    """The tokens and the sequences of a step over `groups`, in one pass (the serving engine asks at
    every step it prices)."""
    tokens: Count = 0
    sequences: Count = 0
    for g in groups:
        tokens += g.sequences * g.q_len
        sequences += g.sequences
    return tokens, sequences
