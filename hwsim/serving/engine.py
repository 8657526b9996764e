"""One serving replica on simpy: iteration-level scheduling over a paged KV cache.

Each request is a `Seq` whose length L = prompt + generated. A step processes some of its
tokens not yet in the KV cache (a prefill chunk, or the one new token of a decode); when the
cache holds all L tokens the step yields the next token. Preemption by recompute drops the
cache (the tokens are processed again later); preemption by swap moves it to host memory
and back over the host link.

Sequences that are decoding form one `Cohort` (hwsim.serving.cohort): they advance together, so
a step's bookkeeping costs the same whatever the batch size, and each member's numbers are
written back when it leaves (finishes, is preempted, or produces its first token).

Runs of decode steps whose batch does not change are one simpy timeout: the segment ends at
the first finish, at the first step that would need a block the pool does not have, or early
when a new request arrives (then at the end of the step in flight). Each step of a run is priced
at its own context length, so a run ends, costs and records exactly what the same steps planned
one by one would (`engine.coalesce: false`); the cost saved is the scheduling round per step.

How a step is composed, when a sequence may start, where preempted KV goes and which replica a
request joins are the policies of `hwsim.serving.policies`; this module keeps the queues and the
KV blocks.
"""
from __future__ import annotations

import bisect
import itertools
import operator
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from hwsim.base.errors import HwsimError
from hwsim.perf import roofline
from hwsim.perf.energy import idle_w, steps_energy_j
from hwsim.perf.step_model import Busy, RunTimer, StepTimer
from hwsim.serving import policies
from hwsim.serving.cohort import Cohort
from hwsim.serving.kvcache import BlockPool, SwapSpace, blocks_for, longest_run_that_fits
from hwsim.serving.policies import Chunks, Work
from hwsim.serving.prefix_cache import CachedBlockPool, block_keys
from hwsim.serving.records import StepLog
from hwsim.specs import shape
from hwsim.specs.hardware import Link
from hwsim.specs.scenario import EngineConfig

PRICED_AHEAD = 4  # steps of a run priced before it starts; each further stretch twice as long
WATERMARK = 0.01  # share of blocks kept free when admitting, as vLLM does against thrashing
ROLES = ("both", "prefill", "decode")
# tokens of one layer that KV offloading moves per copy: LMCache's default chunk size ("LMCACHE_CHUNK_SIZE=256 -
# Token chunk size for cache granularity (default: 256)", NVIDIA Dynamo docs, LMCache Integration)
RELOAD_CHUNK_TOKENS = 256


@dataclass(eq=False, slots=True)
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
    turn: int = 0  # its place in its replica's running order: later arrivals in the batch have larger turns
    done: simpy.Event | None = field(default=None, repr=False)
    # where its time goes (seconds; with the API overhead and the rest, stalled, they sum to its
    # end-to-end latency): queued before it first ran, in steps prefilling or decoding it, the host
    # overhead of those steps, and preempted until it ran again
    submitted_s: float | None = None  # when it first reached a scheduler
    waiting_since_s: float = 0.0  # when it last joined a queue
    queue_s: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    host_s: float = 0.0
    preempted_s: float = 0.0
    ttft_parts: tuple[float, float, float, float] | None = None  # queue, prefill, host, preempted at its first token
    _returns: int = 0  # preemptions it has come back from
    # prefix caching: what the request's tokens are (segments of (identity, tokens); None: a prompt
    # nobody else has), the prompt tokens its first admission found cached, the cached blocks it holds
    # and how many of its blocks have been offered to the cache
    segments: tuple | None = field(default=None, repr=False)
    output_segment: Any = field(default=None, repr=False)  # its answer's identity, when a later prompt repeats it
    cached_tokens: int = 0
    shared_keys: list = field(default_factory=list, repr=False)
    cache_upto: int = 0
    _keys: list | None = field(default=None, repr=False)

    @property
    def length(self) -> int:
        return self.prompt + self.generated

    def leave_queue(self, now: float) -> None:
        """It starts running: the time since it joined a queue was queueing, or preempted when it
        was preempted last (it counts preemptions, not returns, so a later queue is told apart)."""
        if self.preemptions > self._returns:
            self._returns = self.preemptions
            self.preempted_s += now - self.waiting_since_s
        else:
            self.queue_s += now - self.waiting_since_s

    @property
    def pending(self) -> int:
        return self.length - self.computed


def _decodes_and_chunks(chunks: Chunks) -> tuple[list[Seq], Chunks]:
    """The chunks that are decodes (the one new token of a sequence whose prompt is cached, not yet a
    cohort member), and the prefill chunks with their tokens, each in the order of `chunks`."""
    decodes: list[Seq] = []
    prefills: Chunks = []
    for seq, tokens in chunks:
        if tokens == 1 and seq.computed > 0:
            decodes.append(seq)
        else:
            prefills.append((seq, tokens))
    return decodes, prefills


@dataclass(frozen=True)
class ReplicaSetup:
    """What every replica of a scenario shares: the engine settings, the step model, the KV cache's
    size and block bytes, the host link for swaps, and the devices' power."""

    config: EngineConfig
    timer: StepTimer
    total_blocks: int
    block_bytes: float  # one KV block on one device
    host_link: Link | None = None  # where swapped-out KV goes; None: preemption always recomputes
    copy_issue_s: float = 0.0  # host time to issue one KV block copy (eager)
    layers: int = 1  # KV copies go one layer's K or V block at a time
    tdp_w: float = 0.0  # per device, for the power model
    devices: int = 1  # per replica (tensor parallel)
    on_finish: Callable[[Seq], None] | None = None  # called once per finished request (its record, progress)
    on_first_token: Callable[[Seq], None] | None = None  # called once per request as its first token is out
    eager_timer: StepTimer | None = None  # the same deployment launched op by op, for uncaptured steps
    kv_offload_blocks: tuple[int, ...] = ()  # blocks kept below the device for prefix hits: host, then drives
    disk_read_s: Callable[[float], float] | None = None  # seconds to read so many bytes from the drives
    keep_steps: bool = True  # keep each step's row (the step table), not only the totals a summary needs

    def __post_init__(self) -> None:
        for name, ok, expected in (("total_blocks", self.total_blocks >= 1, "at least 1"),
                                   ("block_bytes", self.block_bytes > 0, "greater than zero"),
                                   ("copy_issue_s", self.copy_issue_s >= 0, "zero or more"),
                                   ("layers", self.layers >= 1, "at least 1"),
                                   ("tdp_w", self.tdp_w >= 0, "zero or more"),
                                   ("devices", self.devices >= 1, "at least 1")):
            if not ok:
                raise HwsimError(f"replica setup: {name} must be {expected}; got {getattr(self, name)}")
        self.policies()  # an unknown name fails here, before anything runs

    def policies(self) -> tuple[policies.Batching, policies.Admission, policies.Preemption]:
        """The policies `config` names: batching, admission, preemption."""
        config = self.config
        return (policies.choose(policies.BATCHING, config.batching, "engine.batching"),
                policies.choose(policies.ADMISSION, config.admission, "engine.admission"),
                policies.choose(policies.PREEMPTION, config.preemption, "engine.preemption"))


class Replica:
    """A replica serving requests from its queue; `role` is both, prefill or decode. A prefill
    replica passes each sequence whose prompt is done to `handoff`."""

    def __init__(self, env: simpy.Environment, index: int, setup: ReplicaSetup, *, role: str = "both",
                 handoff: Callable[[Seq], None] | None = None):
        if role not in ROLES:
            raise HwsimError(f"replica role must be one of {', '.join(ROLES)}; got {role!r}")
        if role == "prefill" and handoff is None:
            raise HwsimError("a prefill replica needs a handoff for the sequences it has prefilled")
        self.env = env
        self.index = index
        self.setup = setup
        self.config = setup.config
        self.timer = setup.timer
        self.caching = self.config.prefix_caching
        self.pool = (CachedBlockPool(setup.total_blocks, setup.kv_offload_blocks) if self.caching
                     else BlockPool(setup.total_blocks))
        self._reload_s = 0.0  # cached blocks brought back from below the device for this step
        self.reloads = [0] * len(setup.kv_offload_blocks)  # blocks brought back, per tier
        self.swap_space = SwapSpace(self.config.swap_space_bytes)
        self.role = role
        self.handoff = handoff
        self.batching, self.admission, self.preemption = setup.policies()
        self.waiting: deque[Seq] = deque()
        self.swapped: deque[Seq] = deque()
        self.running: list[Seq] = []  # in the order they started running: the cohort's members and `partial`
        self.cohort = Cohort(self.config.block_size)
        self.partial: list[Seq] = []  # running sequences outside the cohort (prefilling), in running order
        self._turns = itertools.count()
        self.steps = StepLog(setup.keep_steps)
        self.first_tokens = 0  # requests whose first token this replica produced
        self._wakeup = env.event()
        self._run: tuple[float, list[float], int] | None = None  # the decode run in flight: start, step ends, decodes
        self.process = env.process(self._rounds())

    # --- interface ---------------------------------------------------------------------------
    def submit(self, seq: Seq) -> None:
        seq.replica = self.index
        if seq.submitted_s is None:
            seq.submitted_s = self.env.now
        seq.waiting_since_s = self.env.now
        self.waiting.append(seq)
        if not self._wakeup.triggered:
            self._wakeup.succeed()

    @property
    def outstanding_tokens(self) -> int:
        """Tokens still to process and generate, as of now (decodes of a run in flight count the
        steps they have finished)."""
        seqs = itertools.chain(self.waiting, self.swapped, self.partial)
        return (sum(s.pending + s.output - s.generated for s in seqs) + self.cohort.outstanding_tokens()
                - self._run_tokens_done())

    def in_system(self) -> int:
        return len(self.running) + len(self.waiting) + len(self.swapped)

    def next_arrival(self) -> simpy.Event:
        """An event that fires when the next request is submitted."""
        self._wakeup = self.env.event()
        return self._wakeup

    # --- main loop ---------------------------------------------------------------------------
    def _rounds(self) -> policies.Process:
        """Scheduling rounds of the batching policy, asleep whenever the replica has nothing queued."""
        while True:
            if self.in_system():
                yield from self.batching.round(self)
            else:
                yield self.next_arrival()

    # --- admission and KV blocks -------------------------------------------------------------
    def admit(self, budget: int, whole_prompts: bool, fitting_only: bool = False) -> Chunks:
        """Admit waiting sequences in arrival order while the token budget, the sequence limit
        and the free blocks (less a watermark) allow; whole prompts when chunking is off. A whole
        prompt over the budget starts only as the step's first work, unless `fitting_only`."""
        work: Chunks = []
        if not self.waiting:
            return work
        owed = self._owed()  # kept up to date below: one pass over the running sequences, not one per admission
        while budget > 0 and self.admissible(owed):
            seq = self.waiting[0]
            if self.caching:
                self._reuse_cached(seq)
            chunk = seq.pending if whole_prompts else min(seq.pending, budget)
            if chunk > budget and (work or fitting_only):
                break
            self._start(seq, chunk)
            owed += self._blocks_owed(seq)
            work.append((seq, chunk))
            budget -= chunk
        return work

    def _start(self, seq: Seq, chunk: int) -> None:
        """Move the first waiting sequence to running, holding the KV a prefill pool handed over
        and the blocks of its first chunk."""
        held = blocks_for(seq.computed, self.config.block_size) - seq.blocks  # cached blocks are held already
        self.waiting.popleft()
        seq.leave_queue(self.env.now)
        self.pool.take(held)
        seq.blocks += held
        self._run_next(seq)
        self.reserve(seq, chunk)

    def _run_next(self, seq: Seq) -> None:
        """`seq` joins the running sequences, last in their order, outside the cohort until it decodes."""
        seq.turn = next(self._turns)
        self.running.append(seq)
        self.partial.append(seq)

    def _stop_running(self, seq: Seq) -> None:
        """`seq` is no longer running here (finished, preempted or handed off); written back first if
        it was decoding with the cohort."""
        self.running.remove(seq)
        if seq in self.cohort:
            self.cohort.leave(seq)
        elif seq in self.partial:
            self.partial.remove(seq)

    def adopt_decodes(self) -> None:
        """Running sequences outside the cohort that now have one token to process (a prompt down to
        its last token, a sequence swapped back in that got no step yet) decode with it."""
        for seq in [s for s in self.partial if s.computed > 0 and s.pending == 1]:
            self.partial.remove(seq)
            self.cohort.join(seq)

    def chunk(self, seq: Seq, budget: int) -> int:
        """The most of `seq`'s pending tokens the budget and the free blocks allow."""
        slots = (seq.blocks + self.pool.free) * self.config.block_size - seq.computed
        return max(0, min(seq.pending, budget, slots))

    def reserve(self, seq: Seq, tokens: int) -> bool:
        """Take the blocks for `tokens` more tokens of `seq`, if the pool has them."""
        need = blocks_for(seq.computed + tokens, self.config.block_size) - seq.blocks
        if need > self.pool.free:
            return False
        self.pool.take(need)
        seq.blocks += need
        return True

    def _watermark(self) -> int:
        return int(WATERMARK * self.pool.total)

    def admissible(self, owed: int | None = None) -> bool:
        """Whether the first waiting sequence may start: a free slot, and free blocks (less a
        watermark and less what running sequences are still owed) for its whole prompt, or with
        `admission: full` for its whole length, prompt and output, which then never needs evicting."""
        if not self.waiting or len(self.running) >= self.config.max_num_seqs:
            return False
        seq = self.waiting[0]
        need = blocks_for(self.admission.target_tokens(seq), self.config.block_size) - seq.blocks
        return need + self._watermark() + (self._owed() if owed is None else owed) <= self.pool.free

    def _owed(self) -> int:
        """Blocks running sequences will still take: the rest of their prompts (or their full length)."""
        admission = self.admission
        return admission.owed_blocks(self.partial, self.config.block_size) + admission.cohort_owed(self.cohort)

    def _blocks_owed(self, seq: Seq) -> int:
        return max(0, blocks_for(self.admission.target_tokens(seq), self.config.block_size) - seq.blocks)

    # --- prefix caching -----------------------------------------------------------------------
    def _keys(self, seq: Seq) -> list[int]:
        """The identities of the full blocks of `seq`'s prompt and output (computed once)."""
        if seq._keys is None:
            segments = seq.segments or ((("prompt", seq.request), seq.prompt),)
            size = self.config.block_size
            answer = seq.output_segment or ("output", seq.request)
            seq._keys = block_keys(tuple(segments) + ((answer, seq.output),),
                                   (seq.prompt + seq.output) // size, size)
        return seq._keys

    def _reusable_keys(self, seq: Seq, tokens: int) -> list[int]:
        """The identities of the full blocks of `seq`'s first `tokens` tokens that a cache hit may
        cover: all but its last token is always computed, as vLLM does."""
        return self._keys(seq)[:(tokens - 1) // self.config.block_size]

    def cached_prompt_blocks(self, seq: Seq) -> int:
        """How many blocks of `seq`'s prompt this replica's cache holds now (0 without caching)."""
        if not self.caching:
            return 0
        return self.pool.cached_prefix(self._reusable_keys(seq, seq.prompt))  # type: ignore[attr-defined]

    def _reuse_cached(self, seq: Seq) -> None:
        """A sequence about to start holds the cached blocks its prompt begins with and skips their
        prefill; at least its last prompt token is always computed, as vLLM does."""
        if seq.computed or seq.blocks:
            return
        keys = self._reusable_keys(seq, seq.length)
        found = self.pool.cached_prefix(keys)  # type: ignore[attr-defined]
        if not found and not self.pool.lower_prefix(keys[:1]):  # type: ignore[attr-defined]
            return
        self.pool.hold(keys[:found])  # type: ignore[attr-defined]
        seq.shared_keys, seq.blocks = list(keys[:found]), found
        found += self._bring_back(seq, keys[found:])
        seq.cache_upto = found
        seq.computed = found * self.config.block_size
        if seq.first_token_s is None and not seq.preemptions:
            seq.cached_tokens = seq.computed

    def _bring_back(self, seq: Seq, keys: list[int]) -> int:
        """The blocks that continue `seq`'s prompt from below the device come back to it, their
        copies added to this step's wait; returns how many."""
        tiers = self.pool.lower_prefix(keys)  # type: ignore[attr-defined]
        if not tiers:
            return 0
        back = keys[:len(tiers)]
        self.pool.bring_back(back)  # type: ignore[attr-defined]
        self.pool.take(len(back))
        seq.shared_keys += self.pool.cache(back)  # type: ignore[attr-defined]
        seq.blocks += len(back)
        for tier in range(len(self.reloads)):
            count = tiers.count(tier)
            self.reloads[tier] += count
            moved_bytes = count * self.setup.block_bytes
            if count and tier > 0 and self.setup.disk_read_s is not None:  # from the drives, then over the link
                self._reload_s += self.setup.disk_read_s(moved_bytes * self.setup.devices)
            if count:
                self._reload_s += self._reload_copy_s(moved_bytes)
        return len(back)

    def _reload_copy_s(self, moved_bytes: float) -> float:
        """Cached blocks come back from host memory in chunks of `RELOAD_CHUNK_TOKENS` tokens of one
        layer, as LMCache moves them (not block by block, as a swap does)."""
        setup = self.setup
        assert setup.host_link is not None, "KV offload needs a host link"
        chunk_bytes = setup.block_bytes * RELOAD_CHUNK_TOKENS / (self.config.block_size * setup.layers)
        return roofline.transfer_s(moved_bytes, setup.host_link, chunk_bytes=chunk_bytes, issue_s=setup.copy_issue_s)

    def take_reload_s(self) -> float:
        """Seconds of copies bringing cached blocks back that the coming step waits for."""
        seconds, self._reload_s = self._reload_s, 0.0
        return seconds

    def _offer_to_cache(self, seq: Seq) -> None:
        """`seq`'s full blocks not yet offered become cached (those another sequence cached first
        stay its own)."""
        full = min(seq.computed // self.config.block_size, len(self._keys(seq)))
        if full > seq.cache_upto:
            seq.shared_keys += self.pool.cache(self._keys(seq)[seq.cache_upto:full])  # type: ignore[attr-defined]
            seq.cache_upto = full

    def _drop_blocks(self, seq: Seq) -> None:
        """`seq` holds no blocks any more: its own go back to the pool, its cached ones lose a holder."""
        if seq.shared_keys:
            self.pool.release(seq.shared_keys)  # type: ignore[attr-defined]
        self.pool.give(seq.blocks - len(seq.shared_keys))
        seq.blocks, seq.shared_keys, seq.cache_upto = 0, [], 0

    # --- preemption and swapping --------------------------------------------------------------
    def preempt(self, seq: Seq) -> float:
        """Take `seq` off the GPU; returns the seconds its swap-out adds to this step."""
        self._stop_running(seq)
        seq.preemptions += 1
        seq.waiting_since_s = self.env.now
        moved_bytes = seq.blocks * self.setup.block_bytes
        if self.preemption.swaps_out(self, moved_bytes):
            return self._swap_out(seq, moved_bytes)
        self._drop_blocks(seq)
        seq.computed = 0
        self.waiting.appendleft(seq)
        return 0.0

    def _swap_out(self, seq: Seq, moved_bytes: float) -> float:
        self.swap_space.swap_out(moved_bytes)
        seq.host_blocks, seq.swaps = seq.blocks, seq.swaps + 1
        self._drop_blocks(seq)
        self.swapped.appendleft(seq)
        return self._copy_s(moved_bytes)

    def swap_in(self, reserved_blocks: int = 0) -> float:
        """Bring swapped sequences back, oldest first, while slots and blocks allow, leaving
        `reserved_blocks` free (the blocks this step's decodes grow into); returns the seconds of
        copies this step waits for."""
        seconds = 0.0
        while self.swapped and len(self.running) < self.config.max_num_seqs:
            seq = self.swapped[0]
            if seq.host_blocks + self._watermark() + reserved_blocks > self.pool.free:
                break
            self.swapped.popleft()
            seq.leave_queue(self.env.now)
            self.pool.take(seq.host_blocks)
            seq.blocks, moved_bytes = seq.host_blocks, seq.host_blocks * self.setup.block_bytes
            self.swap_space.swap_in(moved_bytes)
            seq.host_blocks = 0
            self._run_next(seq)
            seconds += self._copy_s(moved_bytes)
        return seconds

    def _copy_s(self, moved_bytes: float) -> float:
        """KV blocks move one block of one layer's K or V at a time, as vLLM's cache engine does."""
        setup = self.setup
        if setup.host_link is None:
            raise RuntimeError("KV blocks cannot move to host memory without a host link")
        chunk_bytes = setup.block_bytes / (2 * setup.layers)
        return roofline.transfer_s(moved_bytes, setup.host_link, chunk_bytes=chunk_bytes, issue_s=setup.copy_issue_s)

    # --- running a step -----------------------------------------------------------------------
    def execute(self, work: Work, transfer_s: float) -> policies.Process:
        """Run `work` as one step, or as a run of identical decode steps when nothing is waiting to
        change the batch, then apply the tokens it processed."""
        start, in_system_start = self.env.now, self.in_system()
        extras, chunks = _decodes_and_chunks(work.chunks)  # decodes outside the cohort, and prefill chunks
        members = len(self.cohort) if work.decodes else 0
        decodes = members + len(extras)
        context_sum = (self.cohort.context_sum() if members else 0) + (sum(s.computed for s in extras) if extras else 0)
        prefill_tokens = sum(c for _, c in chunks) if chunks else 0
        repeatable = self.config.coalesce and not chunks and self._repeatable(transfer_s)
        planned = self._decode_run_length(members, extras) if repeatable else 1
        busy: list[Busy] = []
        ends_s: list[float] = []
        timer, padding = self._launch(bool(chunks), decodes + prefill_tokens)
        prompts_done = sum(1 for s, c in chunks if s.computed + c >= s.length) if chunks else 0  # first tokens out
        host_s = self.config.host_overhead_s(members + len(work.chunks), prefill_tokens, decodes + prompts_done)

        run: RunTimer | None = None

        def price(more: int) -> None:
            """Price the run's next `more` steps, each at its own context."""
            nonlocal run
            start_step, count = len(busy), min(planned, len(busy) + more) - len(busy)
            if count <= 0:
                return
            if decodes and not chunks:  # a run: one decode group whose context grows a token a step
                if run is None:
                    run = timer.decode_run(self._groups(chunks, decodes, context_sum) + padding)
                busy.extend(run.busy(start_step, count))
            else:
                busy.append(timer.step(self._groups(chunks, decodes, context_sum) + padding))
            for step_busy in busy[start_step:]:
                ends_s.append((ends_s[-1] if ends_s else transfer_s) + step_busy[0] + host_s)

        self._run = (start, ends_s, decodes)
        steps = yield from self._wait_steps(start, ends_s, planned, price)
        self._run = None
        blocks_used = self._blocks_used_per_step(members, extras, steps)
        special = self.cohort.take_special(steps) if members else []  # members to finish or give a first token
        if steps > 1:  # the blocks for steps 2..k, known to be free when planned
            self.pool.take(self.cohort.reserve_run(steps) if members else 0)
            for seq in special + extras:
                self.reserve(seq, steps)
        if steps == 1:
            busy_s, mean_blocks = busy[0][0], blocks_used[0]
        else:
            busy_s = sum(map(operator.itemgetter(0), busy[:steps]))
            durations_s = list(map(operator.sub, ends_s[:steps], [0.0] + ends_s[:steps - 1]))
            mean_blocks = _time_weighted(blocks_used, durations_s)
        energy_j = self.energy_j(busy[:steps], self.env.now - start - busy_s)
        self.record(start, in_system_start, steps, decodes, prefill_tokens, transfer_s, energy_j,
                    (mean_blocks, max(blocks_used)))
        device_s, step_host_s = self.env.now - start - steps * host_s, steps * host_s
        if members:
            self.cohort.advance(steps, device_s, step_host_s)
        self._apply(chunks, special, extras, steps, device_s, step_host_s)

    def _launch(self, prefills: bool, size: int) -> tuple[StepTimer, tuple[shape.AttnGroup, ...]]:
        """The step model a step of `size` tokens (with `prefills` chunks or not) runs on and the
        padding it carries: a captured step (decode-only, or any with `graph_steps: all`) replays the
        CUDA graph of the next captured size, its padding slots one token over one cached position; a
        step of no captured size launches as the engine's `uncaptured` says."""
        config = self.config
        captured = config.graph_size(size) if config.graph_steps == "all" or not prefills else None
        padding: tuple[shape.AttnGroup, ...] = ()
        if captured is not None and captured > size:
            padding = (shape.AttnGroup(captured - size, 1, 1),)
        eager = captured is None and self.config.uncaptured == "eager" and self.setup.eager_timer is not None
        return (self.setup.eager_timer if eager else self.timer), padding  # type: ignore[return-value]

    def _blocks_used_per_step(self, members: int, extras: list[Seq], steps: int) -> list[float]:
        """The pool's blocks in use during each step of a run: step 1's are held now, each later
        step adds the blocks its decodes grow into."""
        if steps == 1:
            return [float(self.pool.used)]
        size = self.config.block_size
        new_blocks = self.cohort.new_blocks_each(steps) if members else [0] * steps
        new_blocks[0] = 0  # held already
        for seq in extras:  # a sequence of c cached tokens needs a block c % size steps before each boundary
            for step in range(size - seq.computed % size, steps, size):
                new_blocks[step] += 1
        return list(map(float, itertools.accumulate(new_blocks, initial=self.pool.used)))[1:]

    def _repeatable(self, transfer_s: float) -> bool:
        """Whether a step of decodes only may repeat until something changes: no copies to wait for,
        and nobody waiting to join."""
        return not transfer_s and not self.swapped and not self.admissible()

    def _groups(self, chunks: Chunks, decodes: int, context_sum: int) -> tuple[shape.AttnGroup, ...]:
        """The attention shape of a step (a run's first): one group per prefill chunk, one for all
        `decodes` at their mean context (`context_sum` their cached tokens)."""
        groups = tuple(shape.AttnGroup(1, c, s.computed + c) for s, c in chunks)
        if decodes:
            groups += (self.decode_group(decodes, context_sum / decodes + 1),)
        return groups

    @staticmethod
    def decode_group(sequences: int, mean_kv_len: float) -> shape.AttnGroup:
        """Decodes of many sequences as one group at their mean context, which is fractional."""
        return shape.AttnGroup(sequences, 1, mean_kv_len)

    def _wait_steps(self, start: float, ends_s: list[float], planned: int,
                    price: Callable[[int], None]) -> Generator[simpy.Event, Any, int]:
        """Wait out the step or the run of `planned` steps, whose ends after `start` `price(n)`
        appends to `ends_s` n steps at a time (a run cut short is priced little further than it
        ran); a run stops after the step in flight when a request arrives. Returns the steps run."""
        price(1)
        if planned <= 1:
            yield self.env.timeout(ends_s[0])
            return 1
        self._wakeup = self.env.event()
        more = PRICED_AHEAD
        while True:
            price(more)
            more *= 2
            stretch = self.env.timeout(start + ends_s[-1] - self.env.now)
            yield self._first_of(stretch, self._wakeup)
            if not stretch.processed:  # a request arrived: stop after the step in flight
                steps = min(bisect.bisect_left(ends_s, self.env.now - start) + 1, len(ends_s))
                yield self.env.timeout(max(0.0, start + ends_s[steps - 1] - self.env.now))
                return steps
            if len(ends_s) == planned:
                return planned

    def _first_of(self, stretch: simpy.Event, arrival: simpy.Event) -> simpy.Event:
        """An event triggered when the first of `stretch` and `arrival` is processed: `stretch | arrival`
        without the value simpy builds for a condition (which this engine never reads; a decode run
        waits for one at every stretch)."""
        either = self.env.event()

        def wake(_: simpy.Event) -> None:
            if not either.triggered:
                either.succeed()

        for event in (stretch, arrival):
            if event.processed:
                wake(event)
            else:
                event.callbacks.append(wake)
        return either

    def _run_tokens_done(self) -> int:
        """Tokens the run in flight has finished by now, one per decode per finished step (the
        sequences' records catch up when the run ends): what a router sees of a run mid-way."""
        if self._run is None:
            return 0
        start, ends_s, decodes = self._run
        return decodes * bisect.bisect_right(ends_s, self.env.now - start)

    def _decode_run_length(self, members: int, extras: list[Seq]) -> int:
        """Steps until the first sequence finishes or the pool runs out of blocks."""
        limits = [s.output - s.generated for s in extras]
        first_finish = self.cohort.steps_to_first_finish() if members else None
        limit = min(limits + ([first_finish] if first_finish is not None else []))
        if limit <= 1:
            return 1
        size = self.config.block_size

        def needed(steps: int) -> int:  # blocks of steps 2..`steps`, beyond those the first step holds
            cohort = self.cohort.run_blocks(steps) if members else 0
            return cohort + sum(max(0, blocks_for(s.computed + steps, size) - s.blocks) for s in extras)

        return longest_run_that_fits(needed, limit, self.pool.free)

    def _apply(self, chunks: Chunks, special: list[Seq], extras: list[Seq], steps: int, device_s: float,
               host_s: float) -> None:
        """The step's prefill chunks, then its decodes outside the cohort (the members `special` that
        finish or produce their first token, then the `extras` that are not members yet), processed as
        of now; each sequence's time in the step (or run) counted as `device_s` of prefill or decode and
        `host_s` of host overhead. Special members still running rejoin the cohort; the others with one
        token to process join it as the next round begins (`adopt_decodes`)."""
        end = self.env.now
        for seq, tokens in chunks:
            seq.prefill_s += device_s
            seq.host_s += host_s
            self._advance(seq, tokens, end, decode=False)
        for seq in special + extras:
            seq.decode_s += device_s
            seq.host_s += host_s
            self._advance(seq, steps, end, decode=True)
        for seq in special:
            if seq.completion_s is None and self.role != "prefill":  # neither finished nor handed off
                self.cohort.join(seq)

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
            self.first_tokens += 1
            seq.ttft_parts = (seq.queue_s, seq.prefill_s, seq.host_s, seq.preempted_s)
            if self.setup.on_first_token:
                self.setup.on_first_token(seq)
        if self.caching and not decode:
            self._offer_to_cache(seq)  # a prompt's blocks are found by the requests that come after
        if seq.generated >= seq.output:
            seq.generated = seq.output
            seq.completion_s = now
            self._stop_running(seq)
            self.release(seq)
        elif self.role == "prefill":
            self._hand_off(seq)

    def _hand_off(self, seq: Seq) -> None:
        """A prefill replica is done with a sequence once its first token is out."""
        self._stop_running(seq)
        self._drop_blocks(seq)
        if self.handoff is not None:
            self.handoff(seq)

    def release(self, seq: Seq) -> None:
        """A finished request gives back its blocks (its full ones stay cached, with prefix caching)
        and tells whoever waits for it."""
        if self.caching:
            self._offer_to_cache(seq)
        self._drop_blocks(seq)
        if seq.done is not None:
            seq.done.succeed()
        if self.setup.on_finish:
            self.setup.on_finish(seq)

    # --- records ------------------------------------------------------------------------------
    def energy_j(self, busy: list[Busy], idle_s: float) -> float:
        """All devices of the replica: each step drawing its power, the rest of the time idle."""
        tdp_w = self.setup.tdp_w
        per_device = steps_energy_j(tdp_w, busy) + idle_w(tdp_w) * idle_s
        return per_device * self.setup.devices

    def record(self, start: float, in_system_start: int, steps: int, decode_seqs: int, prefill_tokens: int,
               transfer_s: float, energy_j: float, blocks_used: tuple[float, float] | None = None) -> None:
        """One row of the steps table for a scheduling decision that ends now; a run's blocks in use
        are its steps' mean weighted by their durations, and their peak."""
        mean_blocks, peak_blocks = blocks_used or (self.pool.used, self.pool.used)
        self.steps.add((self.index, start, self.env.now, steps, decode_seqs, prefill_tokens, len(self.running),
                        len(self.waiting) + len(self.swapped), mean_blocks, peak_blocks, in_system_start,
                        self.in_system(), self.pool.total, transfer_s, energy_j,
                        len(self.pool.references) if self.caching else 0))  # type: ignore[attr-defined]


def _time_weighted(values: list[float], durations_s: list[float]) -> float:
    """The mean of `values` weighted by `durations_s` (the first value when no time passed)."""
    total_s = sum(durations_s)
    if total_s <= 0:
        return values[0]
    return sum(map(operator.mul, values, durations_s)) / total_s
