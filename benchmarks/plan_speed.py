"""Planner speed: a 200-candidate sweep over 10 hardware types with a 2,000-request workload,
timed with 1 and 2 local worker processes.

    python benchmarks/plan_speed.py
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from hwsim.loading import plan_yaml
from hwsim.studies import plan

HERE = Path(__file__).resolve().parent


def main() -> int:
    os.chdir(HERE.parent)  # the sweep names its pricing file relative to the project
    spec = plan_yaml.load_plan(HERE / "plan-sweep.yaml")
    print(f"{len(spec.candidates)} candidates over {len({c.hardware for c in spec.candidates})} hardware types, "
          f"{spec.workload.count} requests each")
    for workers in (1, 2):
        started = time.perf_counter()
        result = plan.run(spec, workers=workers)
        elapsed = time.perf_counter() - started
        frame = result.outcomes
        pruned = int((frame["status"] == "pruned").sum())
        print(f"{workers} worker(s): {elapsed:6.1f} s  ({pruned} pruned, {len(frame) - pruned} simulated, "
              f"{int(frame['passes'].sum())} meet the SLOs; winner: "
              f"{result.winner['candidate'] if result.winner else 'none'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
