"""Simulator speed on realistic traffic: the chat preset (Poisson arrivals, lognormal lengths) on
Llama-3-8B / one H100 at 90% of its saturation rate.

    python benchmarks/serving_speed.py [--requests 10000 100000] [--load 0.9]

The saturation rate is found first (a short run offered far more than the engine serves: the
requests/s it completes). Machines are shared and noisy, so every time is also printed as a ratio to
a reference pure-Python loop timed in the same run: compare ratios, not seconds, across runs and
commits; the loop is timed just before and just after each simulation and their mean is used, so a
change in the machine's load during the run falls on both. Peak RSS is the process's high-water
mark after the largest run.
"""
from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace

from hwsim.base import build
from hwsim.loading import catalog
from hwsim.serving.simulate import simulate
from hwsim.specs import deployment
from hwsim.specs.scenario import Scenario

REFERENCE_ITERATIONS = 5_000_000


def reference_loop_s() -> float:
    """A fixed pure-Python loop (integer arithmetic and a list append per iteration), best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        values = []
        total = 0
        for i in range(REFERENCE_ITERATIONS):
            total += i * i % 7
            if i % 1000 == 0:
                values.append(total)
        best = min(best, time.perf_counter() - started)
    return best


def scenario(requests: int, rate_per_s: float) -> Scenario:
    workload = replace(catalog.workload("chat"), count=requests, rate_per_s=rate_per_s, duration_s=0.0)
    return Scenario("speed", catalog.system("h100-sxm"), catalog.model("llama-3-8b"), deployment.Precision(), workload)


def saturation_rate_per_s() -> float:
    """Requests per second the replica completes when offered far more than it can serve."""
    return simulate(scenario(3000, 200.0)).summary["requests_per_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--load", type=float, default=0.9, help="offered rate as a share of saturation")
    args = parser.parse_args()
    rate = args.load * saturation_rate_per_s()
    print(f"chat on Llama-3-8B / H100 at {args.load:.0%} of saturation: {rate:.2f} requests/s offered")
    print(f"reference loop: {REFERENCE_ITERATIONS:,} iterations, timed before and after each run; "
          f"engine {build.describe()}")
    for count in args.requests:
        before_s = reference_loop_s()
        started = time.perf_counter()
        summary = simulate(scenario(count, rate), keep_steps=False).summary
        took_s = time.perf_counter() - started
        reference_s = (before_s + reference_loop_s()) / 2
        print(f"{count:>9,} requests: {took_s:7.2f} s = {took_s / reference_s:6.1f} reference loops of "
              f"{reference_s:.3f} s, {count / took_s:,.0f} requests per wall second "
              f"(mean decode batch {summary['mean_batch']:.0f}, overloaded: {summary['overloaded']})")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
