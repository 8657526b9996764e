"""Fleet speed: 256 replicas of Llama-3-8B on one H100 each behind a round-robin router, fed the
chat preset at about 80% of what they serve, simulated in one process and sharded over a local
Dask cluster of 2 worker processes; checks both give the same per-request results.

    python benchmarks/fleet_speed.py [--requests 2000000] [--replicas 256] [--workers 2]

The sharded time counts the request table drawn here, its parts sent to the workers, their
simulations and the merge; the cluster's start is timed apart. CPU seconds are given beside wall
times because on a shared machine other work slows wall times: the sharded run's wall time on
idle cores is about its busiest worker's CPU time plus this process's. Peak memory is each
process's peak resident set (the sharded run first, so this process's figure for it is not the
single run's).
"""
from __future__ import annotations

import argparse
import logging
import resource
import time
from dataclasses import replace

import numpy as np

from hwsim.base import build
from hwsim.loading import catalog
from hwsim.serving.fleet import simulate_fleet
from hwsim.serving.simulate import simulate
from hwsim.specs import deployment
from hwsim.specs.scenario import EngineConfig, Scenario

PER_REPLICA_PER_S = 16.0  # chat on Llama-3-8B / one H100 serves about 20 requests/s at saturation


def fleet(requests: int, replicas: int) -> Scenario:
    workload = replace(catalog.workload("chat"), count=requests, rate_per_s=replicas * PER_REPLICA_PER_S)
    return Scenario("fleet-speed", catalog.system("h100-sxm"), catalog.model("llama-3-8b"), deployment.Precision(),
                    workload, replicas=replicas, engine=EngineConfig(router="round_robin"))


def cpu_s() -> float:
    """CPU seconds this process has used so far, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def largest_difference(sharded, single) -> float:
    """The largest relative difference over every numeric column of the two request tables."""
    worst = 0.0
    for column in single.columns:
        ours, theirs = sharded[column].to_numpy(), single[column].to_numpy()
        if ours.dtype.kind in "iufb":
            ours, theirs = ours.astype(float), theirs.astype(float)
            scale = np.maximum(np.abs(theirs), 1e-12)  # seconds: a zero may be a few ulps off
            worst = max(worst, float(np.nanmax(np.abs(ours - theirs) / scale)))
        elif list(ours) != list(theirs):
            return float("inf")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2_000_000)
    parser.add_argument("--replicas", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    scenario = fleet(args.requests, args.replicas)
    print(f"{args.requests:,} chat requests at {scenario.workload.rate_per_s:,.0f}/s on {args.replicas} replicas "
          f"(Llama-3-8B, one H100 each, round robin); engine {build.describe()}")
    started = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        print(f"cluster of {args.workers} workers started in {time.perf_counter() - started:.1f} s")
        workers_cpu_s = client.run(cpu_s)
        started, here_cpu_s = time.perf_counter(), cpu_s()
        sharded = simulate_fleet(scenario, cluster=client, keep_steps=False)
        sharded_s, here_cpu_s = time.perf_counter() - started, cpu_s() - here_cpu_s
        workers_cpu_s = [now - workers_cpu_s[name] for name, now in client.run(cpu_s).items()]
        workers_rss_mb = list(client.run(peak_rss_mb).values())
    sharding_rss_mb = peak_rss_mb()
    started, single_cpu_s = time.perf_counter(), cpu_s()
    single = simulate(scenario, keep_steps=False)
    single_s, single_cpu_s = time.perf_counter() - started, cpu_s() - single_cpu_s

    difference = largest_difference(sharded.result.requests, single.requests)
    same_summary = all(np.isclose(sharded.result.summary[k], v, rtol=1e-9, atol=1e-15)
                       for k, v in single.summary.items() if isinstance(v, float))
    print(f"one process:     {single_s:8.1f} s wall, {single_cpu_s:8.1f} CPU s; peak RSS {peak_rss_mb():,.0f} MB")
    print(f"{sharded.shards} Dask shards:  {sharded_s:8.1f} s wall, {here_cpu_s:8.1f} CPU s here and "
          f"{', '.join(f'{cpu:.1f}' for cpu in workers_cpu_s)} in the workers; "
          f"peak RSS {sharding_rss_mb:,.0f} MB here, "
          f"{', '.join(f'{mb:,.0f}' for mb in workers_rss_mb)} MB in the workers")
    idle_speed_up = single_cpu_s / (here_cpu_s + max(workers_cpu_s))
    print(f"speed-up:        {single_s / sharded_s:8.2f}x wall; {idle_speed_up:.2f}x "
          f"on idle cores at least (one process's CPU time over this process's and the busiest worker's)")
    print(f"per-request results: largest relative difference {difference:.1e} "
          f"({'the same' if difference <= 1e-9 else 'DIFFERENT'}); summary "
          f"{'the same' if same_summary else 'DIFFERENT'} to 1e-9")
    print(f"simulated: {single.summary['duration_s']:,.0f} s of traffic, {single.summary['output_tokens_per_s']:,.0f} "
          f"output tokens/s, TTFT p99 {single.summary['ttft_p99_s'] * 1e3:.0f} ms, "
          f"{'OVERLOADED' if single.summary['overloaded'] else 'keeping up'}")
    return 0 if difference <= 1e-9 and same_summary else 1


if __name__ == "__main__":
    raise SystemExit(main())
