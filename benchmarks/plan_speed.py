"""Planner speed: a 200-candidate sweep over 10 hardware types with a 2,000-request workload, timed
with early verdicts (a simulation stops once an SLO is certainly missed) and shared step models (the
candidates of one deployment price each step once) and without both, each with 1 and 2 local worker
processes.

Each time is also given as a multiple of a reference pure-Python loop timed just before and after
that sweep, so a machine busy with other work shows as a slower loop rather than a slower planner,
and with the CPU time the planner's processes used, which other work on the machine barely moves.
The run fails unless both ways give the same winner and the same verdict for every candidate, and
every candidate simulated to the end the same figures.

    python benchmarks/plan_speed.py [--repeat N]

With `--repeat N` each way is timed N times, the two ways alternating (off, on, on, off, ...) so
that a change in the machine's other load falls on both, and the fastest of each is kept.
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hwsim.base import build
from hwsim.loading import plan_yaml
from hwsim.perf.step_model import forget_step_models
from hwsim.specs.plan import PlanSpec
from hwsim.studies import plan

HERE = Path(__file__).resolve().parent
REFERENCE_ITERATIONS = 2_000_000


def reference_loop_s() -> float:
    """Seconds of a fixed pure-Python loop (the best of three): the machine's speed right now."""
    best_s = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total, table = 0, {}
        for i in range(REFERENCE_ITERATIONS):
            total += i * i % 7
            table[i & 1023] = total
        best_s = min(best_s, time.perf_counter() - started)
    return best_s


@dataclass(frozen=True)
class Timing:
    early: bool
    workers: int
    elapsed_s: float
    cpu_s: float  # this process's and its worker processes' CPU time
    reference_s: float  # the loop's mean time just before and after the sweep
    result: plan.PlanResult

    @property
    def loops(self) -> float:
        """The sweep's time in reference loops."""
        return self.elapsed_s / self.reference_s

    def describe(self) -> str:
        frame = self.result.outcomes
        counts = {status: int((frame["status"] == status).sum()) for status in ("pruned", "simulated", plan.STOPPED)}
        winner = self.result.winner["candidate"] if self.result.winner else "none"
        return (f"{'on' if self.early else 'off':>5} {self.workers:>7} {self.elapsed_s:>8.1f} s {self.loops:>9.1f} "
                f"{self.cpu_s:>8.1f} s  "
                f"{counts['pruned']:>6} {counts['simulated']:>9} {counts[plan.STOPPED]:>7} "
                f"{int(frame['passes'].sum()):>5}  {winner}")


def timed(spec: PlanSpec, workers: int, early: bool) -> Timing:
    """One sweep, with the reference loop timed around it."""
    forget_step_models()  # no sweep starts with the models of the one before
    before_s = reference_loop_s()
    started, cpu_started_s = time.perf_counter(), _cpu_s()
    result = plan.run(spec, workers=workers, early=early, share_step_models=early)
    elapsed_s, cpu_s = time.perf_counter() - started, _cpu_s() - cpu_started_s
    return Timing(early, workers, elapsed_s, cpu_s, (before_s + reference_loop_s()) / 2, result)


def _cpu_s() -> float:
    """CPU seconds of this process and of the worker processes it has waited for (a pool's workers
    are joined when its sweep ends)."""
    return time.process_time() + sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), field)
                                     for field in ("ru_utime", "ru_stime"))


def differences(early: plan.PlanResult, full: plan.PlanResult) -> list[str]:
    """What early verdicts changed that they must not: the winner, any verdict, or any figure of a
    candidate simulated to the end."""
    found = []
    if early.winner != full.winner:
        names = [result.winner["candidate"] if result.winner else "none" for result in (full, early)]
        found.append(f"winner {names[0]} -> {names[1]}")
    a, b = early.outcomes, full.outcomes
    if list(a["candidate"]) != list(b["candidate"]) or list(a["passes"]) != list(b["passes"]):
        found.append("a candidate's verdict changed")
    ended = a["status"] != plan.STOPPED
    try:
        pd.testing.assert_frame_equal(a[ended], b[ended][a.columns])
    except AssertionError as exc:
        found.append(f"a candidate simulated to the end changed: {exc}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the planner's sweep both ways.")
    parser.add_argument("--repeat", type=int, default=1, help="time each way this many times, keeping the fastest")
    repeat = parser.parse_args(argv).repeat
    os.chdir(HERE.parent)  # the sweep names its pricing file relative to the project
    spec = plan_yaml.load_plan(HERE / "plan-sweep.yaml")
    print(f"{len(spec.candidates)} candidates over {len({c.hardware for c in spec.candidates})} hardware types, "
          f"{spec.workload.count} requests each")
    print(f"'on': early verdicts and shared step models; 'off': neither; engine {build.describe()}")
    print(f"{'mode':>5} {'workers':>7} {'time':>10} {'/ loop':>9} {'CPU':>10}  {'pruned':>6} {'simulated':>9} "
          f"{'stopped':>7} {'pass':>5}  winner")
    runs: dict[tuple[bool, int], Timing] = {}
    for workers in (1, 2):
        for turn in range(repeat):
            for early in ((False, True) if turn % 2 == 0 else (True, False)):
                timing = timed(spec, workers, early)
                print(timing.describe(), flush=True)
                if (early, workers) not in runs or timing.elapsed_s < runs[early, workers].elapsed_s:
                    runs[early, workers] = timing
    if repeat > 1:
        print("the fastest of each:")
        for timing in runs.values():
            print(timing.describe())
    for workers in (1, 2):
        off, on = runs[False, workers], runs[True, workers]
        print(f"on against off, {workers} worker(s): {off.elapsed_s / on.elapsed_s:.2f}x faster "
              f"({off.loops / on.loops:.2f}x in reference loops, {off.cpu_s / on.cpu_s:.2f}x less CPU time)")
    for early in (False, True):
        one, two = runs[early, 1], runs[early, 2]
        print(f"2 workers against 1, {'on' if early else 'off'}: {one.elapsed_s / two.elapsed_s:.2f}x "
              f"({one.loops / two.loops:.2f}x in reference loops)")
    found = [f"{workers} worker(s): {d}" for workers in (1, 2)
             for d in differences(runs[True, workers].result, runs[False, workers].result)]
    found += [f"1 against 2 workers: {d}" for d in differences(runs[True, 2].result, runs[True, 1].result)]
    print("same winner, verdicts and figures both ways" if not found else "\n".join(found))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
