"""Run one golden case in-process and compare outputs: text exactly, JSON numbers to 1e-9 relative."""
from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

from hwsim.output.cli import main

OUTPUTS = Path(__file__).resolve().parent / "outputs"
RELATIVE_TOLERANCE = 1e-9


def run_case(argv: list[str]) -> tuple[str, str | None]:
    """(standard output with the exit code, the JSON file the case wrote or None)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.json"
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main([arg.replace("{out}", str(out)) for arg in argv])
        document = out.read_text() if out.exists() else None
    return f"{stdout.getvalue()}exit {code}\n", document


def differences(expected, actual, path: str = "$") -> list[str]:
    """Where two JSON documents differ: numbers beyond the tolerance, anything else at all."""
    if isinstance(expected, bool) or isinstance(actual, bool) or not (
            isinstance(expected, (int, float)) and isinstance(actual, (int, float))):
        if isinstance(expected, dict) and isinstance(actual, dict):
            found = [f"{path}: keys {sorted(set(expected) ^ set(actual))}"] if set(expected) != set(actual) else []
            for key in expected.keys() & actual.keys():
                found += differences(expected[key], actual[key], f"{path}.{key}")
            return found
        if isinstance(expected, list) and isinstance(actual, list):
            if len(expected) != len(actual):
                return [f"{path}: {len(expected)} items, now {len(actual)}"]
            return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in differences(e, a, f"{path}[{i}]")]
        return [] if expected == actual else [f"{path}: {expected!r} -> {actual!r}"]
    if math.isclose(expected, actual, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-300) or (
            math.isnan(expected) and math.isnan(actual)):
        return []
    return [f"{path}: {expected!r} -> {actual!r}"]


def compare(name: str, argv: list[str]) -> list[str]:
    text, document = run_case(argv)
    found = []
    expected_text = (OUTPUTS / f"{name}.txt").read_text()
    if text != expected_text:
        found.append(f"{name}.txt differs:\n" + _first_difference(expected_text, text))
    json_path = OUTPUTS / f"{name}.json"
    if json_path.exists() != (document is not None):
        found.append(f"{name}: JSON output {'missing' if document is None else 'new'}")
    elif document is not None:
        found += differences(json.loads(json_path.read_text()), json.loads(document), name)
    return found


def _first_difference(expected: str, actual: str) -> str:
    for number, (e, a) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), 1):
        if e != a:
            return f"  line {number}:\n  - {e}\n  + {a}"
    return f"  {len(expected.splitlines())} lines, now {len(actual.splitlines())}"
