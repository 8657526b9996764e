"""Does a measured kernel speedup carry through end to end?

Kernel rows measured before and after an optimization become two kernel tables
(`hwsim.perf.kernel_table`): each operator of a step takes its measured kernel time, interpolated
along M (GEMMs) or the context (attention) through the roofline's shape. Every end-to-end row of
the after files (a step or a serving figure) is predicted twice, with the before table on its
before-state and with the after table on its own state (dtype and format changes included), and
set beside what was measured. A step's verdict says how much of the kernels' gain reached it and
why: the changed kernels' share of the before step. With only kernel rows after, the effect is
predicted on named scenarios instead.

A change of `launch` between the before and after rows (eager to graph) is part of the optimization:
each state is predicted with its own rows' launch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from hwsim.base.errors import HwsimError
from hwsim.loading import measurements
from hwsim.loading.kernel_rows import KERNEL_KINDS, kernel_format, kernel_table
from hwsim.loading.measurements import Row, RowError
from hwsim.perf.step import StepCost
from hwsim.specs.kernel_table import KernelTable
from hwsim.specs.techniques import Techniques
from hwsim.studies import predict

END_TO_END_KINDS = ("step", "serving")
# what an optimization may change between a before and an after row of the same measurement
STATE_COLUMNS = {"id", "value", "source", "notes", "launch", "dtype", "kv_dtype", "weight_bits", "weight_format",
                 "engine"}
KERNEL_SHAPE = {"gemm": ("m", "n", "k"),
                "attention": ("batch", "q_len", "kv_len", "heads_q", "heads_kv", "head_dim", "phase")}


@dataclass(frozen=True)
class Comparison:
    kernels: pd.DataFrame  # matched kernel rows: shape, formats, measured seconds, speedup
    rows: pd.DataFrame  # one record per after-state end-to-end row
    tables: tuple[KernelTable | None, KernelTable | None]  # before, after
    unmatched_kernels: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def compare(before_paths: list[str], after_paths: list[str], overlays: predict.Overlays | None = None) -> Comparison:
    """Kernel tables of both states and, for each end-to-end row of the after files, predicted and
    measured values before and after with the verdict."""
    before = [r for p in before_paths for r in measurements.read(p)]
    after = [r for p in after_paths for r in measurements.read(p)]
    tables = _tables(before, after, before_paths, after_paths)
    kernels, unmatched = _kernel_pairs(before, after)
    index = {_state_free_key(r): r for r in before if r.kind in END_TO_END_KINDS}
    rows = [_compare_row(row, index.get(_state_free_key(row)), before, overlays, tables)
            for row in after if row.kind in END_TO_END_KINDS]
    return Comparison(kernels, pd.DataFrame(rows), tables, tuple(unmatched))


def _tables(before: list[Row], after: list[Row], before_paths: list[str],
            after_paths: list[str]) -> tuple[KernelTable | None, KernelTable | None]:
    """Each state's kernel table; a state without kernel rows is allowed only when neither has any
    (the optimization is then the launch mode or another change the end-to-end rows carry)."""
    has_before = any(r.kind in KERNEL_KINDS for r in before)
    has_after = any(r.kind in KERNEL_KINDS for r in after)
    if has_before != has_after:
        missing = ", ".join(before_paths if not has_before else after_paths)
        raise HwsimError(f"{missing}: no kernel rows (kind gemm or attention); expected the same kernels measured "
                         f"{'before' if not has_before else 'after'} the change")
    if not has_before:
        if not any(r.kind in END_TO_END_KINDS for r in after):
            raise HwsimError(f"{', '.join(after_paths)}: no kernel, step or serving rows to compare")
        return None, None
    before_table = kernel_table(before, ", ".join(before_paths))
    after_table = kernel_table(after, ", ".join(after_paths))
    if before_table.hardware != after_table.hardware:
        raise HwsimError(f"before rows are on {before_table.hardware} and after rows on {after_table.hardware}; "
                         f"expected one system measured twice")
    return before_table, after_table


def _number_or_text(value: str) -> object:
    try:
        return float(value)
    except ValueError:
        return value


def _state_free_key(row: Row) -> tuple:
    """What must match between a before and an after row: every cell but the state an optimization
    changes (launch, dtype, format) and the measurement itself; numbers compared as numbers."""
    return tuple(sorted((k, _number_or_text(v)) for k, v in row.cells.items() if k not in STATE_COLUMNS and v != ""))


def _kernel_key(row: Row) -> tuple:
    return (row.kind, row.text("hardware", ""),
            *(_number_or_text(row.text(c, "")) for c in KERNEL_SHAPE.get(row.kind, ())))


def _kernel_pairs(before: list[Row], after: list[Row]) -> tuple[pd.DataFrame, list[str]]:
    """After-state kernel rows matched with the before-state row of the same operator and shape."""
    index = {_kernel_key(r): r for r in before if r.kind in KERNEL_KINDS}
    pairs, unmatched = [], []
    for row in after:
        if row.kind not in KERNEL_KINDS:
            continue
        match = index.get(_kernel_key(row))
        if match is None:
            unmatched.append(row.id)
            continue
        shape = " ".join(f"{c}={row.text(c, '')}" for c in KERNEL_SHAPE[row.kind] if row.text(c, ""))
        pairs.append({"kind": row.kind, "shape": shape, "before_id": match.id, "after_id": row.id,
                      "before_format": kernel_format(match), "after_format": kernel_format(row),
                      "before_s": match.number("value"), "after_s": row.number("value"),
                      "speedup": match.number("value") / row.number("value")})
    return pd.DataFrame(pairs), unmatched


def _before_state(row: Row, match: Row | None, before: list[Row]) -> Row:
    """The measured before-state row, or the after row with the before rows' launch mode."""
    if match is not None:
        return match
    launches = {r.cells.get("launch", "") for r in before if r.kind in END_TO_END_KINDS}
    return Row({**row.cells, "launch": launches.pop() if len(launches) == 1 else row.cells.get("launch", "")},
               row.source)


def _compare_row(row: Row, match: Row | None, before: list[Row], overlays: predict.Overlays | None,
                 tables: tuple[KernelTable | None, KernelTable | None]) -> dict[str, Any]:
    record: dict[str, Any] = {"id": row.id, "before_id": match.id if match is not None else "", "kind": row.kind,
                              "metric": row.metric, "measured": row.number("value"),
                              "measured_before": match.number("value") if match is not None else None,
                              "reason": ""}
    before_row = _before_state(row, match, before)
    before_t, after_t = (_with_table(t) for t in tables)
    try:
        if row.kind == "step":
            record.update(_step_comparison(before_row, row, overlays, before_t, after_t))
        else:
            record["predicted_before"] = predict.predict(before_row, overlays, before_t)
            record["predicted"] = predict.predict(row, overlays, after_t)
    except RowError as exc:
        record["reason"] = str(exc)
        return record
    _add_gains(record)
    return record


def _with_table(table: KernelTable | None) -> Techniques | None:
    return Techniques(kernel_table=table) if table is not None else None


def _step_comparison(before_row: Row, row: Row, overlays: predict.Overlays | None, before_t: Techniques | None,
                     after_t: Techniques | None) -> dict[str, Any]:
    """Predicted step times of both states and how much of the step the changed kernels were."""
    before_step = predict.step_of(before_row, overlays, before_t)
    after_step = predict.step_of(row, overlays, after_t)
    result: dict[str, Any] = {"predicted_before": before_step.time_s, "predicted": after_step.time_s}
    if not (isinstance(before_step, StepCost) and isinstance(after_step, StepCost)):
        return result  # a tiered step: its verdict is the gain alone
    launches = (before_row.text("launch", "") or "graph", row.text("launch", "") or "graph")
    if launches[0] != launches[1]:
        return result | _launch_effect(launches, before_step)
    return result | _changed_kernels(before_step, after_step)


def _launch_effect(launches: tuple[str, str], before_step: StepCost) -> dict[str, Any]:
    """A launch change removes the host's dispatch: how long it left the device idle before."""
    device_s = sum(c.gpu_s * c.op.repeat if c.op.kind != "collective" else c.time_s for c in before_step.costs)
    return {"launch_change": f"{launches[0]} -> {launches[1]}",
            "host_bound_share": max(0.0, 1.0 - device_s / before_step.time_s)}


def _changed_kernels(before_step: StepCost, after_step: StepCost) -> dict[str, Any]:
    """The operators whose time changed: their share of the before step and their joint speedup."""
    changed = [(b.time_s, a.time_s) for b, a in zip(before_step.costs, after_step.costs, strict=False)
               if b.op.role == a.op.role and not math.isclose(b.time_s, a.time_s, rel_tol=1e-9)]
    if not changed:
        return {}
    before_s = sum(b for b, _ in changed)
    return {"changed_share": before_s / before_step.time_s, "kernel_speedup": before_s / sum(a for _, a in changed)}


def _better(metric: str, before: float, after: float) -> float:
    """How many times better the after-state is: shorter times, higher rates."""
    return after / before if metric.endswith("_per_s") else before / after


def _add_gains(record: dict[str, Any]) -> None:
    metric = record["metric"]
    record["predicted_speedup"] = _better(metric, record["predicted_before"], record["predicted"])
    record["error"] = record["predicted"] / record["measured"] - 1
    if record["measured_before"] is not None:
        record["measured_speedup"] = _better(metric, record["measured_before"], record["measured"])
    record["verdict"] = verdict(record)


def verdict(record: dict[str, Any]) -> str:
    """One line: how much of the kernels' gain the step got, and why."""
    gain = record.get("measured_speedup") or record["predicted_speedup"]
    said = "gained" if gain >= 1 else "lost"
    which = "measured" if record.get("measured_speedup") else "predicted"
    head = f"the {record['kind']} {said}: {gain:.2f}x {which}"
    if which == "measured":
        head += f" (predicted {record['predicted_speedup']:.2f}x)"
    if record.get("launch_change"):
        return (f"{head} from {record['launch_change']} launch: the host's dispatch left the device idle "
                f"{record['host_bound_share']:.0%} of the {record['launch_change'].split(' ')[0]} step")
    share, kernels = record.get("changed_share"), record.get("kernel_speedup")
    if share is None or kernels is None:
        return head
    return f"{head} of the changed kernels' {kernels:.2f}x, because they were {share:.0%} of it"


def scenario_effects(comparison: Comparison, scenarios: list) -> list[dict[str, Any]]:
    """The serving summary of each scenario with the before and the after kernel table."""
    from hwsim.serving.simulate import simulate

    before, after = comparison.tables
    if before is None or after is None:
        raise HwsimError("--scenario needs kernel rows before and after")
    effects = []
    for scenario in scenarios:
        if scenario.system.id != after.hardware:
            raise HwsimError(f"scenario {scenario.name} runs on {scenario.system.id}; the kernels were measured on "
                             f"{after.hardware}")
        states = [simulate(replace(scenario, techniques=replace(scenario.techniques, kernel_table=t)),
                           keep_steps=False).summary
                  for t in (before, after)]
        effects.append({"scenario": scenario.name, "before": states[0], "after": states[1]})
    return effects


def to_json(comparison: Comparison) -> dict:
    """validate's JSON format: one row per after-state end-to-end row (measured and predicted are the
    after state), with the before values, both speedups and the verdict."""
    def clean(value: object) -> object:
        return None if isinstance(value, float) and math.isnan(value) else value

    rows = [{k: clean(v) for k, v in r.items()} for r in comparison.rows.to_dict("records")]
    return {"rows": rows, "kernel_pairs": comparison.kernels.to_dict("records"),
            "unmatched_kernels": list(comparison.unmatched_kernels)}


def format_comparison(comparison: Comparison, effects: list[dict[str, Any]] | None = None) -> str:
    """The comparison as text: matched kernels, then each end-to-end row with its verdict."""
    lines = _kernel_lines(comparison)
    for record in comparison.rows.to_dict("records"):
        lines += [""] + _row_lines({str(k): v for k, v in record.items()})
    if effects is not None:
        lines += ["", "nothing measured end to end was available to compare; predicted effect on the scenarios:"]
        lines += [_effect_line(effect) for effect in effects]
    elif comparison.rows.empty:
        lines += ["", "the after files hold no step or serving rows: name scenarios with --scenario to predict the "
                      "end-to-end effect"]
    errors = [abs(r["error"]) for r in comparison.rows.to_dict("records") if not r["reason"]]
    if errors:
        lines += ["", f"after-state error over {len(errors)} rows: mean {sum(errors) / len(errors):.1%}, "
                      f"max {max(errors):.1%}"]
    return "\n".join(lines)


def _kernel_lines(comparison: Comparison) -> list[str]:
    before, after = comparison.tables
    if before is None or after is None:
        return ["no kernel rows: the change is what differs between the before and after rows (e.g. launch mode)"]
    lines = [f"kernel tables: before {before.describe()}; after {after.describe()}",
             "kernels after vs before, matched by operator and shape:"]
    for k in comparison.kernels.to_dict("records"):
        lines.append(f"  {k['kind']:<9} {k['shape']:<28} {k['before_format']:>5} {_us(k['before_s']):>10} -> "
                     f"{k['after_format']:<5} {_us(k['after_s']):>10}  {k['speedup']:6.2f}x")
    if comparison.unmatched_kernels:
        lines.append(f"after-state kernel rows with no before-state match (used, not compared): "
                     f"{', '.join(comparison.unmatched_kernels)}")
    return lines


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us"


def _value(metric: str, value: float) -> str:
    in_seconds = metric == "seconds" or (metric.endswith("_s") and not metric.endswith("_per_s"))
    return f"{value * 1e3:,.3f} ms" if in_seconds else f"{value:,.4g}"


def _row_lines(r: dict[str, Any]) -> list[str]:
    title = f"{r['kind']} {r['id']}" + (f" (before: {r['before_id']})" if r["before_id"] else "")
    if r["reason"]:
        return [title, f"  {r['reason']}"]
    measured_before = r["measured_before"]
    has_before = measured_before is not None and not (isinstance(measured_before, float)
                                                      and math.isnan(measured_before))
    before = (f"measured {_value(r['metric'], measured_before):>12}" if has_before else f"{'measured -':>21}")
    before_error = f"  ({r['predicted_before'] / measured_before - 1:+.1%})" if has_before else ""
    measured_gain = f"{r['measured_speedup']:.2f}x" if has_before else "-"
    return [title,
            f"  before   {before}   predicted {_value(r['metric'], r['predicted_before']):>12}{before_error}",
            f"  after    measured {_value(r['metric'], r['measured']):>12}   predicted "
            f"{_value(r['metric'], r['predicted']):>12}  ({r['error']:+.1%})",
            f"  gain     measured {measured_gain:>12}   predicted {r['predicted_speedup']:>11.2f}x",
            f"  verdict  {r['verdict']}"]


def _effect_line(effect: dict[str, Any]) -> str:
    b, a = effect["before"], effect["after"]
    return (f"  {effect['scenario']}: {b['output_tokens_per_s']:,.0f} -> {a['output_tokens_per_s']:,.0f} output "
            f"tokens/s, TPOT p50 {b['tpot_p50_s'] * 1e3:.1f} -> {a['tpot_p50_s'] * 1e3:.1f} ms, TTFT p50 "
            f"{b['ttft_p50_s'] * 1e3:.1f} -> {a['ttft_p50_s'] * 1e3:.1f} ms")
