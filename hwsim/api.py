"""The Python API: the functions behind the CLI, returning the objects and pandas DataFrames it prints.

    import hwsim
    scenario = hwsim.load_scenario("workloads/scenarios/llama3-8b-h100-chat.yaml")
    result = hwsim.simulate(scenario)
    result.requests.describe()
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwsim.loading import catalog, plan_yaml, scenario_yaml
from hwsim.perf.estimate import Estimate
from hwsim.perf.estimate import estimate as _estimate
from hwsim.serving.simulate import SimulationResult
from hwsim.serving.simulate import simulate as _simulate
from hwsim.specs.deployment import Deployment, Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.scenario import Scenario
from hwsim.studies import plan as _plan
from hwsim.studies import validate as _validate


def load_scenario(path: str | Path) -> Scenario:
    """A serving scenario from its YAML file, every id resolved."""
    return scenario_yaml.load_scenario(Path(path))


def load_model(name: str) -> Model:
    """A model by shipped id (`llama-3-8b`), profile YAML or HuggingFace config.json."""
    return catalog.model(name)


def load_system(name: str, count: int | None = None) -> System:
    """A system by hardware id: a reference system, or `count` accelerators in a typical server."""
    return catalog.system(name, count)


def deployment(model: str | Model, hardware: str | System, count: int | None = None, dtype: str = "bf16",
               **options) -> Deployment:
    """A deployment from ids (or loaded profiles); `options` are the other `Deployment` fields."""
    model = load_model(model) if isinstance(model, str) else model
    system = load_system(hardware, count) if isinstance(hardware, str) else hardware
    precision = options.pop("precision", Precision(dtype))
    return Deployment(model, system, precision, **options)


def estimate(deployment: Deployment, batch: int = 1, prompt: int = 512, output: int = 128) -> Estimate:
    """Prefill, decode and throughput of one static batch (as `hwsim estimate`)."""
    return _estimate(deployment, batch, prompt, output)


def simulate(scenario: Scenario, requests: pd.DataFrame | None = None, keep_steps: bool = True) -> SimulationResult:
    """A serving run over time (as `hwsim simulate`): `.summary`, `.requests` and `.steps` frames
    (`.steps` None without `keep_steps`: a long run then keeps only the totals its summary needs)."""
    return _simulate(scenario, requests, keep_steps=keep_steps)


def validate(*files: str | Path) -> pd.DataFrame:
    """Every row of measurement files predicted (as `hwsim validate`): one row per measurement."""
    return _validate.validate([str(f) for f in files])


def plan(path: str | Path, workers: int = 1) -> _plan.PlanResult:
    """The cheapest configuration meeting a plan's SLOs (as `hwsim plan`)."""
    return _plan.run(plan_yaml.load_plan(Path(path)), workers=workers)
