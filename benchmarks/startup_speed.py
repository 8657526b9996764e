"""Start-up speed: wall time of short `hwsim` commands, each the fastest of N fresh processes.

    python benchmarks/startup_speed.py [--runs 10]

Times `hwsim --help`, `python -m hwsim --help` and `hwsim simulate` on the Llama-3-8B / H100 chat
scenario cut to 10 requests, against `python -c pass` as the reference, and prints each time with
its ratio to the reference. Target: under 0.3 s each on a 2-core machine.

Each command runs once untimed first. Compiled bytecode is kept in a temporary folder
(PYTHONPYCACHEPREFIX) even where PYTHONDONTWRITEBYTECODE is set, so the times are those of an
installed hwsim, not of recompiling every module on each start; `--no-bytecode` times without it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "workloads" / "scenarios" / "llama3-8b-h100-chat.yaml"
WORKLOAD = ROOT / "workloads" / "chat.yaml"
REQUESTS = 10
TARGET_S = 0.3


def small_scenario(folder: Path) -> Path:
    """The chat scenario with its workload inline and cut to `REQUESTS` requests."""
    scenario = yaml.safe_load(SCENARIO.read_text())
    workload = yaml.safe_load(WORKLOAD.read_text())
    workload.pop("name", None)
    workload.pop("description", None)
    scenario["workload"] = workload | {"requests": REQUESTS}
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def console_script() -> list[str]:
    """The installed `hwsim` script beside this Python (not a version manager's shim, which would
    add its own start-up to every time), else whichever `hwsim` is on PATH, else `python -m hwsim`."""
    beside = Path(sys.executable).parent / "hwsim"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("hwsim")
    return [found] if found else [sys.executable, "-m", "hwsim"]


def fastest(command: list[str], runs: int, env: dict[str, str]) -> float:
    """The least wall time of `runs` runs of `command` after one untimed run (the least is the least
    disturbed by other work on the machine)."""
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="runs of each command; the fastest counts (default 10)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="keep the environment's bytecode setting (with PYTHONDONTWRITEBYTECODE, hwsim's modules "
                             "are compiled on every start)")
    args = parser.parse_args()
    hwsim = console_script()
    version = subprocess.run([*hwsim, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    print(f"{version}, timed as `{' '.join(hwsim)}`")
    with tempfile.TemporaryDirectory() as folder:
        scenario = small_scenario(Path(folder))
        env = dict(os.environ)
        if not args.no_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "hwsim --help": [*hwsim, "--help"],
            "python -m hwsim --help": [sys.executable, "-m", "hwsim", "--help"],
            f"hwsim simulate ({REQUESTS} requests)": [*hwsim, "simulate", str(scenario)],
        }
        reference = None
        slow = False
        for name, command in cases.items():
            seconds = fastest(command, args.runs, env)
            reference = reference or seconds
            over = name != "python -c pass" and seconds > TARGET_S
            slow = slow or over
            print(f"{name:<34} {seconds * 1000:7.0f} ms  {seconds / reference:5.1f}x reference"
                  f"{'  (over target)' if over else ''}")
    print(f"target: each hwsim command under {TARGET_S * 1000:.0f} ms")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
