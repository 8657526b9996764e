"""The serving engine's policies, one small object per name a scenario's `engine:` block may use.

`BATCHING` (engine.batching), `ADMISSION` (engine.admission), `PREEMPTION` (engine.preemption)
and `ROUTERS` (engine.router) map those names to what implements them, so the engine never
branches on them and a new policy is a class and one dict entry. The `Replica` keeps the queues and
the KV blocks; policies choose what goes in a step, what a sequence must be able to hold, where
preempted KV goes, and which replica a request joins.
"""
from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

import simpy

from hwsim.base.errors import HwsimError
from hwsim.serving.kvcache import blocks_for
from hwsim.specs import shape

if TYPE_CHECKING:
    from hwsim.serving.cohort import Cohort
    from hwsim.serving.engine import Replica, Seq

Process = Generator[simpy.Event, Any, None]  # a stretch of a simpy process: the events it waits for
Chunks = list[tuple["Seq", int]]  # sequences outside the decode cohort and how many of their tokens a step processes


class Work(NamedTuple):
    """What one step processes: one token of every decode cohort member (when `decodes`), and chunks
    of other sequences; a one-token chunk of a sequence whose prompt is cached is a decode too."""

    decodes: bool
    chunks: Chunks

Policy = TypeVar("Policy")


def choose(table: Mapping[str, Policy], name: str, setting: str) -> Policy:
    """The policy called `name`; an unknown name is an input error that names the setting."""
    if name not in table:
        raise HwsimError(f"unknown {setting} {name!r}; expected one of {', '.join(table)}")
    return table[name]


# --- batching: what one scheduling round of a replica runs ------------------------------------


class Batching(Protocol):
    def round(self, replica: Replica) -> Process:
        """Run one scheduling round on `replica`, which has work queued."""
        ...


class ContinuousBatching(ABC):
    """Iteration-level scheduling (Orca, vLLM): every step is planned afresh from the queues, so
    sequences join and leave the batch between steps. Subclasses say how a step is composed."""

    def round(self, replica: Replica) -> Process:
        """Make room for every decode's next token, bring swapped sequences back, compose the step
        and run it; with nothing to run, wait for the next arrival."""
        growing, transfer_s = _make_room_for_decodes(replica)
        transfer_s += replica.swap_in(reserved_blocks=growing)
        work = self.compose(replica)
        if not work.chunks and not (work.decodes and len(replica.cohort)):  # nothing can run until something arrives
            yield replica.next_arrival()
            return
        yield from replica.execute(work, transfer_s + replica.take_reload_s())

    @abstractmethod
    def compose(self, replica: Replica) -> Work:
        """This step's work with its KV blocks reserved: whether the decode cohort (the running
        sequences with one token to process) takes part, and [(sequence, tokens)] of the others."""


def _make_room_for_decodes(replica: Replica) -> tuple[int, float]:
    """Preempt the newest running sequences until every decode's new token has a block: returns how
    many decodes need a new block, and the seconds of swap-outs this costs."""
    transfer_s = 0.0
    replica.adopt_decodes()
    while replica.cohort.growing() > replica.pool.free and replica.running:
        transfer_s += replica.preempt(replica.running[-1])
    return replica.cohort.growing(), transfer_s


class MixedBatching(ContinuousBatching):
    """vLLM's chunked prefill: every decode's next token first, then the prefills under way, then
    new prompts, cut into chunks to fill the step's token budget."""

    def compose(self, replica: Replica) -> Work:
        return _decodes_then_prefills(replica, whole_prompts=False)


class InflightBatching(ContinuousBatching):
    """TensorRT-LLM's in-flight batching without chunked context: every decode's next token, then
    whole new prompts while they fit what is left of the token budget; a prompt that does not fit
    waits for a step with room (it runs alone only when the budget could never hold it)."""

    def compose(self, replica: Replica) -> Work:
        return _decodes_then_prefills(replica, whole_prompts=True, fitting_only=True)


class PrefillFirstBatching(ContinuousBatching):
    """vLLM without chunked prefill: whenever a waiting prompt can start, the step is whole new
    prompts only and the decodes wait a step; otherwise decodes, then whole prompts."""

    def compose(self, replica: Replica) -> Work:
        if replica.admissible():
            return Work(False, replica.admit(replica.config.max_num_batched_tokens, whole_prompts=True))
        return _decodes_then_prefills(replica, whole_prompts=True)


def _decodes_then_prefills(replica: Replica, whole_prompts: bool, fitting_only: bool = False) -> Work:
    """Decodes take one token each of the step's token budget; prefills share what is left (with
    `fitting_only`, a whole prompt joins only if it fits, unless the step would otherwise be empty
    and the prompt is larger than the whole budget)."""
    replica.pool.take(replica.cohort.reserve_growth())  # the blocks `_make_room_for_decodes` made room for
    decodes = len(replica.cohort)
    budget = replica.config.max_num_batched_tokens - decodes
    prefills = _continue_prefills(replica, budget)
    budget -= sum(tokens for _, tokens in prefills)
    if fitting_only and (decodes or prefills):
        return Work(True, prefills + replica.admit(budget, whole_prompts, fitting_only=True))
    return Work(True, prefills + replica.admit(budget, whole_prompts))


def _continue_prefills(replica: Replica, budget: int) -> Chunks:
    """The next chunk of each prefill under way, in order, while the budget and free blocks allow."""
    work: Chunks = []
    for seq in list(replica.partial):
        chunk = replica.chunk(seq, budget)
        if chunk and replica.reserve(seq, chunk):
            work.append((seq, chunk))
            budget -= chunk
    return work


class StaticBatching:
    """FasterTransformer/FlexGen style: fill a batch, prefill it, decode until all are done.

    Each sequence holds the blocks of its whole generation from the start, so nothing is ever
    preempted; a finished sequence's slot is padding until the longest is done."""

    def round(self, replica: Replica) -> Process:
        batch = _fill_batch(replica)
        replica.running = list(batch)
        yield from _prefill_batch(replica, batch)
        yield from _decode_batch(replica, batch)
        for seq in batch:
            replica.release(seq)
        replica.running = []


def _fill_batch(replica: Replica) -> list[Seq]:
    """Waiting sequences in arrival order while a slot and the blocks for prompt + output are free."""
    batch: list[Seq] = []
    size = replica.config.block_size
    while replica.waiting and len(batch) < replica.config.max_num_seqs:
        seq = replica.waiting[0]
        need = blocks_for(seq.prompt + seq.output, size)  # reserved for the whole generation
        if need > replica.pool.free:
            break
        replica.waiting.popleft()
        seq.leave_queue(replica.env.now)
        replica.pool.take(need)
        seq.blocks = need
        batch.append(seq)
    if not batch:
        raise RuntimeError("static batching: the first waiting request does not fit the KV cache")
    return batch


def _prefill_batch(replica: Replica, batch: list[Seq]) -> Process:
    """One step over every prompt of the batch; each yields its first token."""
    env, overhead_s = replica.env, replica.config.step_overhead_s
    start, in_system_start = env.now, replica.in_system()
    busy = replica.timer.step(tuple(shape.AttnGroup(1, s.prompt, s.prompt) for s in batch))
    yield env.timeout(busy[0] + overhead_s)
    replica.record(start, in_system_start, 1, 0, sum(s.prompt for s in batch), 0.0,
                   replica.energy_j([busy], overhead_s))
    for seq in batch:
        seq.computed, seq.generated, seq.first_token_s = seq.prompt, 1, env.now
        replica.first_tokens += 1
        seq.prefill_s, seq.host_s = seq.prefill_s + busy[0], seq.host_s + overhead_s
        seq.ttft_parts = (seq.queue_s, seq.prefill_s, seq.host_s, seq.preempted_s)
        if seq.output == 1:
            seq.completion_s = env.now


def _decode_batch(replica: Replica, batch: list[Seq]) -> Process:
    """Every slot decodes until the longest output is done (finished ones are padding): one run of
    identical steps at the batch's mean context halfway through."""
    longest = max(s.output for s in batch) - 1
    if longest <= 0:
        return
    env, overhead_s = replica.env, replica.config.step_overhead_s
    mean_prompt = sum(s.prompt for s in batch) / len(batch)
    busy = replica.timer.step((replica.decode_group(len(batch), mean_prompt + 1 + longest / 2),))
    step_s = busy[0] + overhead_s
    start, in_system_start = env.now, replica.in_system()
    for seq in batch:
        if seq.output > 1:
            seq.completion_s = start + (seq.output - 1) * step_s
            seq.decode_s += (seq.output - 1) * busy[0]
            seq.host_s += (seq.output - 1) * overhead_s
            seq.computed, seq.generated = seq.prompt + seq.output - 1, seq.output
    yield env.timeout(longest * step_s)
    replica.record(start, in_system_start, longest, len(batch), 0, 0.0,
                   replica.energy_j([busy] * longest, longest * overhead_s))


BATCHING: dict[str, Batching] = {
    "mixed": MixedBatching(),
    "inflight": InflightBatching(),
    "prefill_first": PrefillFirstBatching(),
    "static": StaticBatching(),
}


# --- admission: how much KV a sequence must be able to get before it starts -------------------


class Admission(Protocol):
    def target_tokens(self, seq: Seq) -> int:
        """Tokens whose blocks `seq` needs free to start, and is still owed while it runs."""
        ...

    def owed_blocks(self, seqs: list[Seq], block_size: int) -> int:
        """Blocks `seqs` are still owed towards their targets: `target_tokens` summed in one tight
        pass (-(-a // b) is ceil(a / b) in integers)."""
        ...

    def cohort_owed(self, cohort: Cohort) -> int:
        """Blocks the decode cohort's members are still owed towards their targets, from its counters."""
        ...


class PromptAdmission:
    """vLLM: a sequence starts when its whole prompt fits; its decodes take blocks as they go,
    which may later force a preemption."""

    def target_tokens(self, seq: Seq) -> int:
        return seq.length

    def owed_blocks(self, seqs: list[Seq], block_size: int) -> int:
        return sum(max(0, -(-(s.prompt + s.generated) // block_size) - s.blocks) for s in seqs)

    def cohort_owed(self, cohort: Cohort) -> int:
        return cohort.growing()  # a decoding sequence is owed only the block of its next token


class FullAdmission:
    """TensorRT-LLM's guaranteed-no-evict: a sequence starts when its prompt and its whole output
    fit, so it never needs evicting."""

    def target_tokens(self, seq: Seq) -> int:
        return seq.prompt + seq.output

    def owed_blocks(self, seqs: list[Seq], block_size: int) -> int:
        return sum(max(0, -(-(s.prompt + s.output) // block_size) - s.blocks) for s in seqs)

    def cohort_owed(self, cohort: Cohort) -> int:
        return cohort.full_blocks - cohort.blocks


ADMISSION: dict[str, Admission] = {
    "prompt": PromptAdmission(),
    "full": FullAdmission(),
}


# --- preemption: where a preempted sequence's KV cache goes -----------------------------------


class Preemption(Protocol):
    def swaps_out(self, replica: Replica, kv_bytes: float) -> bool:
        """Whether `kv_bytes` of a preempted sequence's KV move to host memory (True) or are dropped
        and recomputed when the sequence resumes (False)."""
        ...


class RecomputePreemption:
    """vLLM's default: drop the KV cache; the sequence's tokens are processed again later."""

    def swaps_out(self, replica: Replica, kv_bytes: float) -> bool:
        return False


class SwapPreemption:
    """Keep the KV cache in host memory while the replica has a host link and swap space left;
    otherwise fall back to recompute."""

    def swaps_out(self, replica: Replica, kv_bytes: float) -> bool:
        return replica.setup.host_link is not None and replica.swap_space.holds(kv_bytes)


PREEMPTION: dict[str, Preemption] = {
    "recompute": RecomputePreemption(),
    "swap": SwapPreemption(),
}


# --- routing: which replica of a pool an arriving request joins -------------------------------


class Router(ABC):
    """Sends each request to one replica of a pool. Routers keep state (whose turn it is), so
    `ROUTERS` holds their classes and each pool gets its own."""

    def __init__(self, replicas: list[Replica]):
        if not replicas:
            raise HwsimError("a router needs at least one replica")
        self.replicas = replicas

    def route(self, seq: Seq) -> None:
        self.pick(seq).submit(seq)

    @abstractmethod
    def pick(self, seq: Seq | None = None) -> Replica:
        """The replica the next request (`seq`, when the router looks at it) goes to."""


class RoundRobin(Router):
    """Each replica in turn, whatever its load."""

    def __init__(self, replicas: list[Replica]):
        super().__init__(replicas)
        self._turns = itertools.cycle(replicas)

    def pick(self, seq: Seq | None = None) -> Replica:
        return next(self._turns)


class LeastOutstanding(Router):
    """The replica with the fewest tokens still to process, ties to the lowest index."""

    def pick(self, seq: Seq | None = None) -> Replica:
        return min(self.replicas, key=lambda r: (r.outstanding_tokens, r.index))


class PrefixAffinity(Router):
    """The replica whose prefix cache holds the most of the request's prompt (SGLang's cache-aware
    router, Dynamo's KV router), ties to the fewest outstanding tokens, then the lowest index;
    without prefix caching, least outstanding."""

    def pick(self, seq: Seq | None = None) -> Replica:
        def cached(replica: Replica) -> int:
            return replica.cached_prompt_blocks(seq) if seq is not None else 0

        return min(self.replicas, key=lambda r: (-cached(r), r.outstanding_tokens, r.index))


ROUTERS: dict[str, type[Router]] = {
    "round_robin": RoundRobin,
    "least_outstanding": LeastOutstanding,
    "prefix_affinity": PrefixAffinity,
}
