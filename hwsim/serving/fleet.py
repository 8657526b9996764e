"""A fleet of replicas simulated in parts, on local processes or a Dask cluster, with the results
of one run.

Replicas behind a router share nothing but the router. When the router is stateless, so that which
replica a request joins depends only on the request and its place in arrival order, each block of
replicas can be simulated on its own with just the requests it would have been sent: round robin
sends the i-th request in (arrival time, request id) order to replica i mod N, so replicas
[a, b) of N get the requests at positions i with a <= i mod N < b, and a scenario of b - a replicas
fed those requests (in the same order) sends them to the same replicas, counted from a. Open-loop
arrivals keep the parts apart; a closed loop or a conversation sends its next request when an
answer ends, a stateful router (least outstanding, prefix affinity) looks at every replica's
queue or cache, and a disaggregated fleet hands sequences between pools, so those run in one process.

Every request's record is that of the single run up to rounding: the simulator reaches each
arrival by waiting the gap from the one before, and in a part the one before is another request, so
the time a request reaches the scheduler (and so its API and queueing times) may differ in the last
bits of a float. Beyond that, a tie to the last bit could order two events differently: simpy handles
events of one instant in the order they were scheduled, so an arrival at the very instant its
replica's step ends might fall on the other side of that end. Continuous arrival times (Poisson,
gamma, traces) make such a tie vanishingly unlikely; offline arrivals all come before any step. The
merged summary is worked out from the merged tables as one run's is, so it differs from the single
run's only by such rounding (and by counters added over the parts' replicas in another order).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from hwsim.base.errors import HwsimError
from hwsim.serving.records import StepTotals
from hwsim.serving.simulate import ReplicaTotals, SimulationResult, run_summary, simulate
from hwsim.specs.scenario import Scenario

SHARDABLE_ROUTERS = ("round_robin",)  # routers whose choice depends only on the request and its arrival order


@dataclass(frozen=True)
class Shard:
    """A block of a fleet's replicas: the fleet's scenario with only those replicas, the requests
    they serve, and the fleet's index of its first replica."""

    scenario: Scenario
    requests: pd.DataFrame  # as the workload drew them: `simulate` applies the scenario's techniques
    first_replica: int
    keep_steps: bool = True  # the shard's step table comes back (else only its totals)


@dataclass(frozen=True)
class FleetRun:
    """A fleet's simulation, how many parts it ran in, and why it ran in one process when parts
    were asked for and it could not be split (None when it was, or when one process was asked for)."""

    result: SimulationResult
    shards: int
    not_sharded: str | None = None


def why_not_sharded(scenario: Scenario, table: pd.DataFrame | None = None) -> str | None:
    """Why `scenario` (fed `table`, when given) cannot be simulated in independent parts; None when it can."""
    router = scenario.engine.router
    if scenario.disaggregation is not None:
        return "a disaggregated fleet hands each prefilled sequence from one pool to the other"
    if router not in SHARDABLE_ROUTERS:
        return (f"the {router} router picks a replica by the replicas' current state, so every replica "
                f"must run in one simulation")
    if scenario.workload.sessions is not None:
        return "multi-turn sessions send each turn when the previous answer ends"
    if scenario.workload.arrival == "closed_loop":
        return "closed-loop users send each request when their previous one ends"
    if scenario.replicas < 2:
        return "one replica: nothing to split"
    if table is not None and len(table) < 2:
        return "fewer than two requests: nothing to split"
    if table is not None and table["arrival_s"].isna().any():
        return "some requests have no arrival time"
    return None


def round_robin_replicas(table: pd.DataFrame, replicas: int) -> np.ndarray:
    """The replica each row of `table` joins under round robin: the i-th in (arrival time, request
    id) order, the order the simulator sends them in, goes to replica i mod `replicas`."""
    order = np.lexsort((table["request"].to_numpy(), table["arrival_s"].to_numpy()))  # stable, as sorted() is
    replica_of = np.empty(len(table), dtype=np.int64)
    replica_of[order] = np.arange(len(table)) % replicas
    return replica_of


def shards(scenario: Scenario, table: pd.DataFrame, count: int, keep_steps: bool = True) -> list[Shard]:
    """`table` split into at most `count` shards of contiguous replicas, as even as the replicas that
    get requests allow (with fewer requests than replicas, the last replicas get none and no shard)."""
    reason = why_not_sharded(scenario, table)
    if reason:
        raise HwsimError(f"this fleet cannot be split: {reason}")
    replica_of = round_robin_replicas(table, scenario.replicas)
    busy = min(scenario.replicas, len(table))
    parts = []
    for block in np.array_split(np.arange(busy), min(max(1, count), busy)):
        first, end = int(block[0]), int(block[-1]) + 1
        rows = (replica_of >= first) & (replica_of < end)
        parts.append(Shard(replace(scenario, replicas=end - first), table[rows].reset_index(drop=True), first,
                           keep_steps))
    return parts


def run_shard(shard: Shard) -> SimulationResult:
    """Simulate one shard (a task for a worker process)."""
    return simulate(shard.scenario, requests=shard.requests, keep_steps=shard.keep_steps)


def merge(scenario: Scenario, parts: list[Shard], results: list[SimulationResult]) -> SimulationResult:
    """The shards' results as the whole fleet's: replica indices counted over the fleet, the tables
    ordered as one run orders them, and the summary worked out from them as one run's is."""
    if not results:
        raise HwsimError("nothing to merge: no shard results")
    requests = pd.concat([_renumbered(r.requests, s.first_replica) for s, r in zip(parts, results, strict=True)],
                         ignore_index=True).sort_values("request", kind="stable", ignore_index=True)
    frames = [_renumbered(r.steps, s.first_replica) for s, r in zip(parts, results, strict=True) if r.steps is not None]
    steps = None  # the step table, when every shard kept its own
    if len(frames) == len(results):
        steps = pd.concat(frames, ignore_index=True).sort_values(["start_s", "replica"], ignore_index=True)
    step_totals = sum((r.step_totals.renumbered(s.first_replica) for s, r in zip(parts, results, strict=True)),
                      StepTotals())
    fleet = replace(results[0].scenario, replicas=scenario.replicas)  # the precision the techniques chose
    summary = run_summary(fleet, requests, step_totals, _totals(scenario.replicas, results))
    blocks_per_replica = results[0].kv_blocks_total // parts[0].scenario.replicas
    idle_replicas = scenario.replicas - sum(s.scenario.replicas for s in parts)
    return SimulationResult(fleet, requests, steps, summary, blocks_per_replica * scenario.replicas,
                            sum(r.kv_blocks_free_at_end for r in results) + blocks_per_replica * idle_replicas,
                            step_totals)


def _renumbered(frame: pd.DataFrame, first_replica: int) -> pd.DataFrame:
    """A shard's table with its replicas numbered as the fleet numbers them (a shard counts from 0)."""
    return frame.assign(replica=frame["replica"] + first_replica)


def _totals(replicas: int, results: list[SimulationResult]) -> ReplicaTotals:
    """The fleet's replica counters, added up from what each shard's summary reports of them."""
    reloads = [r.summary["prefix_cache_reloaded_blocks"] for r in results
               if "prefix_cache_reloaded_blocks" in r.summary]
    return ReplicaTotals(replicas, sum(float(r.summary["swap_bytes"]) for r in results),
                         sum(int(r.summary.get("prefix_cache_evictions", 0)) for r in results),
                         tuple(sum(tiers[tier] for tiers in reloads) for tier in (reloads[0] if reloads else ())))


def simulate_fleet(scenario: Scenario, requests: pd.DataFrame | None = None, *, workers: int = 1,
                   cluster: Any = None, progress: Callable[[int, int], None] | None = None,
                   keep_steps: bool = True) -> FleetRun:
    """Simulate `scenario` in parts on `workers` local processes or on a Dask cluster (`cluster`: a
    scheduler address or a `distributed.Client`), one part per worker; in this process when one worker
    is asked for or the fleet cannot be split, then saying why. `progress(done, total)` is told the
    requests of each finished part (each finished request when in this process). Without
    `keep_steps` the result has the steps' totals but no step table."""
    table = scenario.workload.requests() if requests is None else requests
    if workers <= 1 and not cluster:
        return FleetRun(simulate(scenario, requests=table, progress=progress, keep_steps=keep_steps), 1)
    reason = why_not_sharded(scenario, table)
    if reason:
        return FleetRun(simulate(scenario, requests=table, progress=progress, keep_steps=keep_steps), 1, reason)
    if cluster:
        return _on_cluster(scenario, table, cluster, progress, keep_steps)
    return _on_processes(scenario, table, workers, progress, keep_steps)


def _reporter(total: int, progress: Callable[[int, int], None] | None) -> Callable[[Shard], None]:
    """A callback for each finished shard that tells `progress` the requests finished so far."""
    done = 0

    def finished(shard: Shard) -> None:
        nonlocal done
        done += len(shard.requests)
        if progress:
            progress(done, total)

    return finished


def _on_processes(scenario: Scenario, table: pd.DataFrame, workers: int,
                  progress: Callable[[int, int], None] | None, keep_steps: bool) -> FleetRun:
    """One shard per local process: each simulation holds the GIL, so threads would not help."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    parts = shards(scenario, table, workers, keep_steps)
    finished = _reporter(len(table), progress)
    results: list[SimulationResult | None] = [None] * len(parts)
    with ProcessPoolExecutor(max_workers=len(parts)) as pool:
        futures = {pool.submit(run_shard, shard): i for i, shard in enumerate(parts)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            finished(parts[futures[future]])
    return FleetRun(merge(scenario, parts, [r for r in results if r is not None]), len(parts))


def _on_cluster(scenario: Scenario, table: pd.DataFrame, address: Any,
                progress: Callable[[int, int], None] | None, keep_steps: bool) -> FleetRun:
    """One shard per worker of the cluster, each sent to its own worker: a simulation is pure Python,
    so a worker's extra threads would only take turns."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise HwsimError("--cluster needs Dask distributed: pip install 'hwsim[cluster]'") from None
    client = address if hasattr(address, "submit") else Client(address)
    try:
        names = sorted(client.nthreads())  # every worker's address
        parts = shards(scenario, table, len(names), keep_steps)
        finished = _reporter(len(table), progress)
        futures = {}
        for i, shard in enumerate(parts):
            where = [names[i % len(names)]] if names else None
            data = client.scatter(shard, workers=where, hash=False)  # sent once, not inside the task graph
            futures[client.submit(run_shard, data, workers=where, pure=False)] = i
        results: list[SimulationResult | None] = [None] * len(parts)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            finished(parts[futures[future]])
        return FleetRun(merge(scenario, parts, [r for r in results if r is not None]), len(parts))
    finally:
        if client is not address:
            client.close()
