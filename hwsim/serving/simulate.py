"""Run a scenario: arrivals, a router, replicas (optionally split into prefill and decode pools)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import simpy

from hwsim.base.errors import HwsimError
from hwsim.perf import cost, offload, roofline
from hwsim.perf.estimate import device_tdp_w
from hwsim.perf.step_model import step_model_for
from hwsim.serving import bench_metrics, metrics, policies
from hwsim.serving.engine import Replica, ReplicaSetup, Seq
from hwsim.serving.kvcache import block_bytes, blocks_for, capacity_blocks
from hwsim.serving.policies import Process, Router
from hwsim.serving.records import LATENCY_PARTS, TTFT_PARTS, RequestLog, StepTotals, step_frame
from hwsim.specs.hardware import Link
from hwsim.specs.placement import check_tiers
from hwsim.specs.scenario import Scenario, check
from hwsim.specs.workload import Workload

__all__ = ["LATENCY_PARTS", "TTFT_PARTS", "SimulationResult", "SimulationStopped", "simulate"]


@dataclass(frozen=True)
class SimulationResult:
    scenario: Scenario
    requests: pd.DataFrame  # one row per request
    steps: pd.DataFrame | None  # one row per scheduling decision (a step, or a run of identical decode steps)
    summary: dict
    kv_blocks_total: int
    kv_blocks_free_at_end: int
    step_totals: StepTotals = field(default_factory=StepTotals)  # what the summary took of the steps, table or not


class SimulationStopped(Exception):
    """`simulate`'s `stop` ended the run early: its reason, the simulated time it stopped at and the
    requests that had their first token and had finished by then (their numbers are partial, so no
    summary comes with it)."""

    def __init__(self, reason: str, at_s: float, first_tokens: int, finished: int, requests: int):
        super().__init__(reason)
        self.reason, self.at_s = reason, at_s
        self.first_tokens, self.finished, self.requests = first_tokens, finished, requests


Stop = Callable[[Seq], str | None]  # asked of each request at its first token and at its end


def simulate(scenario: Scenario, requests: pd.DataFrame | None = None,
             progress: Callable[[int, int], None] | None = None, stop: Stop | None = None,
             keep_steps: bool = True) -> SimulationResult:
    """Simulate `scenario` (its workload's requests unless `requests` is given).

    `progress(done, total)` is called as requests finish, at most about a hundred times. `stop(seq)`
    is asked as each request gets its first token (its `completion_s` still None) and again as it
    finishes; the first reason it returns ends the run there, raising `SimulationStopped`. Without
    `keep_steps` the result has no step table (`steps` is None), only the totals its summary needs:
    a long run then holds a few hundred bytes per request."""
    check(scenario)
    scenario, table = _with_techniques(scenario, scenario.workload.requests() if requests is None else requests)
    if table.empty:
        raise HwsimError("the workload has no requests")
    engine = scenario.engine
    check_tiers(scenario.placement, scenario.system)
    timer = step_model_for(scenario.deployment)  # shared with earlier runs of the same deployment
    total_blocks = _kv_cache_blocks(scenario, table)
    env = simpy.Environment()
    stopped = env.event()
    log = RequestLog()
    setup = ReplicaSetup(
        config=engine, timer=timer, total_blocks=total_blocks,
        block_bytes=block_bytes(scenario.model, scenario.precision, engine.block_size, scenario.tp),
        host_link=scenario.system.host_link,
        copy_issue_s=scenario.system.compute.performance.eager_copy_dispatch_s,
        layers=scenario.model.num_layers, tdp_w=device_tdp_w(scenario.system), devices=scenario.tp,
        on_finish=_recorder(log, len(table), progress), keep_steps=keep_steps,
        on_first_token=_stop_watch(env, stop, stopped) if stop else None,
        eager_timer=step_model_for(replace(scenario.deployment, launch="eager")) if engine.uncaptured == "eager"
        else None,
        **_kv_offload(scenario))
    replicas, router = _replicas(env, scenario, setup)
    _start_traffic(env, scenario, router, table)
    if stop is None:
        env.run()
    else:
        _run_until(env, stopped, replicas, log, len(table))
    return _result(scenario, log, len(table), replicas, total_blocks)


def _with_techniques(scenario: Scenario, table: pd.DataFrame) -> tuple[Scenario, pd.DataFrame]:
    """The what-if techniques that change the inputs: prompts they shorten, the precision they run at."""
    techniques = scenario.techniques
    if techniques.prompt_kept != 1.0:
        table = table.assign(prompt_tokens=[techniques.prompt_tokens(int(p)) for p in table["prompt_tokens"]])
    if not techniques.is_identity:
        scenario = replace(scenario, precision=techniques.precision(scenario.precision))
    return scenario, table


def _kv_offload(scenario: Scenario) -> dict:
    """Blocks kept below the device for prefix hits (host DRAM, then drives: every device's share of
    a block) and how long reading from the drives takes; nothing when no tier is configured."""
    engine = scenario.engine
    if not (engine.kv_offload_host_bytes or engine.kv_offload_disk_bytes):
        return {}
    whole_block_bytes = block_bytes(scenario.model, scenario.precision, engine.block_size, scenario.tp) * scenario.tp
    tiers = tuple(int(tier_bytes // whole_block_bytes)
                  for tier_bytes in (engine.kv_offload_host_bytes, engine.kv_offload_disk_bytes))
    system = scenario.system
    return {"kv_offload_blocks": tiers,
            "disk_read_s": (lambda moved: offload.disk_read_s(system, moved)) if system.storage else None}


def _kv_cache_blocks(scenario: Scenario, table: pd.DataFrame) -> int:
    """KV blocks of one replica; fails up front when the longest request could never run."""
    engine = scenario.engine
    total_blocks = capacity_blocks(scenario.model, scenario.system, scenario.precision, engine.block_size,
                                   engine.gpu_memory_utilization, engine.max_num_batched_tokens,
                                   engine.max_num_seqs, scenario.placement,
                                   bool(scenario.experts and scenario.experts.attention_dp))
    longest = int((table["prompt_tokens"] + table["output_tokens"]).max())
    if blocks_for(longest, engine.block_size) > total_blocks:
        raise HwsimError(f"workload: a request of {longest} tokens needs {blocks_for(longest, engine.block_size)} "
                         f"KV blocks; the cache holds {total_blocks} blocks of {engine.block_size} tokens")
    if longest > scenario.model.max_positions:
        raise HwsimError(f"workload: a request of {longest} tokens exceeds the {scenario.model.max_positions}-token "
                         f"context of {scenario.model.id}")
    return total_blocks


def _stop_watch(env: simpy.Environment, stop: Stop, stopped: simpy.Event) -> Callable[[Seq], None]:
    """The first-token callback that asks `stop` about each request now and again when it finishes
    (through its `done` event, which the engine succeeds then), and triggers `stopped` with the first
    reason. It only reads the requests, so a run it never stops is the run without it."""
    def ask(seq: Seq) -> None:
        if not stopped.triggered:
            reason = stop(seq)
            if reason:
                stopped.succeed(reason)

    def on_first_token(seq: Seq) -> None:
        ask(seq)
        if seq.done is None:  # open-loop arrivals have none; closed-loop users wait on theirs
            seq.done = env.event()
        seq.done.callbacks.append(lambda _: ask(seq))

    return on_first_token


def _run_until(env: simpy.Environment, stopped: simpy.Event, replicas: list[Replica], log: RequestLog,
               requests: int) -> None:
    """Run to the end, or raise `SimulationStopped` as soon as `stopped` triggers (simpy's
    `run(until=event)` would fail on a run that ends without it)."""
    step = env.step
    try:
        while not stopped.triggered:
            step()
    except simpy.core.EmptySchedule:
        return
    raise SimulationStopped(str(stopped.value), env.now, sum(r.first_tokens for r in replicas), log.count, requests)


def _recorder(log: RequestLog, total: int, progress: Callable[[int, int], None] | None) -> Callable[[Seq], None]:
    """A callback for each finished request that keeps its record and reports to `progress` about a
    hundred times a run."""
    report_every = max(1, total // 100)

    def on_finish(seq: Seq) -> None:
        log.add(seq)
        if progress and (log.count % report_every == 0 or log.count == total):
            progress(log.count, total)

    return on_finish


def _replicas(env: simpy.Environment, scenario: Scenario, setup: ReplicaSetup) -> tuple[list[Replica], Router]:
    """Every replica, and the router arrivals go to. Disaggregated, arrivals go to the prefill pool,
    which hands each prefilled sequence's KV over `link` to the decode pool's own router."""
    router = policies.choose(policies.ROUTERS, scenario.engine.router, "engine.router")
    dis = scenario.disaggregation
    if dis is None:
        replicas = [Replica(env, i, setup) for i in range(scenario.replicas)]
        return replicas, router(replicas)
    decode_pool = [Replica(env, dis.prefill_replicas + i, setup, role="decode") for i in range(dis.decode_replicas)]
    decode_router = router(decode_pool)
    kv_per_token_all_devices = scenario.model.kv_bytes_per_token(scenario.precision.kv_bytes)
    link = dis.link

    def handoff(seq: Seq) -> None:
        env.process(_transfer(env, seq, seq.computed * kv_per_token_all_devices, link, decode_router))

    prefill_pool = [Replica(env, i, setup, role="prefill", handoff=handoff) for i in range(dis.prefill_replicas)]
    return prefill_pool + decode_pool, router(prefill_pool)


def _sequences(table: pd.DataFrame, order: np.ndarray | None = None) -> Iterator[Seq]:
    """One sequence per request row, in the table's order or in `order` (row positions), made as
    they are asked for, a chunk of rows at a time (with its prompt's segments, when the workload says
    which prompts share what)."""
    columns = [table[name].to_numpy() for name in ("request", "arrival_s", "prompt_tokens", "output_tokens")]
    segments = table["segments"].to_numpy() if "segments" in table.columns else None
    answers = table["output_segment"].to_numpy() if "output_segment" in table.columns else None
    positions = np.arange(len(table)) if order is None else order
    for start in range(0, len(positions), SEQUENCE_CHUNK):
        rows = positions[start:start + SEQUENCE_CHUNK]
        chunk = zip(*(column[rows].tolist() for column in columns), strict=True)
        for row, (request, arrival_s, prompt, output) in zip(rows.tolist(), chunk, strict=True):
            seq = Seq(int(request), float(arrival_s), int(prompt), int(output))
            if segments is not None:
                seq.segments = segments[row]
            if answers is not None:
                seq.output_segment = answers[row]
            yield seq


SEQUENCE_CHUNK = 4096  # request rows turned into Python values at a time


def _start_traffic(env: simpy.Environment, scenario: Scenario, router: Router, table: pd.DataFrame) -> None:
    """Open-loop arrivals at their times, closed-loop users that each wait for their last answer, or
    conversations whose turns each wait for the previous answer."""
    overhead_s = scenario.engine.request_overhead_s
    sessions = scenario.workload.sessions
    if sessions is not None:
        conversations: dict[int, list[Seq]] = {}
        for seq, session in zip(_sequences(table), table["session"], strict=True):
            conversations.setdefault(int(session), []).append(seq)
        for turns in conversations.values():
            env.process(_conversation(env, turns, router, overhead_s, sessions.think_time_s))
    elif scenario.workload.arrival == "closed_loop":
        queue = _sequences(table)
        for _ in range(min(scenario.workload.concurrency, len(table))):
            env.process(_user(env, queue, router, overhead_s))
    else:
        in_time_order = np.lexsort((table["request"].to_numpy(), table["arrival_s"].to_numpy()))
        env.process(_arrivals(env, _sequences(table, in_time_order), router, overhead_s))


def _result(scenario: Scenario, log: RequestLog, requests: int, replicas: list[Replica],
            total_blocks: int) -> SimulationResult:
    """The request and step tables, their summary and cost; every request must have finished."""
    if log.count < requests:
        raise RuntimeError(f"{requests - log.count} requests never finished")
    request_frame = log.frame()
    request_frame["warmup"] = request_frame["request"] < scenario.workload.warmup
    step_totals = sum((r.steps.totals for r in replicas), StepTotals())
    summary = run_summary(scenario, request_frame, step_totals, ReplicaTotals.of(replicas))
    return SimulationResult(scenario, request_frame, step_frame([r.steps for r in replicas]), summary,
                            total_blocks * len(replicas), sum(r.pool.free for r in replicas), step_totals)


@dataclass(frozen=True)
class ReplicaTotals:
    """What a run's summary needs of its replicas beyond the request and step tables: counters added
    up over the replicas, so that runs of parts of a fleet can be summarized as one run."""

    replicas: int
    swap_bytes: float  # KV moved to and from host memory by swaps
    prefix_cache_evictions: int = 0
    reloaded_blocks: tuple[int, ...] = ()  # cached blocks brought back from below the device, per tier

    @classmethod
    def of(cls, replicas: list[Replica]) -> ReplicaTotals:
        tiers = len(replicas[0].reloads) if replicas else 0
        return cls(len(replicas), sum(r.swap_space.moved_bytes for r in replicas),
                   sum(getattr(r.pool, "evictions", 0) for r in replicas),
                   tuple(sum(r.reloads[i] for r in replicas) for i in range(tiers)))


def run_summary(scenario: Scenario, request_frame: pd.DataFrame, step_totals: StepTotals,
                totals: ReplicaTotals) -> dict:
    """The summary of a run's request table (its `warmup` rows left out) and step totals, and its
    cost; a function of them and `totals` alone, so a fleet run in parts gets the same summary."""
    warmup = request_frame["warmup"]
    measured = request_frame[~warmup] if warmup.any() else request_frame
    summary = metrics.summarize(measured, step_totals, scenario.slo, scenario.workload.arrival, totals.swap_bytes,
                                device_tdp_w(scenario.system), scenario.tp, totals.replicas)
    summary.update(_cost(scenario, summary, scenario.tp * totals.replicas))
    if scenario.engine.prefix_caching:
        summary.update(_prefix_cache_summary(measured, totals, scenario.engine.block_size))
    if scenario.workload.benchmark is not None:
        summary["benchmark"] = _benchmark_report(scenario.workload, measured)
    return summary


def _prefix_cache_summary(requests: pd.DataFrame, totals: ReplicaTotals, block_size: int) -> dict:
    """Prompt tokens served from the cache (a fraction of all prompt tokens), and blocks evicted."""
    prompt = float(requests["prompt_tokens"].sum())
    hit = float(requests["cached_tokens"].sum())
    return {"prefix_cache_hit_rate": hit / prompt if prompt else 0.0, "prefix_cache_hit_tokens": int(hit),
            "prefix_cache_hit_blocks": int(hit) // block_size,
            "prefix_cache_evictions": totals.prefix_cache_evictions,
            **({"prefix_cache_reloaded_blocks": {tier: totals.reloaded_blocks[i]
                                                 for i, tier in enumerate(("host", "disk"))}}
               if totals.reloaded_blocks else {})}


def _benchmark_report(workload: Workload, measured: pd.DataFrame) -> dict:
    """What the workload's benchmark tool would have reported of the measured requests, and how many
    it sent and why."""
    benchmark = workload.benchmark
    assert benchmark is not None
    tool = benchmark.spec
    if not benchmark.warmup_requests:
        warmup = "none"
    elif tool.warmup_before_run:
        warmup = f"{benchmark.warmup_requests} requests finished before the timed run, so not simulated"
    else:
        warmup = f"{benchmark.warmup_requests} requests run first under the same load, left out of every metric"
    return {"tool": tool.name, "requests": len(measured), "requests_from": workload.count_source or "the workload",
            "warmup": warmup, "metrics": bench_metrics.report(metrics.per_request(measured), benchmark)}


def _cost(scenario: Scenario, summary: dict, devices: int) -> dict:
    """$/1M tokens at the simulated throughput and power; an unpriced device says so instead."""
    if scenario.pricing is None:
        return {"cost_note": "not priced: no pricing profile"}
    try:
        result = cost.cost_per_token(scenario.pricing, scenario.system, devices, summary["mean_power_w"] / devices,
                                     summary["output_tokens_per_s"], summary["total_tokens_per_s"])
    except HwsimError as exc:
        return {"cost_note": f"not priced: {exc}"}
    return result


def _arrivals(env: simpy.Environment, seqs: Iterator[Seq], router: Router, overhead_s: float) -> Process:
    """Open-loop traffic, in time order: each request reaches the scheduler at its arrival time plus
    the API overhead."""
    for seq in seqs:
        if seq.arrival_s + overhead_s > env.now:
            yield env.timeout(seq.arrival_s + overhead_s - env.now)
        router.route(seq)


def _send_and_wait(env: simpy.Environment, seq: Seq, router: Router, overhead_s: float) -> Process:
    """A user sends `seq` now (it reaches the scheduler after the API overhead) and waits for its end."""
    seq.arrival_s = env.now
    seq.done = env.event()
    if overhead_s:
        yield env.timeout(overhead_s)
    router.route(seq)
    yield seq.done


def _user(env: simpy.Environment, queue: Iterator[Seq], router: Router, overhead_s: float) -> Process:
    """A closed-loop user: send a request, wait for it, send the next."""
    for seq in queue:
        yield from _send_and_wait(env, seq, router, overhead_s)


def _conversation(env: simpy.Environment, turns: list[Seq], router: Router, overhead_s: float,
                  think_time_s: float) -> Process:
    """One multi-turn session: its first turn at its arrival time, each later one when the previous
    answer has ended and the user has thought for `think_time_s`."""
    yield env.timeout(turns[0].arrival_s)
    for number, seq in enumerate(turns):
        if number:
            yield env.timeout(think_time_s)
        yield from _send_and_wait(env, seq, router, overhead_s)


def _transfer(env: simpy.Environment, seq: Seq, kv_bytes: float, link: Link, router: Router) -> Process:
    """Prefill-to-decode KV handover over `link`."""
    yield env.timeout(roofline.transfer_s(kv_bytes, link))
    router.route(seq)


def little_law(result: SimulationResult) -> tuple[float, float]:
    """Little's law from two independent records: the engine's own count of requests in the
    system (running + waiting + swapped at each step's start and end, time-weighted) and arrival rate x mean time
    in system from the request records. They agree when the engine's queues are accounted right."""
    steps, requests = result.steps, result.requests
    if steps is None:
        raise HwsimError("Little's law needs the step table: simulate with keep_steps=True")
    start, end = requests["arrival_s"].min(), requests["completion_s"].max()
    durations = (steps["end_s"] - steps["start_s"]).to_numpy()
    in_system = ((steps["in_system_start"] + steps["in_system_end"]) / 2).to_numpy()
    mean_in_system = float(np.sum(durations * in_system)) / (end - start)
    rate = len(requests) / (end - start)
    return mean_in_system, rate * float((requests["completion_s"] - requests["arrival_s"]).mean())
