"""Run a scenario: arrivals, a router, replicas (optionally split into prefill and decode pools)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import simpy

from hwsim.base.errors import HwsimError
from hwsim.perf import cost
from hwsim.perf.estimate import device_tdp_w
from hwsim.perf.offload import OffloadStepTimer
from hwsim.perf.steptimer import StepTimer
from hwsim.serving import metrics
from hwsim.serving.engine import Replica, Seq
from hwsim.serving.kvcache import block_bytes, blocks_for, capacity_blocks
from hwsim.specs.deployment import IMPLEMENTATIONS
from hwsim.specs.placement import check_tiers
from hwsim.specs.scenario import Scenario, check


@dataclass(frozen=True)
class SimulationResult:
    scenario: Scenario
    requests: pd.DataFrame  # one row per request
    steps: pd.DataFrame  # one row per scheduling decision (a step, or a run of identical decode steps)
    summary: dict
    kv_blocks_total: int
    kv_blocks_free_at_end: int


class _Router:
    def __init__(self, replicas: list[Replica], kind: str):
        self.replicas = replicas
        self.kind = kind
        self._cycle = itertools.cycle(replicas)

    def route(self, seq: Seq) -> None:
        if self.kind == "round_robin":
            target = next(self._cycle)
        else:  # least outstanding work, ties to the lowest index
            target = min(self.replicas, key=lambda r: (r.outstanding_tokens, r.index))
        target.submit(seq)


def simulate(scenario: Scenario, requests: pd.DataFrame | None = None, progress=None) -> SimulationResult:
    """Simulate `scenario` (its workload's requests unless `requests` is given).

    `progress(done, total)` is called as requests finish, at most about a hundred times."""
    check(scenario)
    table = scenario.workload.requests() if requests is None else requests
    techniques = scenario.techniques
    if techniques.prompt_kept != 1.0:
        table = table.assign(prompt_tokens=[techniques.prompt_tokens(int(p)) for p in table["prompt_tokens"]])
    if not techniques.is_identity:
        scenario = replace(scenario, precision=techniques.precision(scenario.precision))
    if table.empty:
        raise HwsimError("the workload has no requests")
    engine = scenario.engine
    implementation = IMPLEMENTATIONS[engine.kernels]
    if scenario.placement.on_device:
        timer = StepTimer(scenario.model, scenario.system, scenario.precision, implementation, scenario.experts,
                          None if techniques.is_identity else techniques)
    else:
        check_tiers(scenario.placement, scenario.system)
        timer = OffloadStepTimer(scenario.model, scenario.system, scenario.precision, implementation,
                                 scenario.placement, scenario.offload, scenario.experts,
                                 None if techniques.is_identity else techniques)
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
    env = simpy.Environment()
    per_block = block_bytes(scenario.model, scenario.precision, engine.block_size, scenario.tp)
    copy_issue_s = scenario.system.compute.performance.eager_copy_dispatch_s

    finished = [0]
    report_every = max(1, len(table) // 100)

    def on_finish() -> None:
        finished[0] += 1
        if progress and (finished[0] % report_every == 0 or finished[0] == len(table)):
            progress(finished[0], len(table))

    def replica(index: int, role: str = "both", handoff=None) -> Replica:
        return Replica(env, index, engine, timer, total_blocks, per_block, scenario.system.host_link, role, handoff,
                       copy_issue_s, scenario.model.num_layers, on_finish, device_tdp_w(scenario.system),
                       scenario.tp)

    dis = scenario.disaggregation
    if dis:
        decode_pool = [replica(dis.prefill_replicas + i, "decode") for i in range(dis.decode_replicas)]
        decode_router = _Router(decode_pool, engine.router)
        kv_per_token_all_devices = scenario.model.kv_bytes_per_token(scenario.precision.kv_bytes)

        def handoff(seq: Seq) -> None:
            env.process(_transfer(env, seq, seq.computed * kv_per_token_all_devices, dis.link, decode_router))

        prefill_pool = [replica(i, "prefill", handoff) for i in range(dis.prefill_replicas)]
        replicas, router = prefill_pool + decode_pool, _Router(prefill_pool, engine.router)
    else:
        replicas = [replica(i) for i in range(scenario.replicas)]
        router = _Router(replicas, engine.router)
    seqs = [Seq(int(r.request), float(r.arrival_s), int(r.prompt_tokens), int(r.output_tokens))
            for r in table.itertuples(index=False)]
    if scenario.workload.arrival == "closed_loop":
        queue = iter(seqs)
        for _ in range(min(scenario.workload.concurrency, len(seqs))):
            env.process(_user(env, queue, router, engine.request_overhead_s))
    else:
        env.process(_arrivals(env, seqs, router, engine.request_overhead_s))
    env.run()
    unfinished = [s for s in seqs if s.completion_s is None]
    if unfinished:
        raise RuntimeError(f"{len(unfinished)} requests never finished (request {unfinished[0].request})")
    request_frame = pd.DataFrame([{
        "request": s.request, "replica": s.replica, "arrival_s": s.arrival_s, "first_token_s": s.first_token_s,
        "completion_s": s.completion_s, "prompt_tokens": s.prompt, "output_tokens": s.output,
        "preemptions": s.preemptions, "swaps": s.swaps,
    } for s in seqs]).sort_values("request", ignore_index=True)
    step_frame = pd.DataFrame([row for r in replicas for row in r.steps]).sort_values(["start_s", "replica"],
                                                                                     ignore_index=True)
    summary = metrics.summarize(request_frame, step_frame, scenario.slo, scenario.workload.arrival,
                                sum(r.swap_bytes_moved for r in replicas), device_tdp_w(scenario.system),
                                scenario.tp, len(replicas))
    summary.update(_cost(scenario, summary, scenario.tp * len(replicas)))
    return SimulationResult(scenario, request_frame, step_frame, summary, total_blocks * len(replicas),
                            sum(r.pool.free for r in replicas))


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


def _arrivals(env: simpy.Environment, seqs: list[Seq], router: _Router, overhead_s: float):
    for seq in sorted(seqs, key=lambda s: (s.arrival_s, s.request)):
        if seq.arrival_s + overhead_s > env.now:
            yield env.timeout(seq.arrival_s + overhead_s - env.now)
        router.route(seq)


def _user(env: simpy.Environment, queue, router: _Router, overhead_s: float):
    """A closed-loop user: send a request, wait for it, send the next."""
    for seq in queue:
        seq.arrival_s = env.now
        seq.done = env.event()
        if overhead_s:
            yield env.timeout(overhead_s)
        router.route(seq)
        yield seq.done


def _transfer(env: simpy.Environment, seq: Seq, kv_bytes: float, link, router: _Router):
    """Prefill-to-decode KV handover over `link`."""
    from hwsim.perf.roofline import transfer_s

    yield env.timeout(transfer_s(kv_bytes, link))
    router.route(seq)


def little_law(result: SimulationResult) -> tuple[float, float]:
    """Little's law from two independent records: the engine's own count of requests in the
    system (running + waiting + swapped at each step's start and end, time-weighted) and arrival rate x mean time
    in system from the request records. They agree when the engine's queues are accounted right."""
    steps, requests = result.steps, result.requests
    start, end = requests["arrival_s"].min(), requests["completion_s"].max()
    durations = (steps["end_s"] - steps["start_s"]).to_numpy()
    in_system = ((steps["in_system_start"] + steps["in_system_end"]) / 2).to_numpy()
    mean_in_system = float(np.sum(durations * in_system)) / (end - start)
    rate = len(requests) / (end - start)
    return mean_in_system, rate * float((requests["completion_s"] - requests["arrival_s"]).mean())
