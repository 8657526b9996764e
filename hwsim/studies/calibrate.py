"""Fit a device's roofline parameters to kernel measurements, and apply the result as an overlay.

Only kernel rows (`gemm`, `attention`, `copy`) are fitted; `step` and `serving` rows stay
out-of-sample checks of how the kernels compose. The fit is coordinate descent on the mean
absolute percentage error, one parameter at a time within physical bounds.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, hardware_yaml, measurements
from hwsim.loading.fields import load_yaml
from hwsim.loading.measurements import Row
from hwsim.specs.hardware import Performance
from hwsim.specs.kernels import Curve, GemmKernel
from hwsim.studies import predict

FITTED_KINDS = ("gemm", "attention", "copy")

# parameter -> (low, high, unit scale for the YAML overlay or None for a fraction)
SCALARS = {
    "attention_efficiency": (0.1, 1.0, None),
    "memory_efficiency": (0.3, 1.0, None),
    "gemm_memory_efficiency": (0.3, 1.0, None),
    "copy_efficiency": (0.3, 1.0, None),
    "kernel_overhead_s": (0.0, 20e-6, "us"),
    "copy_latency_s": (0.0, 20e-6, "us"),
    "roofline_sharpness": (1.0, 8.0, None),
    "eager_dispatch_s": (0.0, 60e-6, "us"),
    "eager_attention_dispatch_s": (0.0, 100e-6, "us"),
    "eager_prefill_attention_dispatch_s": (0.0, 150e-6, "us"),
}
_YAML_KEYS = {name: name[:-2] if name.endswith("_s") else name for name in SCALARS}


def _error(rows: list[Row], hardware_id: str, perf: Performance) -> float:
    """Mean absolute percentage error of the predictions of `rows` with `perf` for `hardware_id`."""
    overlays = {hardware_id: perf}
    total = 0.0
    for row in rows:
        predicted = predict.predict(row, overlays)
        total += abs(predicted - row.number("value")) / row.number("value")
    return total / len(rows)


def fitted_rows(paths: list[str], hardware_id: str) -> list[Row]:
    """The kernel rows of `hardware_id` that can be predicted and have a measured value."""
    rows = []
    for path in paths:
        for row in measurements.read(path):
            if row.kind in FITTED_KINDS and row.cells.get("hardware") == hardware_id:
                try:
                    predict.predict(row)
                    if not row.number("value") > 0:  # validate refuses such rows; a fit must too
                        continue
                except measurements.RowError:
                    continue
                rows.append(row)
    return rows


def _fit_one(rows: list[Row], hardware_id: str, perf: Performance, name: str,
             best: float) -> tuple[Performance, float]:
    """`perf` with parameter `name` (`gemm:DTYPE` for a GEMM efficiency) moved to where the error is
    least, by a pattern search within its bounds; and that error."""

    def with_value(value: float) -> Performance:
        if name.startswith("gemm:"):
            return replace(perf, gemm_efficiency={**perf.gemm_efficiency, name[5:]: value})
        changes: dict[str, Any] = {name: value}
        return replace(perf, **changes)

    low, high = (0.1, 1.0) if name.startswith("gemm:") else SCALARS[name][:2]
    current = perf.gemm_efficiency.get(name[5:], 0.75) if name.startswith("gemm:") else getattr(perf, name)
    span = (high - low) / 4
    for _ in range(12):  # shrinking pattern search around the current value
        for candidate in (current - span, current + span):
            if low <= candidate <= high:
                error = _error(rows, hardware_id, with_value(candidate))
                if error < best - 1e-12:
                    best, current = error, candidate
        span /= 2
    return with_value(current), best


# kernel parameter -> (low, high): what a quantized format's GEMM kernel is fitted by
KERNEL_SCALARS = {
    "memory_efficiency": (0.05, 1.0),
    "dequant_ops_per_weight": (0.0, 32.0),
    "call_overhead_s": (0.0, 30e-6),
    "roofline_sharpness": (1.0, 8.0),
}


def _kernel_value(kernel: GemmKernel, name: str, perf: Performance) -> float:
    value = getattr(kernel, name)
    if isinstance(value, Curve):
        return value.at(1.0)
    if value is None:  # the device's own figure stands in until fitted
        return {"memory_efficiency": perf.gemm_memory_efficiency, "call_overhead_s": perf.kernel_overhead_s,
                "roofline_sharpness": perf.roofline_sharpness}.get(name, 0.0)
    return float(value)


def _with_kernel_value(kernel: GemmKernel, name: str, value: float) -> GemmKernel:
    changes: dict[str, Any] = {name: Curve.flat(value) if name == "memory_efficiency" else value}
    return replace(kernel, **changes)


def _fit_kernel(rows: list[Row], hardware_id: str, perf: Performance, format_id: str,
                passes: int) -> tuple[Performance, float, float]:
    """`perf` with the `format_id` kernel's scalars fitted to `rows` (all of that format), by the same
    pattern search; the MAPE before and after."""
    kernel = perf.kernels.get(format_id) or GemmKernel(format=format_id, compute_dtype="bf16", dequant_rows=1)
    if kernel.dequant_rows == 0 and kernel.dequant_ops_per_weight == 0:
        kernel = replace(kernel, dequant_rows=1)  # fit how much unpacking per row the data shows

    def error_of(candidate: GemmKernel) -> float:
        return _error(rows, hardware_id, replace(perf, kernels={**perf.kernels, format_id: candidate}))

    before = best = error_of(kernel)
    for _ in range(passes):
        for name, (low, high) in KERNEL_SCALARS.items():
            current, span = _kernel_value(kernel, name, perf), (high - low) / 4
            for _ in range(12):
                for value in (current - span, current + span):
                    if low <= value <= high:
                        error = error_of(_with_kernel_value(kernel, name, value))
                        if error < best - 1e-12:
                            best, current = error, value
                span /= 2
            kernel = _with_kernel_value(kernel, name, current)
    return replace(perf, kernels={**perf.kernels, format_id: kernel}), before, best


def fit(paths: list[str], hardware_id: str, passes: int = 3) -> tuple[Performance, dict]:
    """Fitted performance for `hardware_id` and a report {rows, mape_before, mape_after, kernels}.

    Rows of plain dtypes fit the device's roofline parameters; rows that name a `weight_format`
    then fit that format's kernel alone, so a quantized kernel never moves the dense GEMM figures."""
    every = fitted_rows(paths, hardware_id)
    if not every:
        raise HwsimError(f"no predictable {'/'.join(FITTED_KINDS)} rows for hardware {hardware_id!r} in "
                         f"{', '.join(paths)}")
    return fit_rows(every, hardware_id, passes)


def fit_rows(every: list[Row], hardware_id: str, passes: int = 3) -> tuple[Performance, dict]:
    """`fit` on rows already read (a cross-validation fits subsets of them)."""
    base = catalog.system(hardware_id).compute.performance
    rows = [row for row in every if not row.text("weight_format", "")]
    perf, before, best = base, 0.0, 0.0
    if rows:
        dtypes = sorted({row.cells.get("dtype") or "bf16" for row in rows if row.kind == "gemm"})
        before = best = _error(rows, hardware_id, base)
        for _ in range(passes):
            for name in [f"gemm:{d}" for d in dtypes] + list(SCALARS):
                perf, best = _fit_one(rows, hardware_id, perf, name, best)
    kernels = {}
    for format_id in sorted({row.text("weight_format", "") for row in every} - {""}):
        format_rows = [row for row in every if row.text("weight_format", "") == format_id]
        perf, k_before, k_after = _fit_kernel(format_rows, hardware_id, perf, format_id, passes)
        kernels[format_id] = {"rows": len(format_rows), "mape_before": k_before, "mape_after": k_after}
    return perf, {"rows": len(rows), "mape_before": before, "mape_after": best, "kernels": kernels}


def overlay_yaml(hardware_id: str, perf: Performance, report: dict, paths: list[str]) -> str:
    """The fit as an overlay YAML: the fitted `performance` block and what it was fitted on."""
    block: dict = {"gemm_efficiency": {k: round(v, 4) for k, v in sorted(perf.gemm_efficiency.items())}}
    for name, (_, _, unit) in SCALARS.items():
        value = getattr(perf, name)
        block[_YAML_KEYS[name]] = f"{value * 1e6:.3g} us" if unit == "us" else round(value, 4)
    kernels = {}
    for format_id, fitted in report.get("kernels", {}).items():
        kernel = perf.kernels[format_id]
        kernels[format_id] = {
            "compute": kernel.compute_dtype,
            "memory_efficiency": round(_kernel_value(kernel, "memory_efficiency", perf), 4),
            "dequant_ops_per_weight": round(kernel.dequant_ops_per_weight, 3),
            "dequant_rows": kernel.dequant_rows,
            "dequant_rate": kernel.dequant_dtype,
            "call_overhead": f"{_kernel_value(kernel, 'call_overhead_s', perf) * 1e6:.3g} us",
            "roofline_sharpness": round(_kernel_value(kernel, "roofline_sharpness", perf), 3),
            "source": f"hwsim calibrate on {fitted['rows']} {format_id} kernel rows "
                      f"(MAPE {fitted['mape_before']:.1%} -> {fitted['mape_after']:.1%})",
        }
    if kernels:
        block["kernels"] = kernels
    document = {
        "hardware": hardware_id,
        "fitted_on": [str(p) for p in paths],
        "rows": report["rows"],
        "mape_before": round(report["mape_before"], 4),
        "mape_after": round(report["mape_after"], 4),
        "performance": block,
    }
    return yaml.safe_dump(document, sort_keys=False)


def load_overlay(path: str | Path) -> predict.Overlays:
    """Read an overlay written by `hwsim calibrate`: {hardware id: Performance}."""
    fields = load_yaml(Path(path))
    hardware_id = fields.string("hardware")
    try:
        base = catalog.system(hardware_id).compute.performance
    except HwsimError as exc:
        raise InputError(fields.source, "hardware", str(exc)) from None
    perf = hardware_yaml.load_performance(fields.section("performance"), base)
    for key in ("fitted_on", "rows", "mape_before", "mape_after"):
        fields.raw(key, None)
    fields.finish()
    return {hardware_id: perf}
