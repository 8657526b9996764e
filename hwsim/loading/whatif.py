"""What-if scenarios: a baseline scenario plus changes.

    name: fp8 and a second H200
    changes:
      hardware: h200-sxm        # any of: hardware, count, replicas, model, dtype, kv_dtype, weight_bits,
      count: 2                  #   placement, pricing, engine (partial), workload, techniques
      techniques:
        quantization: {bits: 4, group_size: 128}
        speculative: {draft_model: llama-3-8b, draft_length: 4, acceptance: 0.7}
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, scenario_yaml, techniques_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.specs import deployment
from hwsim.specs.placement import parse
from hwsim.specs.scenario import Scenario

CHANGEABLE = ("hardware", "count", "replicas", "model", "dtype", "kv_dtype", "weight_bits", "placement", "pricing",
              "engine", "workload", "techniques")


def load_whatif(path: Path, baseline: Scenario) -> Scenario:
    fields = load_yaml(path)
    name = fields.string("name", Path(path).stem)
    changes = fields.section("changes")
    fields.finish()
    scenario = apply(baseline, changes, Path(path))
    if scenario == replace(baseline, name=scenario.name):
        raise InputError(str(path), "changes", "the what-if changes nothing from the baseline")
    return replace(scenario, name=name)


def apply(baseline: Scenario, changes: Fields, path: Path) -> Scenario:
    """`baseline` with each given change; every key is checked, unknown ones are errors."""
    for key in changes.keys():
        if key not in CHANGEABLE:
            raise changes.error(key, f"cannot be changed in a what-if; expected one of {', '.join(CHANGEABLE)}")
    scenario = baseline
    try:
        if changes.has("hardware") or changes.has("count"):
            hardware = changes.string("hardware", baseline.system.id)
            count = changes.integer("count", baseline.system.accelerator_count or 1)
            scenario = replace(scenario, system=catalog.system(hardware, count))
        if changes.has("model"):
            scenario = replace(scenario, model=catalog.model(changes.string("model")))
        if changes.has("replicas"):
            scenario = replace(scenario, replicas=changes.integer("replicas"))
        if changes.has("dtype") or changes.has("kv_dtype") or changes.has("weight_bits"):
            p = baseline.precision
            scenario = replace(scenario, precision=deployment.Precision(changes.string("dtype", p.dtype),
                                                             changes.string("kv_dtype", p.kv_dtype),
                                                             changes.number("weight_bits", p.weight_bits)))
        if changes.has("placement"):
            scenario = replace(scenario, placement=parse(changes.string("placement")))
        if changes.has("pricing"):
            scenario = replace(scenario, pricing=scenario_yaml.pricing_field(changes))
    except HwsimError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(str(path), "changes", str(exc)) from None
    if changes.has("engine"):  # a partial engine block: the baseline's settings, these changed

        merged = {**_engine_dict(baseline.engine), **changes.section("engine").data}
        scenario = replace(scenario, engine=scenario_yaml.engine_settings(Fields(merged, str(path), "changes.engine")))
    if changes.has("workload"):
        scenario = replace(scenario, workload=scenario_yaml.workload_field(changes, path))
    if changes.has("techniques"):
        try:
            scenario = replace(scenario, techniques=techniques_yaml.load_techniques(changes.section("techniques")))
        except HwsimError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(str(path), "changes.techniques", str(exc)) from None
    changes.finish()
    return scenario


def _engine_dict(engine) -> dict:
    """An EngineConfig as the YAML keys `_engine` reads (quantities with units)."""
    out = {}
    for key, value in engine.__dict__.items():
        if key == "swap_space_bytes":
            out["swap_space"] = f"{value} B"
        elif key.endswith("_s"):
            out[key[:-2]] = f"{value} s"
        else:
            out[key] = value
    return out
