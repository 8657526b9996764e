"""What drives a prediction's error: its regime, from a measurement row, and the broader ones to fall back on.

A regime names, most general first: the kind of prediction (`kernel`, `step`, `serving`), what it
measures (a serving run's `throughput`, `ttft`, `inter-token` or `e2e` latency, else a `time`), where the
data lives (`on-device`, `offloaded`, `experts-on-host`, `cpu-only`, `unified`), how the hardware
is grounded (`calibrated`: its profile's efficiencies were fitted on measured kernels;
`datasheet`: datasheet figures with efficiencies from the literature), and the number format
(`16-bit`, `fp8`, `quantized`). `chain` gives a regime and its parents, finest first, so an interval
fitted on too few rows falls back to a broader one and says which it used.
"""
from __future__ import annotations

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.loading.measurements import Row
from hwsim.specs.deployment import Deployment
from hwsim.specs.placement import Placement
from hwsim.specs.scenario import Scenario

# hardware whose profile's efficiencies were fitted on measured kernel rows (validation/h200-sxm.csv,
# hardware_profiles/gpus/h200-sxm.yaml cites them)
CALIBRATED_HARDWARE = ("h200-sxm",)
KERNEL_KINDS = ("gemm", "attention", "copy")
QUANTIZED = ("int8", "int4")


def where_of(system_id: str, placement: Placement) -> str:
    """Where a deployment's data lives, in the names `regime` uses."""
    if placement.experts_compute == "host" or placement.share("experts", "host") > 0:
        return "experts-on-host"
    if not placement.on_device:
        return "offloaded"
    try:
        system = catalog.system(system_id)
    except HwsimError:
        return "on-device"
    if system.accelerator is None:
        return "cpu-only"
    return "unified" if system.compute.backend == "metal" else "on-device"


def of_scenario(scenario: Scenario, measured: str = "throughput") -> tuple[str, ...]:
    """A serving scenario's regime for a figure of `measure`, as a measurement row of it would have."""
    return of_deployment(scenario.deployment, "serving", measured)


def of_deployment(deployment: Deployment, kind: str = "step", measured: str = "time") -> tuple[str, ...]:
    """A deployment's regime for a prediction of `kind` and `measured`, as a row of it would have."""
    precision = deployment.precision
    quantized = precision.dtype in QUANTIZED or precision.weight_format or precision.weight_bits
    fmt = "fp8" if precision.dtype == "fp8" else ("quantized" if quantized else "16-bit")
    grounding = "calibrated" if deployment.system.id in CALIBRATED_HARDWARE else "datasheet"
    return (kind, measured, where_of(deployment.system.id, deployment.placement), grounding, fmt)


def _where(row: Row) -> str:
    """Where the row's model data lives: on the accelerator, offloaded, experts on the host, a CPU
    alone, or a GPU sharing memory with its CPU."""
    placement = row.cells.get("placement", "") or "device"
    if "experts_compute=host" in placement or "experts=host" in placement:
        return "experts-on-host"
    if placement != "device" and any(tier in placement for tier in ("host", "disk", "remote")):
        return "offloaded"
    try:
        system = catalog.system(row.cells.get("hardware", ""))
    except Exception:  # an unknown id: the row is unpredictable anyway
        return "on-device"
    if system.accelerator is None:
        return "cpu-only"
    return "unified" if system.compute.backend == "metal" else "on-device"


def _number_format(row: Row) -> str:
    dtype = row.cells.get("dtype", "") or "bf16"
    if dtype == "fp8":
        return "fp8"
    if dtype in QUANTIZED or row.cells.get("weight_format", "") or row.cells.get("weight_bits", ""):
        return "quantized"
    return "16-bit"


def measure(kind: str, metric: str) -> str:
    """What a prediction measures: a serving run's `throughput`, `ttft`, `inter-token` latency or
    `e2e` latency (errors of each behave differently), else a `time`."""
    if kind != "serving":
        return "time"
    if metric.endswith("per_s"):
        return "throughput"
    return "ttft" if metric.startswith("ttft") else ("inter-token" if metric.startswith(("tpot", "itl")) else "e2e")


def regime(row: Row) -> tuple[str, ...]:
    """The row's regime, most general part first: kind, measure, where, grounding, number format."""
    kind = "kernel" if row.kind in KERNEL_KINDS else row.kind
    grounding = "calibrated" if row.cells.get("hardware", "") in CALIBRATED_HARDWARE else "datasheet"
    return (kind, measure(kind, row.metric), _where(row), grounding, _number_format(row))


def chain(parts: tuple[str, ...]) -> list[str]:
    """The regime's name and its parents', finest first: `serving/on-device/datasheet/16-bit`, then
    without the number format, ..., then `serving`, then `all`."""
    return ["/".join(parts[:depth]) for depth in range(len(parts), 0, -1)] + ["all"]
