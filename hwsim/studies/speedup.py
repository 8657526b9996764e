"""Does a measured kernel speedup carry through? Kernel rows before and after an optimization give
a speedup per kernel kind; the simulator predicts step and serving rows with those kernels, and
where the after-state's own step or serving rows were measured, predicted and measured
end-to-end speedups are set side by side.

A change of `launch` between the before and after rows (eager to graph: the launch overhead
removed) is part of the optimization: the after-state is predicted with the after rows' launch.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from hwsim.base.errors import HwsimError
from hwsim.loading import measurements
from hwsim.loading.measurements import Row, RowError
from hwsim.specs.techniques import Techniques
from hwsim.studies import predict

KERNEL_KINDS = ("gemm", "attention", "copy")
END_TO_END_KINDS = ("step", "serving")
IGNORED = {"id", "value", "source", "notes", "launch"}
COMPARISON_COLUMNS = ["before_id", "after_id", "kind", "metric", "measured_before", "measured_after",
                      "measured_speedup", "predicted_before", "predicted_after", "predicted_speedup", "speedup_error",
                      "reason"]


def _key(row: Row) -> tuple:
    """What must match between a before and an after row: everything but id, value, source, launch."""
    return tuple(sorted((k, v) for k, v in row.cells.items() if k not in IGNORED and v != ""))


def _better(metric: str, before: float, after: float) -> float:
    """How many times better the after-state is: shorter times, higher rates."""
    return after / before if metric.endswith("_per_s") else before / after


def kernel_speedups(before: list[Row], after: list[Row]) -> tuple[dict[str, float], pd.DataFrame]:
    """Geometric-mean measured speedup per kernel kind, and the matched kernel pairs."""
    index = {_key(r): r for r in before if r.kind in KERNEL_KINDS}
    pairs = []
    for row in after:
        if row.kind not in KERNEL_KINDS:
            continue
        match = index.get(_key(row))
        if match is None:
            continue
        pairs.append({"kind": row.kind, "before_id": match.id, "after_id": row.id,
                      "speedup": _better(row.metric, match.number("value"), row.number("value"))})
    frame = pd.DataFrame(pairs, columns=["kind", "before_id", "after_id", "speedup"])
    speedups = {kind: math.exp(group["speedup"].map(math.log).mean()) for kind, group in frame.groupby("kind")}
    return speedups, frame


def _launch_of(rows: list[Row]) -> str:
    """The launch mode all end-to-end rows share, or "" when they differ or none is given."""
    launches = {r.cells.get("launch", "") for r in rows if r.kind in END_TO_END_KINDS}
    return launches.pop() if len(launches) == 1 else ""


def _unmatched_kernels(after: list[Row], pairs: pd.DataFrame) -> list[str]:
    """Ids of after-state kernel rows with no before-state match; an error when none matched at all."""
    matched = set(pairs["after_id"])
    unmatched = [r.id for r in after if r.kind in KERNEL_KINDS and r.id not in matched]
    if any(r.kind in KERNEL_KINDS for r in after) and pairs.empty:
        raise HwsimError(f"no after-state kernel row matches a before-state row (same kind, hardware and shape); "
                         f"unmatched: {', '.join(unmatched[:10])}")
    return unmatched


def _compare_row(row: Row, match: Row | None, before: list[Row], overlays: predict.Overlays | None,
                 techniques: Techniques | None) -> dict[str, Any]:
    """Measured and predicted before and after values of one end-to-end row, and their speedups.

    Without a measured before-state row, the before-state is predicted from `row` itself with
    the before rows' launch mode. A row that cannot be predicted gets a `reason` instead.
    """
    measured_before = match.number("value") if match is not None else None
    measured_after = row.number("value")
    record: dict[str, Any] = {"after_id": row.id, "before_id": match.id if match is not None else "",
                              "kind": row.kind, "metric": row.metric, "measured_before": measured_before,
                              "measured_after": measured_after, "reason": ""}
    try:
        reference = match if match is not None else Row({**row.cells, "launch": _launch_of(before)}, row.source)
        predicted_before = predict.predict(reference, overlays)
        predicted_after = predict.predict(row, overlays, techniques)
    except RowError as exc:
        record["reason"] = str(exc)
        return record
    predicted_speedup = _better(row.metric, predicted_before, predicted_after)
    record.update(predicted_before=predicted_before, predicted_after=predicted_after,
                  predicted_speedup=predicted_speedup)
    if measured_before is not None:
        measured = _better(row.metric, measured_before, measured_after)
        record.update(measured_speedup=measured, speedup_error=predicted_speedup / measured - 1)
    return record


def compare(before_paths: list[str], after_paths: list[str], overlays: predict.Overlays | None = None) -> dict:
    """Kernel speedups measured between the before and after files, and for each end-to-end
    (step or serving) row of the after files the speedup predicted with them."""
    before = [r for p in before_paths for r in measurements.read(p)]
    after = [r for p in after_paths for r in measurements.read(p)]
    speedups, pairs = kernel_speedups(before, after)
    unmatched_kernels = _unmatched_kernels(after, pairs)
    techniques = Techniques(kernel_speedup=tuple(sorted(speedups.items()))) if speedups else None
    index = {_key(r): r for r in before if r.kind in END_TO_END_KINDS}
    rows = [_compare_row(row, index.get(_key(row)), before, overlays, techniques)
            for row in after if row.kind in END_TO_END_KINDS]
    return {"kernel_speedups": speedups, "kernel_pairs": pairs, "unmatched_kernels": unmatched_kernels,
            "rows": pd.DataFrame(rows, columns=COMPARISON_COLUMNS)}


def _nan(value: object) -> bool:
    """A value the table shows as "-": missing, or NaN where a DataFrame column left it empty."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_comparison(result: dict) -> str:
    """`compare`'s result as text: the kernel speedups, then one line per end-to-end row."""
    lines = []
    if result["kernel_speedups"]:
        lines.append("measured kernel speedups (geometric mean over matched rows):")
        for kind, value in sorted(result["kernel_speedups"].items()):
            count = int((result["kernel_pairs"]["kind"] == kind).sum())
            lines.append(f"  {kind:<10} {value:.3f}x over {count} row pairs")
    else:
        lines.append("no matched kernel rows: the optimization is what differs between the before and after rows "
                     "(e.g. launch mode)")
    if result["unmatched_kernels"]:
        lines.append(f"after-state kernel rows with no before-state match: {', '.join(result['unmatched_kernels'])}")
    lines.append("")
    lines.append(f"{'before':<10} {'after':<10} {'metric':<20} {'measured':>16} {'predicted':>16} {'speedup':>9} "
                 f"{'predicted':>9} {'error':>7}")
    for r in result["rows"].to_dict("records"):
        if r["reason"]:
            lines.append(f"{r['before_id']:<10} {r['after_id']:<10} {r['metric']:<20} {r['reason']}")
            continue
        measured = (f"{r['measured_before']:.4g} -> {r['measured_after']:.4g}" if r["measured_before"] is not None
                    and not _nan(r["measured_before"]) else f"- -> {r['measured_after']:.4g}")
        predicted = f"{r['predicted_before']:.4g} -> {r['predicted_after']:.4g}"
        measured_speedup = "-" if _nan(r.get("measured_speedup")) else f"{r['measured_speedup']:.2f}x"
        error = "-" if _nan(r.get("speedup_error")) else f"{r['speedup_error']:+.1%}"
        lines.append(f"{r['before_id']:<10} {r['after_id']:<10} {r['metric']:<20} {measured:>16} {predicted:>16} "
                     f"{measured_speedup:>9} {r['predicted_speedup']:>8.2f}x {error:>7}")
    return "\n".join(lines)
