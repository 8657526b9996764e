"""What-if report: one self-contained HTML file (plotly inlined, opens offline) comparing a baseline
with what-if scenarios, written for a capacity planner.

Capacity leads: each scenario's highest request rate within its SLOs (`studies.capacity`), and the
latency curves that find it. Then the roofline of each device in the study, where each step's time
goes per operator, latency distributions against the SLOs, memory in use against the device's
capacity, cost, the sensitivity to each change taken alone, and how often the error bands behind
the intervals covered measurements. Every chart carries a sentence saying what it shows and the one
thing to notice; a section with nothing to show says why.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hwsim.base.errors import HwsimError
from hwsim.loading import intervals_yaml
from hwsim.output.html_page import (
    BETTER,
    NEUTRAL,
    WORSE,
    Section,
    figure,
    latency_axis,
    operator_color,
    page,
    scenario_color,
)
from hwsim.perf.memory import memory_fit
from hwsim.perf.step import StepCost, operator_step
from hwsim.serving.kvcache import block_bytes
from hwsim.serving.metrics import per_request
from hwsim.serving.simulate import SimulationResult, simulate
from hwsim.specs import shape
from hwsim.specs.scenario import Scenario
from hwsim.studies import capacity, intervals, regimes

LOAD_FACTORS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)  # offered load against the workload's own rate, without SLOs
LOAD_REQUESTS = 300  # requests per point of those curves
ROOF_DTYPES = ("bf16", "fp8", "int8")
LABELED_OPS = 2  # operators per step named on the roofline (the slowest); hover names every one


@dataclass(frozen=True, eq=False)
class Run:
    """One scenario of the study: its simulation (summary with capacity and intervals) and its
    capacity search, or why it has none."""
    result: SimulationResult
    found: capacity.Capacity | None
    no_capacity: str

    @property
    def scenario(self) -> Scenario:
        return self.result.scenario

    @property
    def name(self) -> str:
        return self.result.scenario.name


def build(baseline: Scenario, whatifs: list[Scenario], knobs: dict[str, list[tuple[str, Scenario]]] | None = None,
          progress=None, question: str = "") -> str:
    """The report's HTML. `knobs` maps each what-if to its single-change variants (sensitivity);
    `question` is the study's question, shown at the top."""
    runs = []
    for scenario in [baseline] + list(whatifs):
        runs.append(_run(scenario))
        if progress:
            progress(f"simulated {scenario.name}")
    sections = [
        Section("Summary against the baseline", _summary_table([r.result for r in runs]), _summary_caption(runs)),
        _load_section(runs, progress),
        *_roofline_sections(runs),
        _breakdown_section(runs),
        _cdf_section(runs),
        _memory_section(runs),
        _cost_section(runs),
    ]
    if knobs:
        sections.append(_sensitivity_section(runs[0], knobs, progress))
    sections.append(_trust_section(runs))
    return _page(baseline, whatifs, sections, question)


def step_count(whatifs: list[Scenario], knobs: dict[str, list[tuple[str, Scenario]]] | None) -> int:
    """How many times `build` calls its `progress`: each scenario's simulation and load curve, and
    each sensitivity variant (so a progress bar can show the time left)."""
    return 2 * (1 + len(whatifs)) + sum(len(variants) for variants in (knobs or {}).values())


def _run(scenario: Scenario) -> Run:
    result = simulate(scenario)
    found, why = _capacity_of(scenario)
    if found:
        result = replace(result, summary=_with_capacity(result.summary, found))
    return Run(_with_intervals(result), found, why)


def _with_capacity(summary: dict, found: capacity.Capacity) -> dict:
    """`summary` with the capacity's fields and the cost per 1M output tokens at that capacity,
    worked out here once for all that show it: the summary table, its interval, the cost chart and
    the sensitivity."""
    summary = summary | capacity.fields(found)
    return summary | {"usd_per_1m_output_tokens_at_capacity": _at_capacity_cost(summary)}


def _capacity_of(scenario: Scenario) -> tuple[capacity.Capacity | None, str]:
    """The scenario's capacity search, or why it has none (no SLOs, a closed loop, SLOs missed idle)."""
    if why := capacity.why_not(scenario):
        return None, why.split(": ", 1)[1]
    try:
        return capacity.capacity(scenario), ""
    except HwsimError as exc:
        return None, str(exc)


# --- summary ----------------------------------------------------------------------------------


def _summary_cell(value: float | None, base_value: float | None, fmt: str, higher_better: bool) -> str:
    """One table cell: the value in `fmt` ("ms" for seconds shown as milliseconds), and its change
    against a non-zero `base_value` marked good or bad when it is over half a percent."""
    if value is None:
        return "<td>-</td>"
    text = f"{value * 1e3:,.1f} ms" if fmt == "ms" else fmt.format(value)
    if base_value:
        change = value / base_value - 1
        good = (change > 0) == higher_better
        css = "good" if good and abs(change) > 0.005 else ("bad" if abs(change) > 0.005 else "")
        text += f' <span class="{css}">({change:+.1%})</span>'
    return f"<td>{text}</td>"


def _with_intervals(result: SimulationResult) -> SimulationResult:
    """`result` with the 90% intervals of its headline figures in its summary (see `simulate`)."""
    scenario = result.scenario
    found = intervals.summary_intervals(lambda measured: regimes.of_scenario(scenario, measured), result.summary,
                                        intervals_yaml.bands())
    band = intervals.band_for(regimes.chain(regimes.of_scenario(scenario, "throughput")), intervals_yaml.bands())
    if band and "capacity_output_tokens_per_s" in result.summary:
        low, high = band.around(result.summary["capacity_output_tokens_per_s"])
        found |= {"capacity_output_tokens_per_s_low": low, "capacity_output_tokens_per_s_high": high}
        at_capacity = result.summary.get("usd_per_1m_output_tokens_at_capacity")
        if at_capacity is not None:
            cost_low, cost_high = intervals.per_token_cost_interval(
                at_capacity, result.summary["capacity_output_tokens_per_s"], low, high)
            found |= {"usd_per_1m_output_tokens_at_capacity_low": cost_low,
                      "usd_per_1m_output_tokens_at_capacity_high": cost_high}
    return replace(result, summary=result.summary | found)


def _interval_row(results: list[SimulationResult], key: str, label: str, fmt: str = "{:,.0f}") -> str:
    """The 90% interval of each scenario's `key`, and (as the cell's title) the regime it came from."""
    cells = []
    for r in results:
        low, high = r.summary.get(f"{key}_low"), r.summary.get(f"{key}_high")
        regime = r.summary.get("interval_regimes", {}).get(key, r.summary.get("interval_regimes", {}).get(
            "output_tokens_per_s", ""))
        if low is None or high is None:
            cells.append("<td>-</td>")
        elif fmt == "ms":
            cells.append(f'<td title="{html.escape(regime)}">{low * 1e3:,.1f} to {high * 1e3:,.1f} ms</td>')
        else:
            cells.append(f'<td title="{html.escape(regime)}">{fmt.format(low)} to {fmt.format(high)}</td>')
    return f'<tr><th class="interval">{label}, 90% interval</th>{"".join(cells)}</tr>'


SUMMARY_ROWS = (  # label, summary key, format, higher is better
    ("capacity under the SLOs, requests/s", "capacity_requests_per_s", "{:,.3g}", True),
    ("output tokens/s at capacity", "capacity_output_tokens_per_s", "{:,.0f}", True),
    ("$ per 1M output tokens at capacity", "usd_per_1m_output_tokens_at_capacity", "${:.3f}", False),
    ("output tokens/s over the run (drain included)", "output_tokens_per_s", "{:,.0f}", True),
    ("requests/s", "requests_per_s", "{:.2f}", True),
    ("SLO attainment", "slo_attainment", "{:.1%}", True),
    ("goodput, requests/s within the SLOs", "goodput_requests_per_s", "{:.2f}", True),
    ("TTFT p50", "ttft_p50_s", "ms", False),
    ("TTFT p99", "ttft_p99_s", "ms", False),
    ("TTFT mean", "ttft_mean_s", "ms", False),
    ("TPOT p50", "tpot_p50_s", "ms", False),
    ("TPOT p99", "tpot_p99_s", "ms", False),
    ("TPOT mean", "tpot_mean_s", "ms", False),
    ("E2E p50", "e2e_p50_s", "ms", False),
    ("E2E p99", "e2e_p99_s", "ms", False),
    ("KV cache in use, max", "kv_utilization_max", "{:.1%}", False),
    ("preemptions", "preemptions", "{:,.0f}", False),
    ("$ per 1M output tokens over the run", "usd_per_1m_output_tokens", "${:.3f}", False),
    ("$ per hour", "usd_per_hour", "${:.2f}", False),
    ("output tokens per joule", "output_tokens_per_j", "{:.2f}", True),
    ("mean power", "mean_power_w", "{:,.0f} W", False),
)
INTERVAL_ROWS = {"capacity_output_tokens_per_s": "{:,.0f}", "usd_per_1m_output_tokens_at_capacity": "${:.3f}",
                 "output_tokens_per_s": "{:,.0f}", "ttft_mean_s": "ms", "tpot_mean_s": "ms",
                 "usd_per_1m_output_tokens": "${:.3f}"}


def _at_capacity_cost(summary: dict) -> float | None:
    """$ per 1M output tokens when the scenario serves at its capacity (its price per hour over
    what it delivers there), the figure to compare hardware by."""
    tokens_per_s, usd_per_hour = summary.get("capacity_output_tokens_per_s"), summary.get("usd_per_hour")
    if not tokens_per_s or usd_per_hour is None:
        return None
    return usd_per_hour / (tokens_per_s * 3600.0) * 1e6


def _summary_table(results: list[SimulationResult]) -> str:
    summaries = [r.summary for r in results]
    head = "".join(f"<th>{html.escape(r.scenario.name)}</th>" for r in results)
    body = []
    for label, key, fmt, higher_better in SUMMARY_ROWS:
        cells = [_summary_cell(s.get(key), summaries[0].get(key) if i else None, fmt, higher_better)
                 for i, s in enumerate(summaries)]
        body.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
        if key in INTERVAL_ROWS:
            body.append(_interval_row(results, key, label, INTERVAL_ROWS[key]))
    notes = "".join(f"<li>{html.escape(r.scenario.name)}: {html.escape(_describe(r.scenario))}</li>"
                    for r in results)
    return (f'<table class="summary"><tr><th></th>{head}</tr>{"".join(body)}</table>'
            f'<ul class="notes">{notes}</ul>')


def _summary_caption(runs: list[Run]) -> str:
    base = runs[0]
    rates = {r.name: r.found.rate_per_s for r in runs if r.found is not None}
    if base.name not in rates:
        best = max(runs, key=lambda r: r.result.summary["output_tokens_per_s"])
        return (f"No capacity for {base.name}: {base.no_capacity}. Over the run, {best.name} delivers the most "
                f"output tokens/s ({best.result.summary['output_tokens_per_s']:,.0f}).")
    text = f"{base.name} serves {rates[base.name]:,.3g} requests/s within its SLOs."
    others = {name: rate for name, rate in rates.items() if name != base.name}
    if others:
        best_name = max(others, key=lambda name: others[name])
        text += (f" The highest what-if, {best_name}, serves {others[best_name]:,.3g} "
                 f"({others[best_name] / rates[base.name] - 1:+.0%}).")
    missing = [r.name for r in runs if r.found is None]
    if missing:
        text += f" No capacity for {', '.join(missing)}: the load section says why."
    return text + " Intervals are 90% bands from how far hwsim has been from measurements in the same regime."


def _describe(s: Scenario) -> str:
    devices = s.system.accelerator_count or 1
    parts = [f"{s.replicas} replica{'s' if s.replicas > 1 else ''} of {devices} x {s.system.device_name}",
             s.model.name, f"{s.precision.dtype} weights",
             f"{s.engine.batching} batching, {s.engine.max_num_seqs} seqs"]
    if not s.placement.on_device:
        parts.append(s.placement.describe())
    if not s.techniques.is_identity:
        parts.append("techniques: " + ", ".join(k for k, v in s.techniques.__dict__.items()
                                                 if v not in (None, 0.0, 1.0, (), 16.0)))
    parts.append(f"pricing {s.pricing.id if s.pricing else 'none'}")
    return "; ".join(parts)


# --- latency against offered load -------------------------------------------------------------


def _load_points(run: Run) -> list[tuple[float, dict]]:
    """(offered requests/s, summary) along the load axis: the capacity search's own runs where it
    has one, else the workload at multiples of its rate; none for a closed loop."""
    if run.found is not None:
        return sorted(((t.rate_per_s, t.summary) for t in run.found.trials), key=lambda point: point[0])
    scenario = run.scenario
    workload = scenario.workload
    if workload.arrival not in capacity.OPEN_LOOP or not workload.rate_per_s:
        return []
    points = []
    for factor in LOAD_FACTORS:
        loaded = replace(workload, rate_per_s=workload.rate_per_s * factor,
                         count=min(workload.count or LOAD_REQUESTS, LOAD_REQUESTS), duration_s=0.0)
        points.append((loaded.rate_per_s, simulate(replace(scenario, workload=loaded), keep_steps=False).summary))
    return points


def _load_section(runs: list[Run], progress=None) -> Section:
    title = "Latency against offered load"
    fig = make_subplots(rows=1, cols=2, subplot_titles=("TTFT p99", "TPOT p99"), horizontal_spacing=0.1)
    drawn, rates = [], []
    latencies: dict[int, list[float]] = {1: [], 2: []}
    for i, run in enumerate(runs):
        points = _load_points(run)
        if progress:
            progress(f"load curve of {run.name}")
        if not points:
            continue
        drawn.append(run)
        x = [rate for rate, _ in points]
        rates += x
        for col, key in ((1, "ttft_p99_s"), (2, "tpot_p99_s")):
            y = [summary[key] * 1e3 for _, summary in points]
            latencies[col] += y
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=run.name, legendgroup=run.name,
                                     showlegend=col == 1, line={"color": scenario_color(i)},
                                     hovertemplate="%{x:.3g} req/s: %{y:,.1f} ms<extra>" + html.escape(run.name)
                                     + "</extra>"), row=1, col=col)
            if run.found is not None:
                fig.add_trace(go.Scatter(x=[run.found.rate_per_s], y=[run.found.summary[key] * 1e3], mode="markers",
                                         name=f"{run.name}: capacity", legendgroup=run.name, showlegend=False,
                                         marker={"symbol": "star", "size": 16, "color": scenario_color(i),
                                                 "line": {"color": "#000", "width": 1}},
                                         hovertemplate="capacity %{x:.3g} req/s<extra>" + html.escape(run.name)
                                         + "</extra>"), row=1, col=col)
    if not drawn:
        return Section(title, empty_reason=f"No load curve: {runs[0].no_capacity}. A closed loop's load is set by its "
                                           "users, not a rate; the summary gives its latency at that load.")
    slo = runs[0].scenario.slo
    for col, limit, name in ((1, slo.ttft_s, "TTFT"), (2, slo.tpot_s, "TPOT")):
        if limit is not None:
            fig.add_trace(_slo_line(name, [min(rates), max(rates)], [limit * 1e3] * 2), row=1, col=col)
    log_x = max(rates) / min(rates) > 20
    fig.update_xaxes(title_text="offered load (requests/s)", type="log" if log_x else "linear")
    for col in (1, 2):
        limits = [limit * 1e3 for limit in (slo.ttft_s if col == 1 else slo.tpot_s,) if limit is not None]
        fig.update_yaxes(title_text="p99 latency (ms)", row=1, col=col, **latency_axis(latencies[col] + limits))
    fig.update_layout(height=460, legend={"orientation": "h", "y": -0.2})
    return Section(title, figure(fig), _load_caption(runs, drawn))


def _load_caption(runs: list[Run], drawn: list[Run]) -> str:
    text = ("Each point is a whole simulation at that offered rate; a star marks the highest rate that holds the "
            "SLOs (bisected to 2%), dashed lines are the SLOs.")
    base = runs[0]
    if base.found is not None:
        above = [t for t in base.found.trials if not t.holds and t.rate_per_s > base.found.rate_per_s]
        if above:
            first = min(above, key=lambda t: t.rate_per_s)
            text += f" {base.name}'s capacity is set by the first limit missed above it: {first.why}."
    else:
        text += f" No SLOs to hold here ({base.no_capacity}): the curves show how latency grows with load."
    missing = [r.name for r in runs if r not in drawn]
    if missing:
        text += f" Not drawn: {', '.join(missing)} (a closed loop has no offered rate)."
    return text


def _slo_line(name: str, x: list[float], y: list[float]) -> go.Scatter:
    """An SLO drawn as a dashed line through two points, named in the legend and on hover (a trace
    rather than a layout shape: shapes and their notes misplace themselves on log axes)."""
    return go.Scatter(x=x, y=y, mode="lines", name=f"{name} SLO", legendgroup=f"{name} SLO",
                      line={"color": "#555", "dash": "dash", "width": 1.5},
                      hovertemplate=f"{name} SLO: {max(x) if x[0] == x[1] else max(y):,.4g} ms<extra></extra>")


# --- roofline ---------------------------------------------------------------------------------


def _steps_for(scenario: Scenario, result: SimulationResult) -> tuple[StepCost, StepCost]:
    """A representative prefill (mean prompt, one sequence) and decode step (mean batch, mean context)."""
    requests = result.requests
    prompt = max(1, int(requests["prompt_tokens"].mean()))
    context = int((requests["prompt_tokens"] + requests["output_tokens"] / 2).mean())
    batch = max(1, round(result.summary["mean_batch"]))
    on_device = replace(scenario.deployment, precision=scenario.techniques.precision(scenario.precision))
    prefill = operator_step(on_device, shape.StepShape.prefill(1, prompt))
    decode = operator_step(on_device, shape.StepShape.decode(batch, context))
    return prefill, decode


def _shapes_text(run: Run, prefill: StepCost, decode: StepCost) -> str:
    """The two steps' shapes in words."""
    prompt, batch = int(prefill.shape.tokens), int(decode.shape.sequences)
    context = decode.shape.groups[0].kv_len - 1
    return (f"{run.name}: prefill of one {prompt:,}-token prompt; decode of {batch} sequences at {context:,} "
            "tokens of context")


def _roofline_sections(runs: list[Run]) -> list[Section]:
    """One roofline per device in the study, with every scenario that runs on it."""
    by_device: dict[str, list[int]] = {}
    for i, run in enumerate(runs):
        by_device.setdefault(run.scenario.system.device_name, []).append(i)
    return [_roofline(device, [(i, runs[i]) for i in indices]) for device, indices in by_device.items()]


def _roofs(device, fig: go.Figure, intensity: np.ndarray) -> list[str]:
    """The achievable roofs of `device`, one per distinct peak among bf16, fp8 and int8 (dtypes
    with the same peak share a roof and its name), drawn on `fig`."""
    bandwidth = device.memory_bandwidth_bytes_per_s * device.performance.memory_efficiency
    by_peak: dict[float, list[str]] = {}
    for dtype in ROOF_DTYPES:
        if device.peak(dtype):
            by_peak.setdefault(device.peak(dtype), []).append(dtype)
    names = []
    for dashes, (peak, dtypes) in zip(("solid", "dash", "dot"), sorted(by_peak.items()), strict=False):
        achievable = peak * device.performance.gemm_efficiency.get(dtypes[0], 0.75)
        name = " / ".join(dtypes)
        fig.add_trace(go.Scatter(x=intensity, y=np.minimum(achievable, bandwidth * intensity), mode="lines",
                                 name=f"{name} roof", line={"color": "#444", "dash": dashes},
                                 hovertemplate=f"{name} roof: %{{y:.3s}}FLOP/s<extra></extra>"), row=1, col=1)
        names.append(name)
    return names


def _roofline(device_name: str, runs: list[tuple[int, Run]]) -> Section:
    device = runs[0][1].scenario.system.compute
    fig = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.12,
                        subplot_titles=("operators with FLOPs", "operators with no FLOPs counted"))
    roofs = _roofs(device, fig, np.logspace(-1, 4, 200))
    steps = [(i, run, _steps_for(run.scenario, run.result)) for i, run in runs]
    labeled = _labeled([c for _, _, pair in steps for step in pair for c in step.costs])
    for i, run, pair in steps:
        for phase, step, symbol in zip(("prefill", "decode"), pair, ("circle", "diamond"), strict=True):
            _roof_points(fig, run.name, phase, step, scenario_color(i), symbol, labeled)
    bandwidth = device.memory_bandwidth_bytes_per_s * device.performance.memory_efficiency
    fig.add_vline(x=bandwidth / 1e9, line={"color": "#444"}, annotation_text="achievable", row=1, col=2)
    decades = [10.0 ** k for k in range(-1, 5)]
    fig.update_xaxes(title_text="arithmetic intensity (FLOP/byte)", type="log", tickvals=decades,
                     ticktext=[f"{v:g}" for v in decades], row=1, col=1)
    fig.update_yaxes(title_text="achieved compute (FLOP/s)", type="log", dtick=1, tickformat="~s", row=1, col=1)
    fig.update_xaxes(title_text="achieved bandwidth (GB/s)", rangemode="tozero", tickformat=",~r", row=1, col=2)
    fig.update_yaxes(title_text="operator", row=1, col=2)
    fig.update_layout(height=560, legend={"orientation": "h", "y": -0.18},
                      title=f"{device_name}: each operator at its predicted time")
    shapes = "; ".join(_shapes_text(run, *pair) for _, run, pair in steps)
    caption = (f"Circles are the prefill step's operators, diamonds the decode step's; roofs for {', '.join(roofs)} "
               f"at the device's achievable rates. The slowest operators are named where a label has room; hover "
               f"for every one. Shapes: {shapes}. Collectives run on the link and are left out.")
    return Section(f"Roofline: {device_name}", figure(fig), caption)


LABEL_DECADES = (0.7, 0.22)  # a label's room on the roofline, in decades of intensity and of FLOP/s


def _labeled(costs: list) -> set[int]:
    """The ids of the operator costs to name on the roofline: the slowest first, each only where no
    label already placed is within a label's room, so no two labels overlap."""
    placed: list[tuple[float, float]] = []
    chosen = set()
    for c in sorted((c for c in costs if c.op.flops and c.op.bytes and c.time_s > 0 and c.op.kind != "collective"),
                    key=lambda c: c.time_s, reverse=True):
        x, y = math.log10(c.op.flops / c.op.bytes), math.log10(c.op.flops * c.op.repeat / c.time_s)
        if all(abs(x - px) > LABEL_DECADES[0] or abs(y - py) > LABEL_DECADES[1] for px, py in placed):
            placed.append((x, y))
            chosen.add(id(c))
    return chosen


def _roof_points(fig: go.Figure, name: str, phase: str, step: StepCost, color: str, symbol: str,
                 labeled: set[int]) -> None:
    """One step's operators: those with FLOPs on the roofline, the others by achieved bandwidth."""
    costs = [c for c in step.costs if c.op.kind != "collective" and c.op.bytes and c.time_s > 0]
    with_flops = [c for c in costs if c.op.flops]
    hover = "%{customdata}<extra>" + html.escape(f"{name}, {phase}") + "</extra>"
    fig.add_trace(go.Scatter(
        x=[c.op.flops / c.op.bytes for c in with_flops], y=[c.op.flops * c.op.repeat / c.time_s for c in with_flops],
        mode="markers+text", name=f"{name}: {phase}", legendgroup=name,
        marker={"symbol": symbol, "size": 10, "color": color, "line": {"color": "#fff", "width": 1}},
        text=[c.op.name if id(c) in labeled else "" for c in with_flops], textposition="top center",
        customdata=[f"{c.op.name} ({c.op.shape or c.op.kind}): {c.op.flops / c.op.bytes:.1f} FLOP/byte, "
                    f"{c.time_s * 1e6:,.1f} us" for c in with_flops], hovertemplate=hover), row=1, col=1)
    without = [c for c in costs if not c.op.flops]
    fig.add_trace(go.Scatter(
        x=[c.op.bytes * c.op.repeat / c.time_s / 1e9 for c in without], y=[c.op.name for c in without],
        mode="markers", name=f"{name}: {phase}, no FLOPs", legendgroup=name, showlegend=False,
        marker={"symbol": symbol, "size": 9, "color": color},
        customdata=[f"{c.op.name}: {c.op.bytes * c.op.repeat / 1e6:,.2f} MB in {c.time_s * 1e6:,.1f} us"
                    for c in without], hovertemplate=hover), row=1, col=2)


# --- where the time goes ----------------------------------------------------------------------


def _op_names(steps: list[tuple[StepCost, StepCost]]) -> list[str]:
    """Operator names of all the steps, each once, in order of first appearance."""
    ops: list[str] = []
    for prefill, decode in steps:
        for c in prefill.costs + decode.costs:
            if c.op.name not in ops:
                ops.append(c.op.name)
    return ops


def _breakdown_section(runs: list[Run]) -> Section:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("prefill step", "decode step"))
    names = [r.name for r in runs]
    steps = [_steps_for(r.scenario, r.result) for r in runs]
    for op in _op_names(steps):
        for col, which in ((1, 0), (2, 1)):
            values = [sum(c.time_s for c in s[which].costs if c.op.name == op) * 1e3 for s in steps]
            fig.add_trace(go.Bar(x=names, y=values, name=op, legendgroup=op, showlegend=col == 1,
                                 marker={"color": operator_color(op)},
                                 hovertemplate=op + ": %{y:.3f} ms<extra>%{x}</extra>"), row=1, col=col)
    fig.update_yaxes(title_text="time per step (ms)")
    fig.update_layout(barmode="stack", height=620, legend={"orientation": "h", "y": -0.15, "font": {"size": 11}})
    decode = steps[0][1]
    top = max(_op_names([steps[0]]), key=lambda op: sum(c.time_s for c in decode.costs if c.op.name == op))
    share = sum(c.time_s for c in decode.costs if c.op.name == top) / decode.time_s
    caption = (f"Each bar is one step's time split by operator, one colour per operator on every chart; the steps "
               f"are the roofline's. In {runs[0].name}'s decode step, {top} takes the most time ({share:.0%}).")
    return Section("Where the time goes, per operator", figure(fig), caption)


# --- latency distributions --------------------------------------------------------------------


def _cdf_section(runs: list[Run]) -> Section:
    fig = make_subplots(rows=1, cols=3, subplot_titles=("time to first token", "time per output token",
                                                         "end-to-end latency"))
    seen: dict[int, list[float]] = {1: [], 2: [], 3: []}
    for i, run in enumerate(runs):
        table = per_request(run.result.requests)
        for col, key in ((1, "ttft_s"), (2, "tpot_s"), (3, "e2e_s")):
            values = np.sort(table[key].dropna().to_numpy()) * 1e3
            seen[col] += [float(values[0]), float(values[-1])] if len(values) else []
            fig.add_trace(go.Scatter(x=values, y=np.arange(1, len(values) + 1) / max(1, len(values)),
                                     mode="lines", name=run.name, legendgroup=run.name, showlegend=col == 1,
                                     line={"color": scenario_color(i)}), row=1, col=col)
    slo = runs[0].scenario.slo
    for col, limit, name in ((1, slo.ttft_s, "TTFT"), (2, slo.tpot_s, "TPOT")):
        if limit is not None:
            fig.add_trace(_slo_line(name, [limit * 1e3] * 2, [0.0, 1.0]), row=1, col=col)
            seen[col].append(limit * 1e3)
    for col in (1, 2, 3):
        fig.update_xaxes(title_text="latency (ms)", row=1, col=col, **latency_axis(seen[col]))
    fig.update_yaxes(title_text="share of requests", tickformat=".0%", range=[0, 1.02])
    fig.update_layout(height=440, legend={"orientation": "h", "y": -0.22})
    if slo.ttft_s is None and slo.tpot_s is None:
        caption = "Share of requests at or under each latency. The scenarios set no SLOs, so no SLO lines are drawn."
    else:
        attained = ", ".join(f"{r.name} {r.result.summary['slo_attainment']:.1%}" for r in runs)
        caption = ("Share of requests at or under each latency; dashed lines are the SLOs. Requests within every "
                   f"SLO over the run: {attained}.")
    return Section("Latency distributions", figure(fig), caption)


# --- memory -----------------------------------------------------------------------------------


def _memory_section(runs: list[Run]) -> Section:
    """KV blocks in use, and device memory in use: weights and activations all the time, the KV
    cache as it fills (blocks in use x bytes per block on one device), under each device's capacity."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("share of KV blocks in use", "device memory in use"))
    peaks = []
    for i, run in enumerate(runs):
        steps, s = run.result.steps, run.scenario
        assert steps is not None  # `_run` keeps the step table
        color = scenario_color(i)
        fig.add_trace(go.Scatter(x=steps["start_s"], y=steps["kv_blocks_used"] / steps["kv_blocks_total"],
                                 mode="lines", name=s.name, legendgroup=s.name, line={"color": color}), row=1, col=1)
        precision = s.techniques.precision(s.precision)
        fit = memory_fit(s.model, s.system, precision, s.engine.max_num_seqs, 0, s.engine.max_num_batched_tokens)
        per_block = block_bytes(s.model, precision, s.engine.block_size, s.tp) if s.placement.on_device else 0.0
        used = fit.weights_bytes + fit.activation_bytes + fit.reserve_bytes + steps["kv_blocks_used"] * per_block
        fig.add_trace(go.Scatter(x=steps["start_s"], y=used / 1e9, mode="lines", name=s.name, legendgroup=s.name,
                                 showlegend=False, line={"color": color}), row=1, col=2)
        capacity_gb = s.system.compute.memory_bytes / 1e9
        fig.add_hline(y=capacity_gb, line={"color": color, "dash": "dash"},
                      annotation_text=f"{s.system.device_name}: {capacity_gb:,.0f} GB", row=1, col=2)
        peaks.append(f"{s.name} {float(used.max()) / 1e9:,.0f} of {capacity_gb:,.0f} GB")
    fig.update_xaxes(title_text="simulated time (s)")
    fig.update_yaxes(title_text="KV blocks in use", tickformat=".0%", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="memory in use (GB per device)", rangemode="tozero", row=1, col=2)
    fig.update_layout(height=420, legend={"orientation": "h", "y": -0.22})
    caption = ("Left: the share of the KV cache's blocks held by running sequences; right: weights, activations, the "
               f"engine's reserve and the KV in use, against each device's memory (dashed). Peak: {'; '.join(peaks)}.")
    return Section("KV cache and memory in use over time", figure(fig), caption)


# --- cost -------------------------------------------------------------------------------------


def _cost_section(runs: list[Run]) -> Section:
    title = "Cost"
    priced = [r for r in runs if r.result.summary.get("usd_per_hour") is not None]
    if not priced:
        return Section(title, empty_reason="No scenario names a pricing profile, so none has a cost.")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("$ per hour by part", "$ per 1M output tokens"))
    names = [r.name for r in priced]
    parts = sorted({k for r in priced for k in r.result.summary.get("breakdown_usd_per_hour", {})})
    for j, part in enumerate(parts):
        fig.add_trace(go.Bar(x=names, y=[r.result.summary.get("breakdown_usd_per_hour", {}).get(part, 0.0)
                                         for r in priced], name=part, marker={"color": scenario_color(j + 3)}),
                      row=1, col=1)
    fig.add_trace(go.Bar(x=names, y=[r.result.summary.get("usd_per_1m_output_tokens") or 0.0 for r in priced],
                         name="over the run", marker={"color": NEUTRAL}, offsetgroup="run"), row=1, col=2)
    at_capacity = [r.result.summary.get("usd_per_1m_output_tokens_at_capacity") for r in priced]
    if any(v is not None for v in at_capacity):
        fig.add_trace(go.Bar(x=names, y=[v or 0.0 for v in at_capacity], name="at capacity",
                             marker={"color": "#1f77b4"}, offsetgroup="capacity"), row=1, col=2)
    fig.update_yaxes(title_text="cost ($ per hour)", row=1, col=1)
    fig.update_yaxes(title_text="cost ($ per 1M output tokens)", row=1, col=2)
    fig.update_layout(barmode="stack", height=420)  # the parts stack; the two costs stand side by side
    known = [(v, r.name) for v, r in zip(at_capacity, priced, strict=True) if v is not None]
    if known:
        value, name = min(known)
        caption = (f"Right: cost per 1M output tokens over the run (drain included) and at capacity, where a planner "
                   f"would run it. Cheapest at capacity: {name}, ${value:.3f} per 1M output tokens.")
    else:
        caption = "Right: cost per 1M output tokens over the run (drain included); no scenario has a capacity to price."
    return Section(title, figure(fig), caption)


# --- sensitivity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lever:
    label: str
    lever: float | None  # relative change of capacity (or of throughput over the run, without capacity)
    cost: float | None  # relative change of $ per 1M output tokens (at capacity where there is one)


def _sensitivity_section(base: Run, knobs: dict[str, list[tuple[str, Scenario]]], progress=None) -> Section:
    by_capacity = base.found is not None
    base_cost = base.result.summary.get(
        "usd_per_1m_output_tokens_at_capacity" if by_capacity else "usd_per_1m_output_tokens")
    levers = []
    for whatif, variants in knobs.items():
        for knob, scenario in variants:
            levers.append(_lever(f"{whatif}: {knob}", base, scenario, by_capacity, base_cost))
            if progress:
                progress(f"sensitivity: {whatif}: {knob}")
    title = "Sensitivity: each change alone"
    if not levers:
        return Section(title, empty_reason="The what-ifs change nothing that can be taken alone.")
    metric = "capacity under the SLOs" if by_capacity else "output tokens/s over the run"
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=(f"change in {metric}", "change in $ per 1M output tokens"))
    ordered = sorted(levers, key=lambda lv: abs(lv.lever or 0.0))
    labels = [lv.label for lv in ordered]
    for col, values, higher_better in ((1, [lv.lever for lv in ordered], True),
                                       (2, [lv.cost for lv in ordered], False)):
        fig.add_trace(go.Bar(y=labels, x=[v or 0.0 for v in values], orientation="h", showlegend=False,
                             marker={"color": [_direction_color(v, higher_better) for v in values]},
                             text=["n/a" if v is None else f"{v:+.1%}" for v in values], textposition="outside",
                             cliponaxis=False, hovertemplate="%{y}: %{text}<extra></extra>"), row=1, col=col)
        span = _symmetric_span([v for v in values if v is not None])
        fig.update_xaxes(range=[-span, span], tickformat=_percent_format(span), zeroline=True, zerolinewidth=2,
                         zerolinecolor="#444", title_text="relative change", row=1, col=col)
    fig.update_layout(height=max(320, 56 * len(labels) + 160))
    biggest = ordered[-1]
    caption = (f"Each of the what-ifs' changes applied alone to the baseline; bars to the right raise the figure. "
               f"Green is better (more {metric}, lower cost), red worse. The biggest lever on {metric} is "
               f"{biggest.label} ({'n/a' if biggest.lever is None else f'{biggest.lever:+.1%}'}).")
    if not by_capacity:
        caption += f" Without a capacity for the baseline ({base.no_capacity}), throughput over the run stands in."
    if any(lv.lever is None for lv in levers):
        caption += (" n/a: the change alone does not run (it no longer fits, say), misses the SLOs even at the "
                    "lowest rate, or has no price.")
    return Section(title, figure(fig), caption)


def _lever(label: str, base: Run, scenario: Scenario, by_capacity: bool, base_cost: float | None) -> Lever:
    """How much one change alone moves the headline figure and the cost per token (n/a when the
    change alone is not a scenario that runs: a model that no longer fits, say)."""
    try:
        summary = simulate(scenario, keep_steps=False).summary
    except HwsimError:
        return Lever(label, None, None)
    if by_capacity:
        found, _ = _capacity_of(scenario)
        if found is None or base.found is None:
            return Lever(label, None, None)
        summary = _with_capacity(summary, found)
        lever = found.rate_per_s / base.found.rate_per_s - 1
        cost = summary["usd_per_1m_output_tokens_at_capacity"]
    else:
        lever = summary["output_tokens_per_s"] / base.result.summary["output_tokens_per_s"] - 1
        cost = summary.get("usd_per_1m_output_tokens")
    return Lever(label, lever, cost / base_cost - 1 if cost is not None and base_cost else None)


def _direction_color(change: float | None, higher_better: bool) -> str:
    if change is None or abs(change) < 0.005:
        return NEUTRAL
    return BETTER if (change > 0) == higher_better else WORSE


def _symmetric_span(values: list[float]) -> float:
    """Half the width of an axis centred on zero that holds every value and its label (at least
    +-2%, so a change of nothing stays a sliver)."""
    return max(0.02, 1.3 * max((abs(v) for v in values), default=0.0))


def _percent_format(span: float) -> str:
    """A signed percent tick format with as many decimals as ticks about span/3 apart need, so no
    two ticks read the same."""
    step = span / 3
    decimals = max(0, -math.floor(math.log10(step * 100))) if step > 0 else 0
    return f"+.{decimals}%"


# --- how far to trust the numbers -------------------------------------------------------------


def _trust_section(runs: list[Run]) -> Section:
    title = "How far to trust these numbers"
    groups = intervals_yaml.coverage()
    if not groups:
        return Section(title, empty_reason="No validation coverage is installed (validation/intervals.yaml).")
    mine = {"/".join(regimes.of_scenario(r.scenario, measured)[:3]) for r in runs
            for measured in ("throughput", "ttft", "inter-token")}
    names = [g.group for g in groups]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[g.covered_in_sample for g in groups], name="fitted on every row",
                         marker={"color": "#9ecae1"}, customdata=[g.rows for g in groups],
                         hovertemplate="%{x}: %{y:.0%} of %{customdata} rows<extra>fitted on every row</extra>"))
    fig.add_trace(go.Bar(x=names, y=[g.covered_held_out for g in groups], name="each file held out of the fit",
                         marker={"color": ["#08519c" if n in mine else "#6baed6" for n in names]},
                         customdata=[g.rows for g in groups],
                         hovertemplate="%{x}: %{y:.0%} of %{customdata} rows<extra>file held out</extra>"))
    fig.add_hline(y=0.9, line={"color": "#555", "dash": "dash"}, annotation_text="90% target")
    fig.update_layout(barmode="group", height=420, yaxis={"title": "measurements inside the 90% interval",
                                                          "tickformat": ".0%", "range": [0, 1.05]},
                      xaxis={"title": "regime (kind / measure / where the data lives)"},
                      legend={"orientation": "h", "y": -0.45})
    used = [g for g in groups if g.group in mine]
    detail = "; ".join(f"{g.group}: {g.rows} rows, {g.covered_held_out:.0%} covered held out, median half-width "
                       f"{g.median_half_width:.0%}" for g in used)
    caption = ("How often each regime's 90% interval covered the measured or published figure, on hwsim's validation "
               "corpus. Dark bars are the regimes this study's scenarios fall in"
               + (f" ({detail})." if detail else " (none of them has validation rows; their intervals use a parent).")
               + " A regime whose held-out coverage is well under 90% rests on few machines: read its band as a "
                 "floor on the uncertainty, not a guarantee.")
    return Section(title, figure(fig), caption)


# --- page -------------------------------------------------------------------------------------


def _page(baseline: Scenario, whatifs: list[Scenario], sections: list[Section], question: str) -> str:
    title = f"hwsim what-if report: {baseline.name}" + (f" vs {', '.join(w.name for w in whatifs)}" if whatifs else "")
    workload, slo = baseline.workload, baseline.slo
    slos = ", ".join(f"{name} p99 under {limit * 1e3:,.0f} ms" for name, limit in (("TTFT", slo.ttft_s),
                                                                                  ("TPOT", slo.tpot_s)) if limit)
    rate = f" at {workload.rate_per_s:g} requests/s" if workload.arrival in capacity.OPEN_LOOP else ""
    intro = (f"<p><b>{html.escape(question)}</b></p>" if question else "") + (
        f"<p>{html.escape(baseline.model.name)}; workload {html.escape(workload.name)} ({workload.arrival}{rate}, "
        f"{len(workload.requests())} requests); SLOs: {html.escape(slos or 'none set')}. Every figure is a "
        f"simulation, none a measurement.</p>")
    return page(title, intro, sections)


def knob_variants(baseline: Scenario, whatif: Scenario) -> list[tuple[str, Scenario]]:
    """The baseline with each of the what-if's differences applied alone."""
    variants = []
    for field_name in ("system", "model", "replicas", "precision", "placement", "engine", "workload", "pricing"):
        if getattr(whatif, field_name) != getattr(baseline, field_name):
            variants.append((field_name, replace(baseline, **{field_name: getattr(whatif, field_name)})))
    techniques = whatif.techniques
    for name, value in techniques.__dict__.items():
        default = type(techniques)().__dict__[name]
        if value != default:
            single = replace(type(techniques)(), **{name: value})
            variants.append((name, replace(baseline, techniques=single)))
    return variants
