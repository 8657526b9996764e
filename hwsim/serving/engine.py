"""One serving replica on simpy: iteration-level scheduling over a paged KV cache.

Each request is a `Seq` whose length L = prompt + generated. A step processes some of its
tokens not yet in the KV cache (a prefill chunk, or the one new token of a decode); when the
cache holds all L tokens the step yields the next token. Preemption by recompute drops the
cache (the tokens are processed again later); preemption by swap moves it to host memory
and back over the host link.

Runs of decode steps whose batch does not change are one simpy timeout: the segment ends at
the first finish, at the first step that would need a block the pool does not have, or early
when a new request arrives (then at the end of the step in flight). Cost is per scheduling
decision, not per token.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import simpy

from hwsim.perf import roofline
from hwsim.perf.energy import idle_w, step_energy_j
from hwsim.perf.steptimer import StepTimer
from hwsim.serving.kvcache import BlockPool, blocks_for
from hwsim.specs import shape
from hwsim.specs.scenario import EngineConfig

WATERMARK = 0.01  # share of blocks kept free when admitting, as vLLM does against thrashing


@dataclass(eq=False)
class Seq:
    request: int
    arrival_s: float
    prompt: int
    output: int
    generated: int = 0
    computed: int = 0  # tokens whose KV is in this replica's cache
    blocks: int = 0
    host_blocks: int = 0  # swapped out
    first_token_s: float | None = None
    completion_s: float | None = None
    preemptions: int = 0
    swaps: int = 0
    replica: int = -1
    done: simpy.Event | None = field(default=None, repr=False)

    @property
    def length(self) -> int:
        return self.prompt + self.generated

    @property
    def pending(self) -> int:
        return self.length - self.computed


class Replica:
    """A replica serving requests from its queue; `role` is both, prefill or decode."""

    def __init__(self, env: simpy.Environment, index: int, config: EngineConfig, timer: StepTimer,
                 total_blocks: int, block_bytes: float, host_link, role: str = "both", handoff=None,
                 copy_issue_s: float = 0.0, layers: int = 1, on_finish=None, tdp_w: float = 0.0,
                 devices: int = 1):
        self.env = env
        self.index = index
        self.config = config
        self.timer = timer
        self.pool = BlockPool(total_blocks)
        self.block_bytes = block_bytes
        self.host_link = host_link
        self.role = role
        self.handoff = handoff  # called with a Seq whose prefill is done (prefill role)
        self.copy_issue_s = copy_issue_s
        self.layers = layers
        self.on_finish = on_finish  # called once per finished request (progress reporting)
        self.tdp_w = tdp_w  # per device, for the power model
        self.devices = devices
        self.waiting: deque[Seq] = deque()
        self.swapped: deque[Seq] = deque()
        self.running: list[Seq] = []
        self.steps: list[dict] = []
        self.swap_free_bytes = config.swap_space_bytes
        self.swap_bytes_moved = 0.0
        self._wakeup = env.event()
        self.process = env.process(self._run())

    # --- interface ---------------------------------------------------------------------------
    def submit(self, seq: Seq) -> None:
        seq.replica = self.index
        self.waiting.append(seq)
        if not self._wakeup.triggered:
            self._wakeup.succeed()

    @property
    def outstanding_tokens(self) -> int:
        seqs = list(self.waiting) + list(self.swapped) + self.running
        return sum(s.pending + s.output - s.generated for s in seqs)

    # --- main loop ---------------------------------------------------------------------------
    def _run(self):
        while True:
            if not (self.waiting or self.running or self.swapped):
                self._wakeup = self.env.event()
                yield self._wakeup
                continue
            if self.config.batching == "static":
                yield from self._static_round()
                continue
            plan = self._schedule()
            if plan is None:  # nothing can run until something arrives
                self._wakeup = self.env.event()
                yield self._wakeup
                continue
            yield from self._execute(*plan)

    # --- continuous batching ------------------------------------------------------------------
    def _schedule(self):
        """This step's work [(seq, tokens)] with its KV blocks reserved, the seconds of KV swaps
        it waits for, and whether the same decode batch may repeat until something changes."""
        cfg = self.config
        transfer_s = 0.0
        size = cfg.block_size
        decodes = [s for s in self.running if s.pending == 1 and s.computed > 0]
        while True:  # room for every decode's new token: preempt the newest sequences until there is
            growing = [s for s in decodes if s.computed + 1 > s.blocks * size]
            if len(growing) <= self.pool.free or not self.running:
                break
            victim = self.running[-1]
            transfer_s += self._preempt(victim)
            decodes = [s for s in decodes if s is not victim]
        transfer_s += self._swap_in()
        if cfg.batching == "prefill_first" and self._admissible():
            work = self._admit(cfg.max_num_batched_tokens, whole_prompts=True)  # decodes wait a step
        else:
            self.pool.take(len(growing))
            for seq in growing:
                seq.blocks += 1
            work = [(s, 1) for s in decodes]
            budget = cfg.max_num_batched_tokens - len(work)
            if len(decodes) < len(self.running):
                decoding = set(map(id, decodes))
                for seq in [s for s in self.running if id(s) not in decoding]:  # prefills under way
                    chunk = self._chunk(seq, budget)
                    if chunk and self._reserve(seq, chunk):
                        work.append((seq, chunk))
                        budget -= chunk
            work += self._admit(budget, whole_prompts=cfg.batching != "mixed")
        if not work:
            return None
        decode_only = all(c == 1 and s.computed > 0 for s, c in work)
        repeatable = decode_only and not transfer_s and not self._admissible() and not self.swapped
        return work, transfer_s, repeatable

    def _admit(self, budget: int, whole_prompts: bool) -> list:
        """Admit waiting sequences in arrival order while the token budget, the sequence limit
        and the free blocks (less a watermark) allow; whole prompts when chunking is off."""
        work = []
        owed = self._owed()  # kept up to date below: one pass over the running sequences, not one per admission
        while budget > 0 and self._admissible(owed):
            seq = self.waiting[0]
            chunk = seq.pending if whole_prompts else min(seq.pending, budget)
            if chunk > budget and work:
                break
            held = blocks_for(seq.computed, self.config.block_size)  # KV handed over by a prefill pool
            self.waiting.popleft()
            self.pool.take(held)
            seq.blocks = held
            self.running.append(seq)
            self._reserve(seq, chunk)
            owed += max(0, blocks_for(self._target(seq), self.config.block_size) - seq.blocks)
            work.append((seq, chunk))
            budget -= chunk
        return work

    def _chunk(self, seq: Seq, budget: int) -> int:
        slots = (seq.blocks + self.pool.free) * self.config.block_size - seq.computed
        return max(0, min(seq.pending, budget, slots))

    def _reserve(self, seq: Seq, tokens: int) -> bool:
        need = blocks_for(seq.computed + tokens, self.config.block_size) - seq.blocks
        if need > self.pool.free:
            return False
        self.pool.take(need)
        seq.blocks += need
        return True

    def _watermark(self) -> int:
        return int(WATERMARK * self.pool.total)

    def _admissible(self, owed: int | None = None) -> bool:
        """Whether the first waiting sequence may start: a free slot, and free blocks (less a
        watermark and less what running sequences are still owed) for its whole prompt, or with
        `admission: full` for its whole length, prompt and output, which then never needs evicting."""
        if not self.waiting or len(self.running) >= self.config.max_num_seqs:
            return False
        seq = self.waiting[0]
        need = blocks_for(self._target(seq), self.config.block_size)
        return need + self._watermark() + (self._owed() if owed is None else owed) <= self.pool.free

    def _target(self, seq: Seq) -> int:
        return seq.prompt + seq.output if self.config.admission == "full" else seq.length

    def _owed(self) -> int:
        """Blocks running sequences will still take: the rest of their prompts (or their full length)."""
        size = self.config.block_size
        return sum(max(0, blocks_for(self._target(s), size) - s.blocks) for s in self.running)

    def _preempt(self, seq: Seq) -> float:
        """Take `seq` off the GPU; returns the seconds its swap-out adds to this step."""
        self.running.remove(seq)
        seq.preemptions += 1
        moved = seq.blocks * self.block_bytes
        if self.config.preemption == "swap" and self.host_link and moved <= self.swap_free_bytes:
            self.swap_free_bytes -= moved
            seq.host_blocks, seq.swaps = seq.blocks, seq.swaps + 1
            self.pool.give(seq.blocks)
            seq.blocks = 0
            self.swapped.appendleft(seq)
            self.swap_bytes_moved += moved
            return self._copy_s(moved)
        self.pool.give(seq.blocks)
        seq.blocks, seq.computed = 0, 0
        self.waiting.appendleft(seq)
        return 0.0

    def _swap_in(self) -> float:
        seconds = 0.0
        while self.swapped and len(self.running) < self.config.max_num_seqs:
            seq = self.swapped[0]
            if seq.host_blocks + self._watermark() > self.pool.free:
                break
            self.swapped.popleft()
            self.pool.take(seq.host_blocks)
            seq.blocks, moved = seq.host_blocks, seq.host_blocks * self.block_bytes
            self.swap_free_bytes += moved
            seq.host_blocks = 0
            self.running.append(seq)
            self.swap_bytes_moved += moved
            seconds += self._copy_s(moved)
        return seconds

    def _copy_s(self, moved: float) -> float:
        """KV blocks move one block of one layer's K or V at a time, as vLLM's cache engine does."""
        chunk = self.block_bytes / (2 * self.layers)
        return roofline.transfer_s(moved, self.host_link, chunk_bytes=chunk, issue_s=self.copy_issue_s)

    def _execute(self, work, transfer_s: float, repeatable: bool):
        start = self.env.now
        self._in_system_at_start = self._in_system()
        decodes = [s for s, c in work if c == 1 and s.computed > 0]
        chunks = [(s, c) for s, c in work if not (c == 1 and s.computed > 0)]
        steps = 1
        if repeatable:
            steps = self._decode_run_length(decodes)
        groups = tuple(shape.AttnGroup(1, c, s.computed + c) for s, c in chunks)
        if decodes:
            mean_kv = sum(s.computed for s in decodes) / len(decodes) + 1 + (steps - 1) / 2
            groups += (shape.AttnGroup(len(decodes), 1, mean_kv),)
        busy_s, compute_s, memory_s = self.timer.step(groups)
        step_s = busy_s + self.config.step_overhead_s
        duration = transfer_s + steps * step_s
        if steps > 1:
            self._wakeup = self.env.event()
            yield self.env.timeout(duration) | self._wakeup
            if self.env.now < start + duration:  # a request arrived: stop after the step in flight
                steps = min(steps, int((self.env.now - start) / step_s) + 1)
                duration = steps * step_s
                yield self.env.timeout(start + duration - self.env.now)
        else:
            yield self.env.timeout(duration)
        if steps > 1:
            for seq in decodes:  # the blocks for steps 2..k, known to be free when planned
                self._reserve(seq, steps)
        energy_j = self._energy_j(steps, busy_s, compute_s, memory_s, self.env.now - start - steps * busy_s)
        self._record(start, steps, len(decodes), sum(c for _, c in chunks), transfer_s, energy_j)
        end = self.env.now
        for seq, tokens in chunks:
            self._advance(seq, tokens, end, decode=False)
        for seq in decodes:
            self._advance(seq, steps, end, decode=True)

    def _decode_run_length(self, decodes: list[Seq]) -> int:
        """Steps until the first sequence finishes or the pool runs out of blocks."""
        limit = min(s.output - s.generated for s in decodes)
        if limit <= 1:
            return 1
        size = self.config.block_size
        free = self.pool.free

        def blocks_needed(k: int) -> int:  # beyond what the first step already reserved
            return sum(max(0, blocks_for(s.computed + k, size) - s.blocks) for s in decodes)

        if blocks_needed(limit) <= free:
            return limit
        low, high = 1, limit  # blocks_needed(low) fits, blocks_needed(high) does not
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if blocks_needed(mid) <= free else (low, mid)
        return low

    def _advance(self, seq: Seq, tokens: int, now: float, decode: bool) -> None:
        """Apply `tokens` processed tokens: a prefill chunk, or a run of decode steps."""
        seq.computed += tokens
        if decode:
            seq.generated += tokens  # each decode step processes one token and yields the next
        elif seq.computed < seq.length:
            return  # a prefill chunk with more to come
        else:
            seq.generated += 1
        if seq.first_token_s is None:
            seq.first_token_s = now
        if seq.generated >= seq.output:
            seq.generated = seq.output
            self._finish(seq, now)
        elif self.role == "prefill":
            self.running.remove(seq)
            self.pool.give(seq.blocks)
            seq.blocks = 0
            self.handoff(seq)

    def _finish(self, seq: Seq, now: float) -> None:
        seq.completion_s = now
        self.running.remove(seq)
        self._release(seq)

    def _release(self, seq: Seq) -> None:
        """A finished request gives back its blocks and tells whoever waits for it."""
        self.pool.give(seq.blocks)
        seq.blocks = 0
        if seq.done is not None:
            seq.done.succeed()
        if self.on_finish:
            self.on_finish()

    def _in_system(self) -> int:
        return len(self.running) + len(self.waiting) + len(self.swapped)

    def _energy_j(self, steps: int, busy_s: float, compute_s: float, memory_s: float, idle_s: float) -> float:
        """All devices of the replica: `steps` steps drawing step power, the rest of the time idle."""
        per_device = steps * step_energy_j(self.tdp_w, busy_s, compute_s, memory_s) + idle_w(self.tdp_w) * idle_s
        return per_device * self.devices

    def _record(self, start: float, steps: int, decode_seqs: int, prefill_tokens: int, transfer_s: float,
                energy_j: float) -> None:
        at_start = getattr(self, "_in_system_at_start", self._in_system())
        self._in_system_at_start = None
        self.steps.append({
            "replica": self.index, "start_s": start, "end_s": self.env.now, "steps": steps,
            "decode_seqs": decode_seqs, "prefill_tokens": prefill_tokens, "running": len(self.running),
            "waiting": len(self.waiting) + len(self.swapped), "kv_blocks_used": self.pool.used,
            "in_system_start": at_start if at_start is not None else self._in_system(),
            "in_system_end": self._in_system(),
            "kv_blocks_total": self.pool.total, "transfer_s": transfer_s, "energy_j": energy_j,
        })

    # --- static batching ----------------------------------------------------------------------
    def _static_round(self):
        """FasterTransformer/FlexGen style: fill a batch, prefill it, decode until all are done."""
        batch = []
        size = self.config.block_size
        while self.waiting and len(batch) < self.config.max_num_seqs:
            seq = self.waiting[0]
            need = blocks_for(seq.prompt + seq.output, size)  # reserved for the whole generation
            if need > self.pool.free:
                break
            self.waiting.popleft()
            self.pool.take(need)
            seq.blocks = need
            batch.append(seq)
        if not batch:
            raise RuntimeError("static batching: the first waiting request does not fit the KV cache")
        self.running = list(batch)
        start = self.env.now
        self._in_system_at_start = self._in_system()
        prefill_s, compute_s, memory_s = self.timer.step(tuple(shape.AttnGroup(1, s.prompt, s.prompt) for s in batch))
        yield self.env.timeout(prefill_s + self.config.step_overhead_s)
        self._record(start, 1, 0, sum(s.prompt for s in batch), 0.0,
                     self._energy_j(1, prefill_s, compute_s, memory_s, self.config.step_overhead_s))
        for seq in batch:
            seq.computed, seq.generated, seq.first_token_s = seq.prompt, 1, self.env.now
            if seq.output == 1:
                seq.completion_s = self.env.now
        longest = max(s.output for s in batch) - 1
        if longest > 0:  # every slot decodes until the longest is done (finished ones are padding)
            mean_prompt = sum(s.prompt for s in batch) / len(batch)
            busy_s, compute_s, memory_s = self.timer.step((shape.AttnGroup(len(batch), 1, mean_prompt + 1 + longest / 2),))
            step_s = busy_s + self.config.step_overhead_s
            start = self.env.now
            self._in_system_at_start = self._in_system()
            for seq in batch:
                if seq.output > 1:
                    seq.completion_s = start + (seq.output - 1) * step_s
                    seq.computed, seq.generated = seq.prompt + seq.output - 1, seq.output
            yield self.env.timeout(longest * step_s)
            self._record(start, longest, len(batch), 0, 0.0,
                         self._energy_j(longest, busy_s, compute_s, memory_s, longest * self.config.step_overhead_s))
        for seq in batch:
            self._release(seq)
        self.running = []
