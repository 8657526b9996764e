"""What-if studies: the question a report answers, its baseline and its what-ifs, in one file.

    question: Which weight format serves chat best on one H100?
    baseline: ../workloads/scenarios/llama3-8b-h100-chat.yaml   # a scenario file beside this one,
    whatifs:                                                   #   or a scenario mapping inline
      - name: fp8 weights
        changes: {dtype: fp8}
      - fp8-kv.yaml                                            # or a what-if file beside this one

Each what-if names only what differs from the baseline (see `whatif`), so the report compares like
with like. A study with no what-ifs is an error: a report of one scenario answers no what-if.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hwsim.loading import scenario_yaml, whatif
from hwsim.loading.fields import Fields, load_yaml
from hwsim.specs.scenario import Scenario


@dataclass(frozen=True)
class Study:
    question: str
    baseline: Scenario
    whatifs: tuple[Scenario, ...]


def _baseline(fields: Fields, path: Path) -> Scenario:
    value = fields.raw("baseline")
    if isinstance(value, str):
        return scenario_yaml.load_scenario(path.parent / value)
    if isinstance(value, dict):
        section = fields.section("baseline")
        return replace(scenario_yaml.scenario_from(section, path), name=section.data.get("name", "baseline"))
    raise fields.error("baseline", f"expected a scenario file (a path beside {path.name}) or a scenario mapping; "
                                   f"got {type(value).__name__}")


def _whatifs(fields: Fields, path: Path, baseline: Scenario) -> tuple[Scenario, ...]:
    items = fields.raw("whatifs")
    if not isinstance(items, list) or not items:
        raise fields.error("whatifs", "expected a non-empty list of what-ifs (a file name or {name, changes})")
    found = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            found.append(whatif.load_whatif(path.parent / item, baseline))
        elif isinstance(item, dict):
            found.append(whatif.whatif_from(Fields(item, str(path), f"whatifs[{i}]"), path, baseline))
        else:
            raise fields.error(f"whatifs[{i}]", f"expected a what-if file name or a mapping; got {type(item).__name__}")
    names = [w.name for w in found]
    for name in names:
        if names.count(name) > 1 or name == baseline.name:
            raise fields.error("whatifs", f"two scenarios are named {name!r}; each needs its own name in the report")
    return tuple(found)


def load_study(path: Path) -> Study:
    fields = load_yaml(path)
    question = fields.string("question")
    baseline = _baseline(fields, Path(path))
    whatifs = _whatifs(fields, Path(path), baseline)
    fields.finish()
    return Study(question, baseline, whatifs)


def is_study(path: Path) -> bool:
    """Whether the YAML at `path` is a study (it has `whatifs`), rather than a baseline scenario."""
    return load_yaml(path).has("whatifs")
