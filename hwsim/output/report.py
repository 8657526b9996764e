"""What-if report: one self-contained HTML file (plotly inlined, opens offline) comparing a baseline
with what-if scenarios. The only module that imports plotly.

Sections: summary table with deltas; roofline of the baseline device with every operator of a
prefill and a decode step; per-operator time breakdown per scenario; latency CDFs; throughput and
TTFT against offered load; KV-cache use over time; cost breakdown; sensitivity of throughput and
cost to each change taken alone.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from hwsim.base.errors import HwsimError
from hwsim.loading import intervals_yaml
from hwsim.perf.memory import memory_fit
from hwsim.perf.step import StepCost, operator_step
from hwsim.serving.kvcache import block_bytes
from hwsim.serving.metrics import per_request
from hwsim.serving.simulate import SimulationResult, simulate
from hwsim.specs import shape
from hwsim.specs.scenario import Scenario
from hwsim.studies import capacity, intervals, regimes

LOAD_FACTORS = (0.5, 1.0, 1.5, 2.0, 3.0)
LOAD_REQUESTS = 300  # requests per point of the load curves
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True)
class Section:
    title: str
    body: str  # HTML


def build(baseline: Scenario, whatifs: list[Scenario], knobs: dict[str, list[tuple[str, Scenario]]] | None = None,
          progress=None) -> str:
    """The report's HTML. `knobs` maps each what-if to its single-change variants (sensitivity)."""
    scenarios = [baseline] + list(whatifs)
    results = []
    for scenario in scenarios:
        results.append(_with_intervals(_with_capacity(simulate(scenario))))
        if progress:
            progress(f"simulated {scenario.name}")
    sections = [
        Section("Summary against the baseline", _summary_table(results)),
        Section("Roofline of the baseline device", _figure(_roofline(baseline, results[0]))),
        Section("Where the time goes, per operator", _figure(_breakdown(results))),
        Section("Latency distributions", _figure(_cdfs(results))),
        Section("Throughput and TTFT against offered load", _figure(_load_curves(scenarios, progress))),
        Section("KV cache and memory in use over time", _figure(_kv_over_time(results))),
        Section("Cost", _figure(_costs(results))),
    ]
    if knobs:
        sections.append(Section("Sensitivity: each change alone", _figure(_sensitivity(results[0], knobs, progress))))
    return _page(baseline, whatifs, sections)


# --- sections ---------------------------------------------------------------------------------


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


def _with_capacity(result: SimulationResult) -> SimulationResult:
    """`result` with its scenario's capacity under the SLOs in its summary, where it has one."""
    if capacity.why_not(result.scenario):
        return result
    try:
        found = capacity.capacity(result.scenario)
    except HwsimError:  # too few requests to load it, or SLOs missed even idle: the table shows "-"
        return result
    return replace(result, summary=result.summary | capacity.fields(found))


def _with_intervals(result: SimulationResult) -> SimulationResult:
    """`result` with the 90% intervals of its headline figures in its summary (see `simulate`)."""
    scenario = result.scenario
    found = intervals.summary_intervals(lambda measured: regimes.of_scenario(scenario, measured), result.summary,
                                        intervals_yaml.bands())
    return replace(result, summary=result.summary | found)


def _interval_row(results: list[SimulationResult]) -> str:
    """The 90% interval of each scenario's throughput over the run, and the regime it came from."""
    cells = []
    for r in results:
        low, high = r.summary.get("output_tokens_per_s_low"), r.summary.get("output_tokens_per_s_high")
        regime = r.summary.get("interval_regimes", {}).get("output_tokens_per_s", "")
        cells.append("<td>-</td>" if low is None else
                     f'<td title="{html.escape(regime)}">{low:,.0f} to {high:,.0f}</td>')
    return f"<tr><th>output tokens/s, 90% interval</th>{''.join(cells)}</tr>"


def _summary_table(results: list[SimulationResult]) -> str:
    rows = [
        ("capacity under the SLOs, requests/s", "capacity_requests_per_s", "{:.2f}", True),
        ("output tokens/s at capacity", "capacity_output_tokens_per_s", "{:,.0f}", True),
        ("output tokens/s over the run (drain included)", "output_tokens_per_s", "{:,.0f}", True),
        ("requests/s", "requests_per_s", "{:.2f}", True),
        ("TTFT p50", "ttft_p50_s", "ms", False),
        ("TTFT p99", "ttft_p99_s", "ms", False),
        ("TPOT p50", "tpot_p50_s", "ms", False),
        ("TPOT p99", "tpot_p99_s", "ms", False),
        ("E2E p50", "e2e_p50_s", "ms", False),
        ("KV cache in use, max", "kv_utilization_max", "{:.1%}", False),
        ("preemptions", "preemptions", "{:,.0f}", False),
        ("$ per 1M output tokens", "usd_per_1m_output_tokens", "${:.3f}", False),
        ("$ per hour", "usd_per_hour", "${:.2f}", False),
        ("output tokens per joule", "output_tokens_per_j", "{:.2f}", True),
        ("mean power", "mean_power_w", "{:,.0f} W", False),
    ]
    head = "".join(f"<th>{html.escape(r.scenario.name)}</th>" for r in results)
    base = results[0].summary
    body = []
    for label, key, fmt, higher_better in rows:
        cells = [_summary_cell(r.summary.get(key), base.get(key) if i else None, fmt, higher_better)
                 for i, r in enumerate(results)]
        body.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
        if key == "output_tokens_per_s":
            body.append(_interval_row(results))
    notes = "".join(f"<li>{html.escape(r.scenario.name)}: {html.escape(_describe(r.scenario))}</li>"
                    for r in results)
    return (f'<table class="summary"><tr><th></th>{head}</tr>{"".join(body)}</table>'
            f'<ul class="notes">{notes}</ul>')


def _describe(s: Scenario) -> str:
    parts = [f"{s.replicas}x {s.system.accelerator_count or 1}x {s.system.device_name}", s.model.name,
             f"{s.precision.dtype} weights", f"{s.engine.batching} batching, {s.engine.max_num_seqs} seqs"]
    if not s.placement.on_device:
        parts.append(s.placement.describe())
    if not s.techniques.is_identity:
        parts.append("techniques: " + ", ".join(k for k, v in s.techniques.__dict__.items()
                                                 if v not in (None, 0.0, 1.0, (), 16.0)))
    parts.append(f"pricing {s.pricing.id if s.pricing else 'none'}")
    return "; ".join(parts)


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


def _roofline(scenario: Scenario, result: SimulationResult) -> go.Figure:
    device = scenario.system.compute
    dtype = scenario.precision.compute_dtype
    peak_flops_per_s = device.peak(dtype)
    if peak_flops_per_s is None:
        raise HwsimError(f"{scenario.system.device_name} has no {dtype} peak to draw the roofline of")
    peak = peak_flops_per_s * device.performance.gemm_efficiency.get(dtype, 0.75)
    bandwidth = device.memory_bandwidth_bytes_per_s * device.performance.memory_efficiency
    fig = go.Figure()
    intensity = np.logspace(-1, 4, 200)
    fig.add_trace(go.Scatter(x=intensity, y=np.minimum(peak, bandwidth * intensity), mode="lines",
                             name="achievable roof", line={"color": "#444"}))
    steps = zip(("prefill", "decode"), _steps_for(scenario, result), strict=True)
    for (label, step), symbol in zip(steps, ("circle", "diamond"), strict=True):
        points = [c for c in step.costs if c.op.flops and c.op.bytes and c.op.kind != "collective"]
        fig.add_trace(go.Scatter(
            x=[c.op.flops / c.op.bytes for c in points],
            y=[c.op.flops * c.op.repeat / c.time_s for c in points],
            mode="markers+text", name=f"{label} step", marker={"symbol": symbol, "size": 10},
            text=[c.op.name for c in points], textposition="top center",
            hovertemplate="%{text}: %{x:.1f} FLOP/byte, %{y:.3s}FLOP/s<extra>" + label + "</extra>"))
    fig.update_layout(xaxis={"type": "log", "title": "arithmetic intensity (FLOP/byte)"},
                      yaxis={"type": "log", "title": f"achieved {dtype} FLOP/s"},
                      title=f"{scenario.system.device_name}: each operator at its predicted time", height=520)
    return fig


def _op_names(steps: list[tuple[StepCost, StepCost]]) -> list[str]:
    """Operator names of all the steps, each once, in order of first appearance."""
    ops: list[str] = []
    for prefill, decode in steps:
        for c in prefill.costs + decode.costs:
            if c.op.name not in ops:
                ops.append(c.op.name)
    return ops


def _breakdown(results: list[SimulationResult]) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("prefill step", "decode step"))
    names = [r.scenario.name for r in results]
    steps = [_steps_for(r.scenario, r) for r in results]
    for i, op in enumerate(_op_names(steps)):
        for col, which in ((1, 0), (2, 1)):
            values = [sum(c.time_s for c in s[which].costs if c.op.name == op) * 1e3 for s in steps]
            fig.add_trace(go.Bar(x=names, y=values, name=op, legendgroup=op, showlegend=col == 1,
                                 marker={"color": COLORS[i % len(COLORS)] if i < len(COLORS) else None}),
                          row=1, col=col)
    fig.update_layout(barmode="stack", height=520, yaxis_title="ms", title="time per step by operator")
    return fig


def _cdfs(results: list[SimulationResult]) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("time to first token", "time per output token"))
    for i, r in enumerate(results):
        table = per_request(r.requests)
        for col, key in ((1, "ttft_s"), (2, "tpot_s")):
            values = np.sort(table[key].dropna().to_numpy()) * 1e3
            fig.add_trace(go.Scatter(x=values, y=np.arange(1, len(values) + 1) / max(1, len(values)),
                                     mode="lines", name=r.scenario.name, legendgroup=r.scenario.name,
                                     showlegend=col == 1, line={"color": COLORS[i % len(COLORS)]}), row=1, col=col)
    fig.update_xaxes(title_text="ms", type="log")
    fig.update_yaxes(title_text="share of requests", row=1, col=1)
    fig.update_layout(height=450)
    return fig


def _load_curves(scenarios: list[Scenario], progress=None) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("output tokens/s", "TTFT p99"))
    for i, scenario in enumerate(scenarios):
        workload = scenario.workload
        if workload.arrival not in ("poisson", "gamma"):
            continue
        rates, throughput, ttft = [], [], []
        for factor in LOAD_FACTORS:
            loaded = replace(workload, rate_per_s=workload.rate_per_s * factor,
                             count=min(workload.count or LOAD_REQUESTS, LOAD_REQUESTS), duration_s=0.0)
            summary = simulate(replace(scenario, workload=loaded)).summary
            rates.append(loaded.rate_per_s)
            throughput.append(summary["output_tokens_per_s"])
            ttft.append(summary["ttft_p99_s"] * 1e3)
        color = COLORS[i % len(COLORS)]
        fig.add_trace(go.Scatter(x=rates, y=throughput, mode="lines+markers", name=scenario.name,
                                 legendgroup=scenario.name, line={"color": color}), row=1, col=1)
        fig.add_trace(go.Scatter(x=rates, y=ttft, mode="lines+markers", name=scenario.name, showlegend=False,
                                 legendgroup=scenario.name, line={"color": color}), row=1, col=2)
        if progress:
            progress(f"load curve of {scenario.name}")
    fig.update_xaxes(title_text="offered requests/s")
    fig.update_yaxes(title_text="ms", type="log", row=1, col=2)
    fig.update_layout(height=450)
    return fig


def _kv_over_time(results: list[SimulationResult]) -> go.Figure:
    """KV blocks in use, and device memory in use: weights and activations all the time, the KV
    cache as it fills (blocks in use x bytes per block on one device)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("share of KV blocks in use", "device memory in use"))
    for i, r in enumerate(results):
        steps, s = r.steps, r.scenario
        color = COLORS[i % len(COLORS)]
        fig.add_trace(go.Scatter(x=steps["start_s"], y=steps["kv_blocks_used"] / steps["kv_blocks_total"],
                                 mode="lines", name=s.name, legendgroup=s.name, line={"color": color}), row=1, col=1)
        precision = s.techniques.precision(s.precision)
        fit = memory_fit(s.model, s.system, precision, s.engine.max_num_seqs, 0, s.engine.max_num_batched_tokens)
        per_block = block_bytes(s.model, precision, s.engine.block_size, s.tp) if s.placement.on_device else 0.0
        used = fit.weights_bytes + fit.activation_bytes + fit.reserve_bytes + steps["kv_blocks_used"] * per_block
        fig.add_trace(go.Scatter(x=steps["start_s"], y=used / 1e9, mode="lines", name=s.name, legendgroup=s.name,
                                 showlegend=False, line={"color": color}), row=1, col=2)
    fig.update_xaxes(title_text="s")
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text="GB per device", row=1, col=2)
    fig.update_layout(height=420)
    return fig


def _costs(results: list[SimulationResult]) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("$ per hour by part", "$ per 1M output tokens"))
    names = [r.scenario.name for r in results]
    parts = sorted({k for r in results for k in r.summary.get("breakdown_usd_per_hour", {})})
    for i, part in enumerate(parts):
        fig.add_trace(go.Bar(x=names, y=[r.summary.get("breakdown_usd_per_hour", {}).get(part, 0.0) for r in results],
                             name=part, marker={"color": COLORS[i % len(COLORS)]}), row=1, col=1)
    fig.add_trace(go.Bar(x=names, y=[r.summary.get("usd_per_1m_output_tokens") or 0.0 for r in results],
                         name="$/1M output tokens", marker={"color": "#555"}), row=1, col=2)
    fig.update_layout(barmode="stack", height=420)
    return fig


def _sensitivity(base: SimulationResult, knobs: dict, progress=None) -> go.Figure:
    labels, throughput, cost = [], [], []
    for whatif, variants in knobs.items():
        for knob, scenario in variants:
            summary = simulate(scenario).summary
            labels.append(f"{whatif}: {knob}")
            throughput.append(summary["output_tokens_per_s"] / base.summary["output_tokens_per_s"] - 1)
            base_cost = base.summary.get("usd_per_1m_output_tokens")
            cost.append((summary.get("usd_per_1m_output_tokens") or 0.0) / base_cost - 1 if base_cost else 0.0)
            if progress:
                progress(f"sensitivity: {whatif}: {knob}")
    order = np.argsort(np.abs(throughput))
    fig = make_subplots(rows=1, cols=2,
                        subplot_titles=("change in output tokens/s", "change in $ per 1M output tokens"),
                        shared_yaxes=True)
    fig.add_trace(go.Bar(y=[labels[i] for i in order], x=[throughput[i] for i in order], orientation="h",
                         name="throughput", marker={"color": "#2ca02c"}), row=1, col=1)
    fig.add_trace(go.Bar(y=[labels[i] for i in order], x=[cost[i] for i in order], orientation="h",
                         name="cost", marker={"color": "#d62728"}), row=1, col=2)
    fig.update_xaxes(tickformat="+.0%")
    fig.update_layout(height=max(300, 60 * len(labels) + 120), showlegend=False)
    return fig


# --- page -------------------------------------------------------------------------------------


def _figure(fig: go.Figure) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def _page(baseline: Scenario, whatifs: list[Scenario], sections: list[Section]) -> str:
    title = f"hwsim what-if report: {baseline.name}" + (f" vs {', '.join(w.name for w in whatifs)}" if whatifs else "")
    body = "".join(f'<section><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections)
    workload = baseline.workload
    subtitle = (f"{baseline.model.name}; workload {html.escape(workload.name)} ({workload.arrival}, "
                f"{len(workload.requests())} requests); every figure is a simulation, none a measurement")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table.summary {{ border-collapse: collapse; }} table.summary td, table.summary th {{ padding: 4px 10px;
border-bottom: 1px solid #ddd; text-align: right; }} .good {{ color: #2a7a2a; }} .bad {{ color: #b02a2a; }}
section {{ margin-bottom: 2.5em; }} .notes {{ font-size: 0.9em; color: #555; }}
</style></head>
<body><h1>{html.escape(title)}</h1><p>{subtitle}</p>{body}</body></html>
"""


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


def plan_page(result) -> str:
    """The planner's candidates on one chart: cost per hour against TPOT at the SLO percentile,
    passing and failing marked, the frontier joined, the winner ringed."""
    frame = result.outcomes
    p = result.spec.slo.percentile
    latency = f"tpot_p{p}_s"
    simulated = frame[frame["status"] == "simulated"]
    fig = go.Figure()
    for passes, color, label in ((True, "#2ca02c", "meets the SLOs"), (False, "#d62728", "misses an SLO")):
        part = simulated[simulated["passes"] == passes]
        fig.add_trace(go.Scatter(x=part[latency] * 1e3, y=part["usd_per_hour"], mode="markers", name=label,
                                 marker={"color": color, "size": 9}, text=part["candidate"] + "<br>" + part["reasons"],
                                 hovertemplate="%{text}<br>TPOT %{x:.1f} ms, $%{y:.2f}/h<extra></extra>"))
    frontier = result.pareto.sort_values(latency)
    fig.add_trace(go.Scatter(x=frontier[latency] * 1e3, y=frontier["usd_per_hour"], mode="lines",
                             name="cost-latency frontier", line={"color": "#444", "dash": "dot"}))
    if result.winner is not None:
        w = result.winner
        fig.add_trace(go.Scatter(x=[w[latency] * 1e3], y=[w["usd_per_hour"]], mode="markers", name="cheapest passing",
                                 marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": "#000", "width": 2}},
                                 text=[w["candidate"]], hovertemplate="%{text}<extra>winner</extra>"))
    if result.spec.slo.tpot_s:
        fig.add_vline(x=result.spec.slo.tpot_s * 1e3, line={"color": "#999", "dash": "dash"},
                      annotation_text=f"TPOT p{p} SLO")
    fig.update_layout(xaxis={"title": f"TPOT p{p} (ms)"}, yaxis_title="$ per hour", height=560,
                      title="every simulated candidate")
    pruned = frame[frame["status"] == "pruned"]
    rows = "".join(f"<tr><td>{html.escape(r['candidate'])}</td><td>{html.escape(r['reasons'])}</td></tr>"
                   for r in pruned.to_dict("records"))
    sections = [Section("Cost against latency", _figure(fig)),
                Section(f"Pruned without simulation ({len(pruned)})",
                        f'<table class="summary">{rows}</table>' if rows else "<p>none</p>")]
    body = "".join(f'<section><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections)
    title = f"hwsim plan: {result.spec.model.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; }}
td {{ padding: 3px 10px; border-bottom: 1px solid #ddd; }}</style></head>
<body><h1>{html.escape(title)}</h1>{body}</body></html>
"""
