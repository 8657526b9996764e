"""Property tests of the strict readers: whatever the input, a reader either returns a valid object
(every number finite) or raises the project's own error, never another exception and never a hang
(each example runs under a deadline)."""
from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsim.base import units
from hwsim.base.errors import HwsimError
from hwsim.loading import catalog, hardware_yaml, measurements, workload_yaml
from hwsim.loading.fields import load_yaml
from hwsim.loading.hf_config import from_hf_config
from hwsim.loading.measurements import RowError
from hwsim.loading.plan_yaml import load_plan
from hwsim.loading.pricing_yaml import pricing
from hwsim.loading.scenario_yaml import load_scenario
from hwsim.specs.models import Model
from hwsim.specs.placement import parse

from . import mutations as m


def finite_everywhere(value: object, where: str = "") -> None:
    """Every float reachable from `value` (dataclass fields, mappings, sequences) is finite."""
    if isinstance(value, float):
        assert math.isfinite(value), f"{where} is {value}"
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            finite_everywhere(getattr(value, item.name), f"{where}.{item.name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            finite_everywhere(item, f"{where}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            finite_everywhere(item, f"{where}[{index}]")
    elif isinstance(value, pd.DataFrame):
        assert np.isfinite(value.to_numpy(dtype=float)).all(), f"{where} has a non-finite cell"


def loads_or_refuses(read, content: bytes, name: str):
    """`read` of a fresh file holding `content`: the object, or None when it raised the project's error."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            loaded = read(m.write(Path(folder), name, content))
        except HwsimError as error:
            assert "\n" not in str(error), "an error for people is one line"
            return None
        finite_everywhere(loaded)
        return loaded


# --- units ------------------------------------------------------------------------------------

quantity_texts = st.one_of(
    st.text(max_size=20),
    st.builds(lambda n, u: f"{n} {u}", st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                                 st.integers(-(10**30), 10**30)),
              st.sampled_from(["B", "GiB", "gib", "GB", "gb", "Gb", "TB/s", "tb/s", "TFLOP/s", "tops", "us", "MS", "Ms",
                               "W", "mW", "MHz", "mhz", "", "XB", "B/s"])),
)


@m.FUZZ
@given(text=quantity_texts, dimension=st.sampled_from(sorted(units.CEILINGS)))
def test_the_unit_parser_returns_a_finite_bounded_number_or_a_unit_error(text, dimension):
    try:
        value = units.parse(text, dimension)
    except units.UnitError as error:
        assert "\n" not in str(error)
        return
    assert math.isfinite(value) and abs(value) <= units.CEILINGS[dimension]


# --- hardware, models, workloads, scenarios, plans, pricing -------------------------------------

HARDWARE = {
    "gpus": lambda path: hardware_yaml.load_accelerator(load_yaml(path), catalog.links()),
    "cpus": lambda path: hardware_yaml.load_cpu(load_yaml(path)),
    "storage": lambda path: hardware_yaml.load_storage(load_yaml(path), catalog.links()),
    "links": lambda path: hardware_yaml.load_link(load_yaml(path)),
    "systems": lambda path: catalog.load_system(load_yaml(path)),
}


@pytest.mark.parametrize("kind", sorted(HARDWARE))
def test_hardware_profiles_load_or_are_refused(kind):
    @m.FUZZ
    @given(content=m.yaml_inputs(m.shipped_hardware(kind)))
    def check(content):
        loads_or_refuses(HARDWARE[kind], content, "profile.yaml")

    check()


@m.FUZZ
@given(content=m.yaml_inputs(m.shipped_models()))
def test_model_profiles_load_or_are_refused(content):
    model = loads_or_refuses(lambda path: catalog.model(str(path)), content, "model.yaml")
    if model is not None:
        assert isinstance(model, Model) and model.parameters() > 0


@m.FUZZ
@given(content=m.yaml_inputs(m.shipped_workloads()))
def test_workloads_load_or_are_refused(content):
    workload = loads_or_refuses(workload_yaml.load_workload, content, "workload.yaml")
    if workload is not None and 0 < workload.count <= 1000:
        requests = workload.requests()
        assert len(requests) == workload.count and (requests["prompt_tokens"] >= 1).all()


@m.FUZZ
@given(content=m.yaml_inputs(m.shipped_scenarios()))
def test_scenarios_load_or_are_refused(content):
    loads_or_refuses(load_scenario, content, "scenario.yaml")


@m.FUZZ
@given(content=m.yaml_inputs(m.shipped_plans()))
def test_plans_load_or_are_refused(content):
    spec = loads_or_refuses(load_plan, content, "plan.yaml")
    if spec is not None:
        assert spec.candidates


@m.FUZZ
@given(content=m.yaml_inputs(m.shipped_pricing()))
def test_pricing_profiles_load_or_are_refused(content):
    loads_or_refuses(lambda path: pricing(str(path)), content, "pricing.yaml")


@m.FUZZ
@given(content=m.json_inputs(m.hf_configs()))
def test_hf_configs_load_or_are_refused(content):
    model = loads_or_refuses(from_hf_config, content, "model/config.json")
    if model is not None:
        assert model.parameters() > 0


# --- placement strings, traces, measurement files ---------------------------------------------

placement_texts = st.lists(
    st.sampled_from(["weights", "kv", "act", "experts", "attention_compute", "experts_compute", "device", "host",
                     "disk", "remote", "storage", "=", ":", ",", ";", "0.5", "nan", "inf", "-1", "1", " ", "x"]),
    max_size=12).map("".join)


@m.FUZZ
@given(text=st.one_of(placement_texts, st.text(max_size=30)))
def test_placement_strings_parse_or_are_refused(text):
    try:
        placement = parse(text)
    except HwsimError as error:
        assert "\n" not in str(error)
        return
    for what in ("weights", "kv", "act", "experts"):
        split = getattr(placement, what)
        if split is not None:
            assert math.isclose(sum(share for _, share in split), 1.0, abs_tol=1e-6)


cells = st.one_of(st.sampled_from(["0", "1", "-1", "2.5", "nan", "inf", "", "abc", "1e400", "10000000000"]),
                  st.integers(-5, 10**8).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str))


@st.composite
def traces(draw) -> tuple[str, bytes]:
    rows = draw(st.lists(st.tuples(cells, cells, cells), max_size=6))
    if draw(st.booleans()):
        text = "timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
        return "t.csv", text.encode()
    lines = "".join(f'{{"timestamp_s": {a or 0}, "prompt_tokens": {b or 0}, "output_tokens": {c or 0}}}\n'
                    for a, b, c in rows)
    return "t.jsonl", lines.encode()


@m.FUZZ
@given(trace=st.one_of(traces(), st.tuples(st.sampled_from(["t.csv", "t.jsonl"]), st.binary(max_size=100))))
def test_trace_files_load_or_are_refused(trace):
    name, content = trace
    with tempfile.TemporaryDirectory() as folder:
        m.write(Path(folder), name, content)
        workload_file = m.write(Path(folder), "w.yaml", f"arrival: {{kind: trace, file: {name}}}\n".encode())
        try:
            workload = workload_yaml.load_workload(workload_file)
        except HwsimError:
            return
    requests = workload.requests()
    assert (requests["arrival_s"] >= 0).all() and requests["arrival_s"].is_monotonic_increasing
    assert (requests["prompt_tokens"] >= 1).all() and (requests["output_tokens"] >= 1).all()


@m.FUZZ
@given(content=st.one_of(m.garbled((m.DATA / "sample.csv").read_bytes()),
                         st.lists(st.lists(cells, min_size=4, max_size=4), max_size=4).map(
                             lambda rows: ("id,kind,metric,value\n" + "".join(",".join(r) + "\n" for r in rows)).encode())))
def test_measurement_files_read_or_are_refused_and_cells_are_typed_or_row_errors(content):
    with tempfile.TemporaryDirectory() as folder:
        try:
            rows = measurements.read(m.write(Path(folder), "m.csv", content))
        except HwsimError:
            return
    for row in rows:
        for column in row.cells:
            for typed in (row.number, row.integer):
                try:
                    value = typed(column, 1)
                except RowError:
                    continue
                assert math.isfinite(value) or column in measurements.INFINITE_MEANS
