"""The decoding sequences of a replica, kept as one cohort so that a step costs O(1) Python, not O(batch).

Every running sequence whose prompt is cached and that has one token left to process decodes in
every step the replica takes with decodes in it. Between joining the cohort and leaving it, a
member's cached tokens, generated tokens and time in steps therefore grow by exactly what every
other member's grow by. The cohort keeps those shared amounts (a step counter, the device and host
seconds of its steps so far) and each member's own values as it joined; they are written back to the
member's `Seq` when it leaves. What the engine needs every step comes from
counters kept as members come and go:

- the sum of the members' contexts: the sum of (cached tokens - step counter) at joining, plus
  members x step counter;
- how many members need a new KV block in a step: a member's cached tokens reach a multiple of the
  block size every `block_size` steps at a phase fixed when it joins, so members are counted per
  phase, and a block boundary costs a lookup;
- the next member to finish or to produce its first token: a finish falls on a step number fixed
  when the member joins, so a heap keeps them in order (members in running order on a tie, as the
  engine would visit them).

A member's blocks are always those its cached tokens fill (plus the block of the step's token once
`reserve_growth` has taken them), so they too are written back, not tracked.
"""
from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING, NamedTuple

from hwsim.serving.kvcache import blocks_for

if TYPE_CHECKING:
    from hwsim.serving.engine import Seq


class _Joined(NamedTuple):
    """A member's values as it joined: the step counter, its cached and generated tokens, the
    cohort's device and host seconds so far, and the entry that keeps its place in the finish heap."""

    step: int
    computed: int
    generated: int
    device_s: float
    host_s: float
    entry: int


class Cohort:
    """The decode cohort of one replica: members decode together, one token each per step."""

    def __init__(self, block_size: int):
        self.block_size = block_size
        self.step = 0  # decode steps the cohort has taken
        self.device_s = 0.0  # device seconds of those steps (a run counts once, as a member's record does)
        self.host_s = 0.0
        self.grown = False  # this step's new blocks are reserved (members hold the block of their next token)
        self.blocks = 0  # blocks the members hold
        self.full_blocks = 0  # blocks the members' whole lengths (prompt and output) fill
        self._members: dict[Seq, _Joined] = {}
        self._phase = [0] * block_size  # members per phase: they need a new block when step % size == phase
        self._context_offset = 0  # sum of (computed - step) at joining
        self._generated_offset = 0  # sum of (generated - step) at joining
        self._output = 0  # sum of the members' output tokens
        self._awaiting_first: dict[Seq, None] = {}  # members whose next token is their first
        self._finishes: list[tuple[int, int, int, Seq]] = []  # (finish step, turn, entry, member)
        self._entries = itertools.count()

    # --- membership ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, seq: Seq) -> bool:
        return seq in self._members

    def join(self, seq: Seq) -> None:
        """`seq`, running with one token to process and holding the blocks of its cached tokens,
        decodes with the cohort from the next step on."""
        size = self.block_size
        if self.grown or seq.blocks != blocks_for(seq.computed, size) or seq.prompt + seq.generated - seq.computed != 1:
            raise RuntimeError(f"request {seq.request} cannot join the decode cohort: {seq.computed} cached tokens, "
                               f"{seq.blocks} blocks, {seq.generated} generated")
        entry = next(self._entries)
        self._members[seq] = _Joined(self.step, seq.computed, seq.generated, self.device_s, self.host_s, entry)
        self._phase[(self.step - seq.computed) % size] += 1
        self._context_offset += seq.computed - self.step
        self._generated_offset += seq.generated - self.step
        self._output += seq.output
        self.blocks += seq.blocks
        self.full_blocks += blocks_for(seq.prompt + seq.output, size)
        heapq.heappush(self._finishes, (self.step + seq.output - seq.generated, seq.turn, entry, seq))
        if seq.first_token_s is None:
            self._awaiting_first[seq] = None

    def leave(self, seq: Seq) -> None:
        """`seq` stops decoding with the cohort: its own numbers are written back."""
        joined = self._members.pop(seq)
        size = self.block_size
        self._phase[(joined.step - joined.computed) % size] -= 1
        self._context_offset -= joined.computed - joined.step
        self._generated_offset -= joined.generated - joined.step
        self._output -= seq.output
        self.full_blocks -= blocks_for(seq.prompt + seq.output, size)
        self._awaiting_first.pop(seq, None)
        steps = self.step - joined.step
        seq.computed = joined.computed + steps
        seq.generated = joined.generated + steps
        seq.blocks = blocks_for(seq.computed + self.grown, size)
        self.blocks -= seq.blocks
        seq.decode_s += self.device_s - joined.device_s
        seq.host_s += self.host_s - joined.host_s

    # --- what a step needs --------------------------------------------------------------------
    def context_sum(self) -> int:
        """The members' cached tokens, summed."""
        return self._context_offset + len(self._members) * self.step

    def outstanding_tokens(self) -> int:
        """Tokens the members still process and generate: one each to process, and their outputs' rest."""
        members = len(self._members)
        return members + self._output - (self._generated_offset + members * self.step)

    def growing(self) -> int:
        """Members whose token in this step needs a new block not yet reserved."""
        return 0 if self.grown else self.new_blocks(0)

    def reserve_growth(self) -> int:
        """The members take the blocks of this step's tokens; returns how many."""
        count = self.growing()
        self.grown = bool(self._members)
        self.blocks += count
        return count

    def run_blocks(self, steps: int) -> int:
        """Blocks the members' tokens of a run's steps 2..`steps` need beyond the first step's."""
        cycles, rest = divmod(steps - 1, self.block_size)
        return cycles * len(self._members) + sum(self.new_blocks_each(rest + 1)[1:])

    def new_blocks(self, step: int) -> int:
        """Members that need a new block in a run's step `step` (0: the step about to run)."""
        return self._phase[(self.step + step) % self.block_size]

    def new_blocks_each(self, steps: int) -> list[int]:
        """`new_blocks(step)` of each of a run's `steps` steps, the phase counts read in one cycle."""
        start = self.step % self.block_size
        cycle = self._phase[start:] + self._phase[:start]
        return (cycle * (steps // self.block_size + 1))[:steps]

    def reserve_run(self, steps: int) -> int:
        """The members take the blocks of a run's later steps; returns how many."""
        count = self.run_blocks(steps)
        self.blocks += count
        return count

    def steps_to_first_finish(self) -> int | None:
        """Steps until the first member has generated its whole output (None: no members)."""
        finishes = self._finishes
        while finishes and self._members.get(finishes[0][3], _GONE).entry != finishes[0][2]:
            heapq.heappop(finishes)  # a member that left since
        return finishes[0][0] - self.step if finishes else None

    def take_special(self, steps: int) -> list[Seq]:
        """The members whose next `steps` steps end in a finish or a first token, out of the cohort
        (written back as of now) in running order, for the engine to apply one by one."""
        ahead = self.steps_to_first_finish()
        if not self._awaiting_first and (ahead is None or ahead > steps):
            return []  # the common step: nobody finishes, nobody's first token
        special = dict(self._awaiting_first)
        while ahead is not None and ahead <= steps:
            special[heapq.heappop(self._finishes)[3]] = None
            ahead = self.steps_to_first_finish()
        ordered = sorted(special, key=lambda seq: seq.turn)
        for seq in ordered:
            self.leave(seq)
        return ordered

    def advance(self, steps: int, device_s: float, host_s: float) -> None:
        """The members decoded `steps` steps taking `device_s` and `host_s` each (a run's total)."""
        self.step += steps
        self.device_s += device_s
        self.host_s += host_s
        self.grown = False


_GONE = _Joined(-1, 0, 0, 0.0, 0.0, -1)  # what a member that left looks up
