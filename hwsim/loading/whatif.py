"""What-if scenarios: a baseline scenario plus changes.

    name: fp8 and a second H200
    changes:
      hardware: h200-sxm        # any of: hardware, count, replicas, model, dtype, kv_dtype, weight_bits,
      count: 2                  #   placement, pricing, engine (partial), workload, techniques
      techniques:
        quantization: {bits: 4, group_size: 128}
        speculative: {draft_model: llama-3-8b, draft_length: 4, acceptance: 0.7}

A what-if names only what differs, so a report compares like with like: everything it does not
name is the baseline's. Errors without a location of their own (an unknown id, a bad placement)
are reported against the `changes` block of the what-if file.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, scenario_yaml, techniques_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.specs import deployment
from hwsim.specs.placement import parse
from hwsim.specs.scenario import MAX_DEVICES, MAX_REPLICAS, EngineConfig, Scenario

CHANGEABLE = ("hardware", "count", "replicas", "model", "dtype", "kv_dtype", "weight_bits", "placement", "pricing",
              "engine", "workload", "techniques")


@contextlib.contextmanager
def _located(path: Path, field: str) -> Iterator[None]:
    """Turn an error that names no file into an InputError at `field` of the what-if at `path`."""
    try:
        yield
    except InputError:
        raise
    except HwsimError as exc:
        raise InputError(str(path), field, str(exc)) from None


def _check_keys(changes: Fields) -> None:
    for key in changes:
        if key not in CHANGEABLE:
            raise changes.error(key, f"cannot be changed in a what-if; expected one of {', '.join(CHANGEABLE)}")


def _precision(changes: Fields, base: deployment.Precision) -> deployment.Precision:
    """`base` with any of dtype, kv_dtype and weight_bits changed."""
    return deployment.Precision(changes.string("dtype", base.dtype), changes.string("kv_dtype", base.kv_dtype),
                                changes.number("weight_bits", base.weight_bits))


def _with_deployment_changes(baseline: Scenario, changes: Fields) -> Scenario:
    """`baseline` with the changes that name profiles or settings: hardware, count, model, replicas,
    precision, placement and pricing."""
    scenario = baseline
    if changes.has("hardware") or changes.has("count"):
        hardware = changes.string("hardware", baseline.system.id)
        count = changes.integer("count", baseline.system.accelerator_count or 1, high=MAX_DEVICES)
        scenario = replace(scenario, system=catalog.system(hardware, count))
    if changes.has("model"):
        scenario = replace(scenario, model=catalog.model(changes.string("model")))
    if changes.has("replicas"):
        scenario = replace(scenario, replicas=changes.integer("replicas", high=MAX_REPLICAS))
    if changes.has("dtype") or changes.has("kv_dtype") or changes.has("weight_bits"):
        scenario = replace(scenario, precision=_precision(changes, baseline.precision))
    if changes.has("placement"):
        scenario = replace(scenario, placement=parse(changes.string("placement")))
    if changes.has("pricing"):
        scenario = replace(scenario, pricing=scenario_yaml.pricing_field(changes))
    if changes.has("placement") or changes.has("model"):
        deployment.check_experts_placement(scenario.placement, scenario.model)
    return scenario


def _engine_dict(engine: EngineConfig) -> dict[str, Any]:
    """An EngineConfig as the YAML keys `engine_settings` reads (quantities with units)."""
    out: dict[str, Any] = {}
    for key, value in engine.__dict__.items():
        if key == "profile":
            continue  # its settings are all below
        if key == "cuda_graph_sizes":
            out[key] = list(value) if value is not None else None
        elif key == "swap_space_bytes":
            out["swap_space"] = f"{value} B"
        elif key.startswith("kv_offload_"):  # kv_offload: {host, disk}
            out.setdefault("kv_offload", {})[key.removeprefix("kv_offload_").removesuffix("_bytes")] = f"{value} B"
        elif key.endswith("_s"):
            out[key[:-2]] = f"{value} s"
        else:
            out[key] = value
    return out


def _merged_engine(baseline: EngineConfig, changes: Fields, path: Path) -> EngineConfig:
    """A partial engine block: the baseline's settings with those it gives changed."""
    given = changes.section("engine").data
    # a new profile replaces the baseline's settings; other keys change the baseline's
    merged = dict(given) if "profile" in given else {**_engine_dict(baseline), **given}
    return scenario_yaml.engine_settings(Fields(merged, str(path), f"{changes.path}.engine"))


def apply(baseline: Scenario, changes: Fields, path: Path) -> Scenario:
    """`baseline` with each given change; every key is checked, unknown ones are errors."""
    _check_keys(changes)
    with _located(path, changes.path):
        scenario = _with_deployment_changes(baseline, changes)
    if changes.has("engine"):
        scenario = replace(scenario, engine=_merged_engine(baseline.engine, changes, path))
    if changes.has("workload"):
        scenario = replace(scenario, workload=scenario_yaml.workload_field(changes, path))
    if changes.has("techniques"):
        with _located(path, f"{changes.path}.techniques"):
            scenario = replace(scenario, techniques=techniques_yaml.load_techniques(changes.section("techniques")))
    changes.finish()
    return scenario


def load_whatif(path: Path, baseline: Scenario) -> Scenario:
    """The what-if at `path` applied to `baseline`; a what-if that changes nothing is an error."""
    return whatif_from(load_yaml(path), Path(path), baseline)


def whatif_from(fields: Fields, path: Path, baseline: Scenario) -> Scenario:
    """The what-if `fields` (a name and its changes, read from `path`) applied to `baseline`."""
    name = fields.string("name", Path(path).stem)
    changes = fields.section("changes")
    fields.finish()
    scenario = apply(baseline, changes, Path(path))
    if scenario == replace(baseline, name=scenario.name):
        raise fields.error("changes", "the what-if changes nothing from the baseline")
    return replace(scenario, name=name)
