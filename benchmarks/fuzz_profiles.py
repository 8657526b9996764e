"""Fuzz the shipped input files through the CLI: every bad input must be one error line, never a traceback or a hang.

    python benchmarks/fuzz_profiles.py --seed 1 --budget-s 60 [--case-timeout-s 30] [--save DIR]

Each case takes one shipped file (hardware profiles, models, HuggingFace configs, workloads,
scenarios, plans, pricing), mutates it (a value replaced by NaN, an infinity, a huge or negative
number, text, a list, nested YAML aliases; a number scaled or a unit's case changed; a key dropped
or added; or the bytes cut and garbled), then runs what reads it: `hwsim estimate --hardware FILE` for GPU and
system profiles, `--model FILE` for models and configs, `--pricing FILE` for pricing,
`hwsim simulate` for workloads and scenarios and `hwsim plan` for plans, all in-process (CPU,
storage and link profiles go through their loaders). Request counts and search spaces are made
tiny before mutating, so a case that runs takes about a second.

A case fails when an exception other than the project's own error escapes, when the exit code is
not 0 or 2, when an error message spans several lines, or when it runs past its time limit (it
runs in a worker process that is replaced when it hangs). The run prints a summary and exits 1
on any failure; the same seed and budget repeat the same cases, as far as the budget allows.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's hwsim, also when run as a script from anywhere

from hwsim.base.errors import HwsimError  # noqa: E402
from hwsim.loading import catalog, hardware_yaml  # noqa: E402
from hwsim.loading.fields import load_yaml  # noqa: E402
from hwsim.loading.pricing_yaml import pricing_files  # noqa: E402
from hwsim.output.cli import main as cli_main  # noqa: E402
from hwsim.specs.workload import MAX_REQUESTS  # noqa: E402

TINY_REQUESTS = 6
MUTATED_REQUESTS_CAP = 200
EDGE_VALUES: list[Any] = [0, -1, 1, 0.5, 2, 1e9, 1e12, 1.6e13, 10**20, 10**400, -1e300, 1e-300, math.nan, math.inf,
                          -math.inf, True, None, "", "nan", "1e9", "1e400", "fast", "80 GiB", "80 gib", "80 Gb",
                          "-5 GB", "0 s", "1e30 B", "4.8 TB/s", "3 us", "700 W", "h100-sxm", "llama-3-8b",
                          "experts=host", "kv=host;kv=device", "zipf:nan", [], [1, 2], {}, {"a": 1}, [math.nan]]


@dataclass(frozen=True)
class Case:
    """One mutated input: its kind, the shipped file it came from, and the bytes to run."""

    kind: str
    origin: str
    content: bytes
    name: str  # file name to write it under
    options: tuple[str, ...] = ()  # CLI options the unmutated file needs to run (devices enough for a model)


@dataclass
class Outcome:
    status: str  # ran | refused | traceback | bad-exit | multi-line | hang
    detail: str = ""


@dataclass
class Tally:
    by_status: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    failures: list[tuple[Case, Outcome]] = field(default_factory=list)


# --- the shipped files and how each kind is run ------------------------------------------------

def shipped() -> list[tuple[str, Path]]:
    """Every shipped input file with its kind, in a fixed order."""
    files = [(kind, path) for kind in ("gpus", "systems", "cpus", "storage", "links")
             for path in catalog.hardware_files(kind).values()]
    files += [("models", path) for path in catalog.model_files().values()]
    files += [("hf-configs", path) for path in sorted((ROOT / "tests" / "data").glob("*-config.json"))]
    workloads = catalog.data_dir("workloads")
    files += [("workloads", path) for path in sorted(workloads.glob("*.yaml"))]
    files += [("scenarios", path) for path in sorted(workloads.glob("scenarios/*.yaml"))]
    files += [("scenarios", path) for path in sorted((ROOT / "tests" / "golden" / "scenarios").glob("*.yaml"))]
    files += [("plans", path) for path in sorted(workloads.glob("plans/*.yaml"))]
    files += [("plans", ROOT / "tests" / "golden" / "tiny-plan.yaml")]
    files += [("pricing", path) for path in pricing_files().values()]
    return files


LOADERS = {
    "cpus": lambda path: hardware_yaml.load_cpu(load_yaml(path)),
    "storage": lambda path: hardware_yaml.load_storage(load_yaml(path), catalog.links()),
    "links": lambda path: hardware_yaml.load_link(load_yaml(path)),
}


def model_options(kind: str, path: Path) -> tuple[str, ...]:
    """Hardware on which the unmutated model at `path` fits: one H200, else eight in fp8."""
    if kind not in ("models", "hf-configs"):
        return ()
    if catalog.model(str(path)).weight_bytes(16) < 120e9:
        return ("--hardware", "h200-sxm")
    return ("--hardware", "h200-sxm", "--count", "8", "--dtype", "fp8")


def command(kind: str, path: Path, folder: Path) -> list[str] | None:
    """The CLI arguments that read a `kind` file at `path` (None: its loader alone reads it)."""
    if kind in ("gpus", "systems"):
        return ["estimate", "--hardware", str(path), "--model", "llama-3.2-1b", "--ops", "none"]
    if kind in ("models", "hf-configs"):
        return ["estimate", "--model", str(path), "--ops", "none"]
    if kind == "pricing":
        return ["estimate", "--hardware", "h100-sxm", "--model", "llama-3.2-1b", "--pricing", str(path),
                "--ops", "none"]
    if kind == "workloads":
        scenario = folder / "scenario.yaml"
        scenario.write_text(f"hardware: h100-sxm\nmodel: llama-3.2-1b\nworkload: {path.name}\n")
        return ["simulate", str(scenario)]
    if kind == "scenarios":
        return ["simulate", str(path)]
    if kind == "plans":
        return ["plan", str(path), "--workers", "1"]
    return None


# --- making the shipped files quick to run, then mutating them --------------------------------

def _tame_workload(workload: Any) -> Any:
    """A workload mapping (or preset name) made into a mapping of a few requests."""
    if isinstance(workload, str) and not workload.endswith((".yaml", ".yml")):
        preset = catalog.data_dir("workloads") / f"{workload}.yaml"
        workload = yaml.safe_load(preset.read_text()) if preset.exists() else workload
    if isinstance(workload, dict):
        workload = {**workload, "requests": TINY_REQUESTS}
        workload.pop("duration", None)
    return workload


def tame(kind: str, document: Any) -> Any:
    """`document` with its request counts and search space cut down, so a run that loads is quick."""
    if not isinstance(document, dict):
        return document
    document = copy.deepcopy(document)
    if kind == "workloads":
        return _tame_workload(document)
    if kind in ("scenarios", "plans") and "workload" in document:
        document["workload"] = _tame_workload(document["workload"])
    if kind == "plans" and isinstance(document.get("search"), dict):
        search = document["search"]
        for key, values in search.items():
            if isinstance(values, list):
                search[key] = values[:2]
        search["tensor_parallel"], search["replicas"] = [1], [1]
    return document


def _few_requests(workload: Any) -> None:
    """A mutated request count that the loaders accept cut to `MUTATED_REQUESTS_CAP`: simulating
    a few hundred thousand requests is slow, not wrong, and would read as a hang."""
    if not isinstance(workload, dict):
        return
    requests = workload.get("requests")
    if isinstance(requests, int) and not isinstance(requests, bool) and MUTATED_REQUESTS_CAP < requests <= MAX_REQUESTS:
        workload["requests"] = MUTATED_REQUESTS_CAP


def kept_quick(kind: str, document: Any) -> Any:
    """`document` after mutation with any large request count a mutation made cut down again."""
    if isinstance(document, dict):
        _few_requests(document if kind == "workloads" else document.get("workload"))
    return document


def _perturbed(value: Any, rng: random.Random) -> Any:
    """`value` changed in kind-preserving ways that a loader may well accept: a number scaled or
    negated, a quantity's number changed or its unit's case flipped."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        change = rng.choice(["scale", "negate", "zero", "half", "shrink"])
        try:
            return {"scale": lambda: value * 10 ** rng.randint(1, 12), "negate": lambda: -value, "zero": lambda: 0,
                    "half": lambda: value + 0.5, "shrink": lambda: value * rng.random()}[change]()
        except OverflowError:  # an integer beyond any float
            return math.inf
    if isinstance(value, str) and " " in value:
        number, _, unit = value.partition(" ")
        return rng.choice([f"{number} {unit.lower()}", f"{number} {unit.upper()}", f"-{number} {unit}",
                           f"{rng.choice(['0', '1e9', 'nan', '1e-9', '1e20'])} {unit}", number])
    return _edge(rng)


def _edge(rng: random.Random) -> Any:
    """One of `EDGE_VALUES`, a copy of its own (a list put in two places would grow into itself)."""
    return copy.deepcopy(rng.choice(EDGE_VALUES))


def _new_value(old: Any, rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.45:
        return _perturbed(old, rng)
    if roll < 0.85:
        return _edge(rng)
    return rng.choice([rng.randint(-5, 3000), rng.random() * 10 ** rng.randint(-3, 9),
                       "".join(rng.choice("abcxyz_-.:=;,0129 ") for _ in range(rng.randint(0, 12)))])


def document_paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested mappings and lists, the document itself first."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += document_paths(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += document_paths(value, prefix + (index,))
    return found


def value_at(document: Any, path: tuple) -> Any:
    """The value `path` leads to inside `document`."""
    for key in path:
        document = document[key]
    return document


def mutate_document(document: Any, rng: random.Random) -> Any:
    """One to three changes: a value replaced, a key dropped, or an unknown key added."""
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(document_paths(document))
        if not path:
            document = _edge(rng)
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = rng.choice(["replace", "replace", "replace", "drop", "add"])
        if action == "replace":
            parent[path[-1]] = _new_value(parent[path[-1]], rng)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(["typo", "extra", "nmae", "moe", "mla", "techniques"])] = _new_value(None, rng)
    return document


def alias_bomb() -> list:
    """Lists nested nine deep, each holding its child ten times: YAML writes it in a few lines of
    aliases, yet printing it in full would take 10**9 items ("billion laughs")."""
    bomb: list = ["lol"] * 10
    for _ in range(8):
        bomb = [bomb] * 10
    return bomb


def with_bomb(document: Any, rng: random.Random) -> Any:
    """`document` with one value (not the whole document) replaced by an alias bomb, as the last change."""
    paths = [path for path in document_paths(document) if path]
    if not paths:
        return document
    path = rng.choice(paths)
    value_at(document, path[:-1])[path[-1]] = alias_bomb()
    return document


def garble(content: bytes, rng: random.Random) -> bytes:
    """`content` cut short, with random bytes spliced in, or replaced by random bytes."""
    kind = rng.choice(["cut", "splice", "bytes"])
    at = rng.randint(0, len(content))
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return {"cut": content[:at], "splice": content[:at] + noise + content[at:], "bytes": noise}[kind]


def _dump(kind: str, document: Any) -> bytes:
    if kind == "hf-configs":
        return json.dumps(document).encode()
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


def make_case(kind: str, path: Path, rng: random.Random) -> Case:
    """A mutated copy of the shipped file at `path`."""
    text = path.read_bytes()
    document = json.loads(text) if kind == "hf-configs" else yaml.safe_load(text)
    tamed = _dump(kind, tame(kind, document))
    if rng.random() < 0.15:
        content = garble(tamed, rng)
    else:
        try:
            mutated = kept_quick(kind, mutate_document(tame(kind, document), rng))
            if kind != "hf-configs" and rng.random() < 0.03:
                mutated = with_bomb(mutated, rng)
            content = _dump(kind, mutated)
        except (TypeError, ValueError):  # a value JSON cannot hold as a key
            content = tamed
    name = "config.json" if kind == "hf-configs" else path.name
    origin = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    return Case(kind, origin, content, name, model_options(kind, path))


# --- running one case (in the worker process) -------------------------------------------------

def _cli(argv: list[str]) -> tuple[int, str]:
    """Exit code and standard error of the CLI on `argv`, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    return code, err.getvalue()


def run_case(case: Case, folder: Path) -> Outcome:
    """What happens to `case`: refused with one line, ran, or one of the failures."""
    path = folder / ("model" if case.kind == "hf-configs" else "") / case.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if case.kind in LOADERS:
                LOADERS[case.kind](path)
                return Outcome("ran")
            argv = command(case.kind, path, folder)
            assert argv is not None
            code, err = _cli(argv + list(case.options))
    except HwsimError as error:
        return Outcome("refused" if "\n" not in str(error) else "multi-line", str(error))
    except Exception:  # what the fuzzer is here to find
        return Outcome("traceback", traceback.format_exc())
    if code not in (0, 2):
        return Outcome("bad-exit", f"exit code {code}: {err}")
    if code == 2 and len(err.strip().splitlines()) != 1:
        return Outcome("multi-line", err)
    return Outcome("ran" if code == 0 else "refused", err.strip())


def _worker(connection) -> None:
    """Run the cases the parent sends, each in a fresh folder, until it sends None."""
    while True:
        case = connection.recv()
        if case is None:
            return
        folder = Path(tempfile.mkdtemp(prefix="hwsim-fuzz-"))
        try:
            outcome = run_case(case, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        connection.send(outcome)


class Runner:
    """A worker process that runs cases under a time limit, replaced when one hangs."""

    def __init__(self, case_timeout_s: float):
        self.case_timeout_s = case_timeout_s
        self.context = multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.connection, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()

    def run(self, case: Case) -> Outcome:
        self.connection.send(case)
        if self.connection.poll(self.case_timeout_s):
            try:
                return self.connection.recv()
            except EOFError:  # the worker died (out of memory, a crash in C)
                self._restart()
                return Outcome("traceback", "the worker process died")
        self._restart()
        return Outcome("hang", f"no result within {self.case_timeout_s:g} s")

    def _restart(self) -> None:
        self.process.kill()
        self.process.join()
        self._start()

    def close(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.connection.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


# --- the run ----------------------------------------------------------------------------------

FAILURES = ("traceback", "bad-exit", "multi-line", "hang")


def fuzz(seed: int, budget_s: float, case_timeout_s: float) -> Tally:
    """Cases from every shipped file in turn (each at least once when the budget allows), until the budget is spent."""
    rng = random.Random(seed)
    files = shipped()
    tally = Tally()
    runner = Runner(case_timeout_s)
    deadline = time.monotonic() + budget_s
    try:
        index = 0
        while time.monotonic() < deadline:
            kind, path = files[index % len(files)] if index < len(files) else rng.choice(files)
            case = make_case(kind, path, rng)
            outcome = runner.run(case)
            tally.by_status[outcome.status] += 1
            tally.by_kind[kind] += 1
            if outcome.status in FAILURES:
                tally.failures.append((case, outcome))
            index += 1
    finally:
        runner.close()
    return tally


def report(tally: Tally, seed: int, budget_s: float, save: Path | None) -> None:
    """The summary line, the cases per kind, and each failure with its input."""
    cases = sum(tally.by_status.values())
    counts = ", ".join(f"{status} {tally.by_status[status]}" for status in ("ran", "refused", *FAILURES))
    print(f"fuzz_profiles: seed {seed}, budget {budget_s:g} s: {cases} cases ({counts})")
    print("  by kind: " + ", ".join(f"{kind} {count}" for kind, count in sorted(tally.by_kind.items())))
    for number, (case, outcome) in enumerate(tally.failures, start=1):
        print(f"\n[{number}] {outcome.status}: {case.kind} from {case.origin}")
        print("  input: " + case.content[:600].decode("utf-8", "backslashreplace").replace("\n", "\n         "))
        print("  " + outcome.detail.strip()[-1500:].replace("\n", "\n  "))
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{number:03d}-{case.kind}-{case.name}").write_bytes(case.content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget-s", type=float, default=60.0, help="seconds to spend on cases")
    parser.add_argument("--case-timeout-s", type=float, default=30.0, help="seconds before a case counts as a hang")
    parser.add_argument("--save", type=Path, help="folder to write each failing input to")
    args = parser.parse_args(argv)
    tally = fuzz(args.seed, args.budget_s, args.case_timeout_s)
    report(tally, args.seed, args.budget_s, args.save)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
