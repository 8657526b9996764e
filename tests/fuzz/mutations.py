"""Hypothesis strategies for realistic bad input: the shipped files with keys dropped, values replaced by
random YAML scalars (NaN, infinities, huge, negative, text, lists), unknown keys added, or their bytes
cut and garbled. Each strategy draws a document; `write` puts it in a fresh file for a loader."""
from __future__ import annotations

import copy
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hwsim.loading import catalog
from hwsim.loading.pricing_yaml import pricing_files

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the fuzz script's document helpers, shared with these tests

from fuzz_profiles import alias_bomb, document_paths, value_at  # noqa: E402

DATA = ROOT / "tests" / "data"

# fast enough for the whole suite to stay near a minute, and the same examples every run; set
# HWSIM_FUZZ_EXAMPLES (say 2000) to search longer, with fresh random examples each time
_DEEPER = os.environ.get("HWSIM_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_DEEPER or 40), deadline=2000, derandomize=not _DEEPER, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

EDGE_NUMBERS = [0, -1, 1, 0.5, 1e9, 1e12, 1.6e13, 10**20, 10**400, -1e300, math.nan, math.inf, -math.inf, 1e-300]
EDGE_TEXT = ["", "nan", ".nan", "inf", "-inf", "1e9", "1e400", "80 GiB", "80 gib", "80 Gb", "-5 GB", "0 s", "1e30 B",
             "4.8 TB/s", "989 TFLOP/s", "3 us", "700 W", "1980 MHz", "fast", "h100-sxm", "llama-3-8b", "device",
             "kv=host;kv=device", "experts=host", "zipf:nan", "\x00\xff", "a" * 300]

scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EDGE_NUMBERS), st.sampled_from(EDGE_TEXT),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=6), scalars, max_size=2))


@st.composite
def mutated(draw, document: Any, max_changes: int = 3) -> Any:
    """`document` with one to `max_changes` changes: a value replaced, a key dropped, or an unknown key added."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        paths = document_paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if not path:
            if action == "replace":
                document = draw(values)
            continue
        parent, key = value_at(document, path[:-1]), path[-1]
        if action == "replace":
            parent[key] = draw(values)
        elif action == "drop" and isinstance(parent, dict):
            del parent[key]
        elif action == "drop":
            parent.pop(key)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return document


def dump(document: Any) -> bytes:
    """A document as YAML bytes (huge integers and NaN written as YAML writes them)."""
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


@st.composite
def garbled(draw, text: bytes) -> bytes:
    """`text` cut short, with a run of random bytes spliced in, or replaced by random bytes."""
    kind = draw(st.sampled_from(["cut", "splice", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    at = draw(st.integers(min_value=0, max_value=len(text)))
    if kind == "cut":
        return text[:at]
    return text[:at] + draw(st.binary(min_size=1, max_size=20)) + text[at:]


@st.composite
def bombed(draw, document: Any) -> Any:
    """`document` with one of its values replaced by an alias bomb (a last change: nothing walks it after)."""
    paths = [path for path in document_paths(document) if path]
    if not paths:
        return document
    path = draw(st.sampled_from(paths))
    value_at(document, path[:-1])[path[-1]] = alias_bomb()
    return document


@st.composite
def yaml_inputs(draw, files: list[Path]) -> bytes:
    """One shipped file of `files`, mutated as a document (mostly, now and then with an alias bomb)
    or garbled as bytes."""
    path = draw(st.sampled_from(files))
    text = path.read_bytes()
    roll = draw(st.integers(min_value=0, max_value=19))
    if roll < 4:
        return draw(garbled(text))
    document = draw(mutated(yaml.safe_load(text)))
    return dump(draw(bombed(document)) if roll == 4 else document)


@st.composite
def json_inputs(draw, files: list[Path]) -> bytes:
    """One of `files` (JSON), mutated as a document or garbled as bytes; NaN and infinities written as JSON does."""
    path = draw(st.sampled_from(files))
    text = path.read_bytes()
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return draw(garbled(text))
    try:
        return json.dumps(draw(mutated(json.loads(text)))).encode("utf-8")
    except (TypeError, ValueError):  # a key that JSON cannot hold
        return text


def write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def shipped_hardware(kind: str) -> list[Path]:
    return list(catalog.hardware_files(kind).values())


def shipped_models() -> list[Path]:
    return list(catalog.model_files().values())


def shipped_workloads() -> list[Path]:
    return sorted(catalog.data_dir("workloads").glob("*.yaml"))


def shipped_scenarios() -> list[Path]:
    return sorted(catalog.data_dir("workloads").glob("scenarios/*.yaml")) + sorted(
        (ROOT / "tests" / "golden" / "scenarios").glob("*.yaml"))


def shipped_plans() -> list[Path]:
    return sorted(catalog.data_dir("workloads").glob("plans/*.yaml")) + [ROOT / "tests" / "golden" / "tiny-plan.yaml"]


def shipped_pricing() -> list[Path]:
    return list(pricing_files().values())


def hf_configs() -> list[Path]:
    return sorted(DATA.glob("*-config.json"))
