"""The kernel-speedup check on a real before/after pair: the H200 step rows measured with PyTorch
eager launch (before) and with CUDA graphs (after), launch overhead removed.

    python benchmarks/launch_speedup.py validation/h200-sxm.csv
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

from hwsim.studies import speedup


def main(path: str) -> int:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    steps = frame[frame["kind"] == "step"]
    with tempfile.TemporaryDirectory() as folder:
        before, after = Path(folder) / "eager.csv", Path(folder) / "graph.csv"
        steps[steps["launch"] == "eager"].to_csv(before, index=False)
        steps[steps["launch"] == "graph"].to_csv(after, index=False)
        print(speedup.format_comparison(speedup.compare([str(before)], [str(after)])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "validation/h200-sxm.csv"))
