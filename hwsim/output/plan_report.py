"""The capacity plan as a page a planner can check: what was asked (SLOs, workload, pricing, search
space), which candidate won and why, every simulated candidate in a sortable table with the 90%
intervals of its latencies, cost against each latency on a chart with its SLO drawn, and what was
pruned before simulation and why.

Every number shown comes from the plan's outcomes; the intervals (`<column>_low`/`_high`) and the
robust verdict (`passes_robust`) are shown when the outcomes carry them, as `hwsim plan` writes them.
"""
from __future__ import annotations

import html
import math
import numbers
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeGuard

import pandas as pd
import plotly.graph_objects as go

from hwsim.output.html_page import BETTER, NEUTRAL, SORT_TABLES_SCRIPT, WORSE, Section, figure, log_ticks
from hwsim.output.html_page import page as html_page
from hwsim.specs.plan import Candidate, PlanSlo, PlanSpec
from hwsim.specs.workload import Lengths, Workload
from hwsim.studies.plan import STOPPED, PlanResult

COST = "usd_per_1m_output_tokens"
LOG_SPAN = 10.0  # an axis whose values span more than this factor is drawn logarithmic


@dataclass(frozen=True)
class Latency:
    """One latency a plan judges: its name, its outcome column (seconds) and its SLO limit."""

    name: str
    key: str
    limit_s: float | None


@dataclass(frozen=True)
class _Plan:
    """What every part of the page reads: the spec, the outcomes shown, the winner's row of them."""

    spec: PlanSpec
    outcomes: pd.DataFrame
    winner: dict | None
    closest: pd.DataFrame

    @property
    def p(self) -> int:
        return self.spec.slo.percentile

    @property
    def simulated(self) -> pd.DataFrame:
        """Every candidate that was simulated, to the end or stopped early at a certain miss."""
        return self.outcomes[self.outcomes["status"] != "pruned"]

    @property
    def stopped(self) -> pd.DataFrame:
        """The candidates whose simulation stopped once an SLO was certainly missed (no figures)."""
        return self.outcomes[self.outcomes["status"] == STOPPED]

    @property
    def passing(self) -> pd.DataFrame:
        return self.outcomes[self.outcomes["passes"].astype(bool)]

    def latencies(self) -> tuple[Latency, Latency]:
        return latencies(self.spec.slo)


def page(result: PlanResult, outcomes: pd.DataFrame | None = None) -> str:
    """The plan's HTML page. `outcomes` is `result.outcomes` with any columns added to it (the latency
    intervals, the robust verdict); without it the page shows the outcomes alone, without intervals."""
    frame = result.outcomes if outcomes is None else outcomes
    winner = None
    if result.winner is not None:
        winner = frame[frame["candidate"] == result.winner["candidate"]].iloc[0].to_dict()
    plan = _Plan(result.spec, frame, winner, result.closest())
    sections = [*(_chart_section(plan, latency) for latency in plan.latencies()), _candidates_section(plan),
                _pruned_section(plan)]
    return html_page(f"Capacity plan: {plan.spec.model.name}", _intro(plan), sections, SORT_TABLES_SCRIPT)


def latencies(slo: PlanSlo) -> tuple[Latency, Latency]:
    """TTFT and TPOT at the SLO percentile, with their limits (None where the plan sets none)."""
    p = slo.percentile
    return Latency("TTFT", f"ttft_p{p}_s", slo.ttft_s), Latency("TPOT", f"tpot_p{p}_s", slo.tpot_s)


# --- numbers and words ------------------------------------------------------------------------


def _number(value: object) -> TypeGuard[float]:
    """Whether `value` is a finite number (a missing figure is None or NaN in the outcomes)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _ms(seconds: float) -> str:
    """Seconds as milliseconds with about three significant figures: 1,041, 60.0, 7.25."""
    ms = seconds * 1e3
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def _span_ms(interval: tuple[float, float]) -> str:
    """An interval of seconds in milliseconds: 134\u2013220."""
    return f"{_ms(interval[0])}\u2013{_ms(interval[1])}"


def _usd(value: float, digits: int = 2) -> str:
    return f"${value:,.{digits}f}"


def _interval_s(record: dict, key: str) -> tuple[float, float] | None:
    """The 90% interval of `record[key]`, when the outcomes carry one for it."""
    low, high = record.get(f"{key}_low"), record.get(f"{key}_high")
    return (float(low), float(high)) if _number(low) and _number(high) else None


def _margins(record: dict, slo: PlanSlo) -> dict[str, float]:
    """Each SLO's margin: the share of its limit left, negative when missed by that share (for a
    minimum throughput, the share above it)."""
    found = {}
    for latency in latencies(slo):
        value = record.get(latency.key)
        if latency.limit_s and _number(value):
            found[latency.name] = 1.0 - value / latency.limit_s
    floor, throughput = slo.min_output_tokens_per_s, record.get("output_tokens_per_s")
    if floor and _number(throughput):
        found["throughput"] = throughput / floor - 1.0
    return found


def log_scale(values: list[float]) -> bool:
    """Whether an axis of these values reads better logarithmic: positive and spanning over `LOG_SPAN`
    times, when a linear axis would crush the low ones into its bottom."""
    positive = [v for v in values if _number(v) and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SPAN


def _slo_words(slo: PlanSlo) -> str:
    """The SLOs as a sentence: each limit and the percentile of requests it holds for."""
    meaning = {"TTFT": "time to first token", "TPOT": "time per output token"}
    limits = [f"{latency.name} ({meaning[latency.name]}) at most {_ms(latency.limit_s)} ms"
              for latency in latencies(slo) if latency.limit_s]
    words = ""
    if limits:
        words = (f"{' and '.join(limits)}, {'both ' if len(limits) > 1 else ''}at the {slo.percentile}th percentile "
                 f"of requests (p{slo.percentile})")
    if slo.min_output_tokens_per_s:
        words += ("; " if words else "") + f"at least {slo.min_output_tokens_per_s:,.0f} output tokens/s"
    return words + "."


def _lengths_words(lengths: Lengths, mean_tokens: float) -> str:
    """A length distribution in words, and the mean it gives in this workload."""
    if lengths.kind == "fixed":
        shape = f"fixed at {lengths.value:,} tokens"
    elif lengths.kind == "uniform":
        shape = f"uniform from {lengths.low:,} to {lengths.high:,} tokens"
    elif lengths.kind == "lognormal":
        shape = (f"lognormal, median {lengths.median:,.0f} tokens, sigma {lengths.sigma:g}, "
                 f"clipped to {lengths.low:,}-{lengths.high:,}")
    else:
        shape = f"drawn from {len(lengths.values):,} recorded lengths"
    return f"{shape} (mean {mean_tokens:,.0f} tokens)"


def _arrival_words(workload: Workload) -> str:
    if workload.arrival == "poisson":
        return f"Poisson arrivals at {workload.rate_per_s:g} requests/s"
    if workload.arrival == "gamma":
        return f"gamma arrivals at {workload.rate_per_s:g} requests/s (gaps' coefficient of variation {workload.cv:g})"
    if workload.arrival == "closed_loop":
        return f"closed loop: {workload.concurrency:,} requests in flight, a new one as each ends"
    if workload.arrival == "offline":
        return "offline: every request at once"
    return f"a recorded trace ({workload.trace_summary})" if workload.trace_summary else "a recorded trace"


def _workload_words(workload: Workload) -> str:
    """The traffic: how requests arrive, how many, and how long their prompts and outputs are."""
    requests = workload.requests().iloc[workload.warmup:]
    words = f"{_arrival_words(workload)}; {len(requests):,} requests"
    if workload.sessions is not None:
        words += " (multi-turn sessions; a turn's prompt holds the conversation so far)"
    if workload.trace is not None:
        return (f"{words}; prompts mean {requests['prompt_tokens'].mean():,.0f} tokens, "
                f"outputs mean {requests['output_tokens'].mean():,.0f} tokens.")
    words += f"; prompts {_lengths_words(workload.prompt, requests['prompt_tokens'].mean())}"
    if workload.prefix is not None:
        words += (f", after one of {workload.prefix.groups:,} shared prefixes of {workload.prefix.tokens:,} tokens")
    return f"{words}; outputs {_lengths_words(workload.output, requests['output_tokens'].mean())}."


SEARCH_DIMENSIONS = (("hardware", "hardware"), ("tensor parallel", "tensor_parallel"), ("replicas", "replicas"),
                     ("weight dtype", "dtype"), ("KV-cache dtype", "kv_dtype"), ("max sequences", "max_num_seqs"),
                     ("max batched tokens", "max_num_batched_tokens"), ("placement", "placement"))


def _dimension_values(candidates: tuple[Candidate, ...], attribute: str) -> list[str]:
    """The values a search dimension takes, in the plan's order, each once."""
    values = dict.fromkeys(getattr(c, attribute) for c in candidates)
    return ["as weights" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in values]


def _search_words(candidates: tuple[Candidate, ...]) -> str:
    """The search space, dimension by dimension."""
    parts = [f"{name}: {', '.join(_dimension_values(candidates, attribute))}" for name, attribute in SEARCH_DIMENSIONS]
    return "; ".join(parts) + f" ({len(candidates):,} combinations)."


def _varying(candidates: tuple[Candidate, ...]) -> set[str]:
    """The search dimensions that take more than one value: the ones a short label must show."""
    return {attribute for _, attribute in SEARCH_DIMENSIONS if len(_dimension_values(candidates, attribute)) > 1}


def _label(record: dict, varying: set[str]) -> str:
    """A candidate named short enough to print beside its point: replicas x TP, hardware, dtype, and
    the other settings only where the search varied them."""
    words = f"{record['replicas']}x{record['tensor_parallel']} {record['hardware']} {record['dtype']}"
    if record.get("kv_dtype"):
        words += f"/{record['kv_dtype']} KV"
    if "max_num_seqs" in varying:
        words += f", seqs {record['max_num_seqs']}"
    if "max_num_batched_tokens" in varying:
        words += f", tokens {record['max_num_batched_tokens']}"
    if "placement" in varying:
        words += f", {record['placement']}"
    return words


# --- the introduction -------------------------------------------------------------------------


def _latency_verdict(record: dict, latency: Latency, p: int) -> str:
    """One latency of the winner: its value, its interval and its margin to the SLO."""
    value = record[latency.key]
    words = f"{latency.name} p{p} {_ms(value)} ms"
    interval = _interval_s(record, latency.key)
    if interval:
        words += f" (90% interval {_span_ms(interval)} ms)"
    if latency.limit_s:
        words += f", {1 - value / latency.limit_s:.0%} under the {_ms(latency.limit_s)} ms SLO"
        if interval and interval[1] > latency.limit_s:
            words += " (though the high end of its interval is over it)"
    return words


def _winner_words(plan: _Plan) -> str:
    """Who won and why: the cheapest per hour of those meeting every SLO, at what cost and margins."""
    w = plan.winner
    assert w is not None
    passing = plan.passing.sort_values(["usd_per_hour", "devices"])
    words = (f"<b>The winner is {html.escape(w['candidate'])}</b>: the cheapest per hour of the {len(passing):,} "
             f"candidates that meet every SLO, at {_usd(w['usd_per_hour'])}/h, {_usd(w[COST], 3)} per 1M output "
             f"tokens. ")
    details = [_latency_verdict(w, latency, plan.p) for latency in plan.latencies()]
    details.append(f"{w['output_tokens_per_s']:,.0f} output tokens/s")
    floor = plan.spec.slo.min_output_tokens_per_s
    if floor:
        details[-1] += f", {w['output_tokens_per_s'] / floor - 1:.0%} over the {floor:,.0f} tokens/s minimum"
    words += html.escape("Its " + "; ".join(details) + ".")
    if len(passing) > 1:
        runner = passing.iloc[1]
        words += html.escape(f" The next cheapest that passes, {runner['candidate']}, costs "
                             f"{_usd(runner['usd_per_hour'])}/h.")
    return words + html.escape(_per_token_words(passing, w))


def _per_token_words(passing: pd.DataFrame, winner: dict) -> str:
    """Why a passing candidate can cost less per token than the winner, said when one does: a token's
    cost is over the run's throughput, drain included, which a faster candidate finishes sooner, while
    the same traffic is served all the same hour after hour."""
    cheaper = int((passing[COST] < winner[COST]).sum())
    if not cheaper:
        return ""
    many = cheaper > 1
    return (f" {cheaper:,} passing candidate{'s' if many else ''} cost{'' if many else 's'} less per 1M output tokens "
            f"over this run (a higher throughput, the drain included) but more per hour, and the hour is what "
            f"serving this traffic costs.")


def _no_winner_words(plan: _Plan) -> str:
    """That nothing passed, and what came closest (or that nothing could even be simulated)."""
    if plan.closest.empty:
        return (f"<b>No candidate meets every SLO</b>: all {len(plan.outcomes):,} were pruned before "
                "simulation (see the pruned table for why).")
    misses = "; ".join(f"<b>{html.escape(r['candidate'])}</b> ({html.escape(r['reasons'])})"
                       for r in plan.closest.to_dict("records"))
    return f"<b>No candidate meets every SLO.</b> The closest misses: {misses}."


def _counts_words(plan: _Plan) -> str:
    frame = plan.outcomes
    pruned = int((frame["status"] == "pruned").sum())
    stopped = len(plan.stopped)
    early = f" ({stopped:,} of them stopped early, once an SLO was certainly missed)" if stopped else ""
    return (f"{len(frame):,} candidates: {pruned:,} pruned without simulation, {len(frame) - pruned:,} "
            f"simulated{early}, {len(plan.passing):,} meet every SLO.")


def _robust_words(plan: _Plan) -> str:
    """How many passing candidates still pass at the pessimistic end of their intervals, and the
    cheapest of them."""
    robust = plan.outcomes[plan.outcomes["passes_robust"].astype(bool)]
    if robust.empty:
        return "no candidate meets the SLOs at the pessimistic end of its 90% intervals."
    robust = robust.sort_values(["usd_per_hour", "devices"])
    return (f"{len(robust):,} of the {len(plan.passing):,} passing candidates meet the SLOs even at the pessimistic "
            f"end of their 90% intervals; the cheapest of them is {robust.iloc[0]['candidate']} "
            f"({_usd(robust.iloc[0]['usd_per_hour'])}/h).")


def _pricing_kind_words(spec: PlanSpec) -> str:
    return "rented per accelerator-hour" if spec.pricing.kind == "cloud" else "owned: purchase amortized, plus power"


def _intro(plan: _Plan) -> str:
    """The verdict in a sentence or two, then what was asked and searched."""
    spec = plan.spec
    verdict = _winner_words(plan) if plan.winner is not None else _no_winner_words(plan)
    facts = [("Model", f"{spec.model.name}."), ("SLOs", _slo_words(spec.slo)),
             ("Workload", _workload_words(spec.workload)),
             ("Pricing", f"{spec.pricing.describe()}; {_pricing_kind_words(spec)}."),
             ("Search space", _search_words(spec.candidates)), ("Candidates", _counts_words(plan))]
    if "passes_robust" in plan.outcomes:
        facts.append(("Robust", _robust_words(plan)))
    items = "".join(f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>" for term, text in facts)
    return f'<p class="verdict">{verdict}</p><dl class="facts">{items}</dl>'


# --- the table of candidates ------------------------------------------------------------------


def _th(title: str, kind: str) -> str:
    css = ' class="text"' if kind == "text" else ""
    return f'<th data-type="{kind}"{css}>{html.escape(title)}</th>'


def _td(value: object, text: str, css: str = "") -> str:
    """A cell showing `text` and sorting by `value`: a number, a string, or None (sorts last)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        data = ""
    else:
        data = repr(float(value)) if _number(value) else str(value)
    classes = f' class="{css}"' if css else ""
    return f'<td data-value="{html.escape(data)}"{classes}>{html.escape(text)}</td>'


def _text_td(text: str, css: str = "text") -> str:
    return _td(text, text, css)


def _money_td(value: object, digits: int) -> str:
    return _td(value, _usd(value, digits) if _number(value) else "-")


def _latency_td(record: dict, key: str) -> str:
    value = record.get(key)
    return _td(value, _ms(value) if _number(value) else "-")


def _interval_td(record: dict, key: str) -> str:
    """A latency's 90% interval, sorting by its high end (the pessimistic one)."""
    interval = _interval_s(record, key)
    return _td(None, "-") if interval is None else _td(interval[1], _span_ms(interval))


def _margin_td(record: dict, slo: PlanSlo) -> str:
    """The worst SLO's margin, and which SLO it is."""
    found = _margins(record, slo)
    if not found:
        return _td(None, "-")
    name, worst = min(found.items(), key=lambda item: item[1])
    return _td(worst, f"{worst:+.0%} ({name})", "good" if worst >= 0 else "bad")


def _verdict_td(passes: object, stopped: bool = False) -> str:
    text = "passes" if passes else ("misses (stopped early)" if stopped else "misses")
    return _td(text, text, "text " + ("good" if passes else "bad"))


def _dtype_td(record: dict) -> str:
    return _text_td(record["dtype"] + (f"/{record['kv_dtype']} KV" if record.get("kv_dtype") else ""))


Column = tuple[str, str, Callable[[dict], str]]  # header, "number" or "text", the row's cell


def _columns(plan: _Plan) -> list[Column]:
    """The table's columns: what a planner decides on first (verdict, cost, latencies with their
    intervals), then the configuration taken apart, then why it passed or missed."""
    slo = plan.spec.slo
    columns: list[Column] = [
        ("candidate", "text", lambda r: _text_td(r["candidate"])),
        ("verdict", "text", lambda r: _verdict_td(r["passes"], r["status"] == STOPPED)),
        ("worst SLO margin", "number", lambda r: _margin_td(r, slo)),
        ("$/h", "number", lambda r: _money_td(r.get("usd_per_hour"), 2)),
        ("$/1M output tokens", "number", lambda r: _money_td(r.get(COST), 3))]
    for lat in plan.latencies():
        columns += [(f"{lat.name} p{plan.p} (ms)", "number", partial(_latency_td, key=lat.key)),
                    (f"{lat.name} 90% interval (ms)", "number", partial(_interval_td, key=lat.key))]
    if "passes_robust" in plan.outcomes:
        columns.append(("at the pessimistic end", "text", lambda r: _verdict_td(r["passes_robust"])))
    return columns + [
        ("output tokens/s", "number", lambda r: _td(r["output_tokens_per_s"], f"{r['output_tokens_per_s']:,.0f}"
                                                    if _number(r["output_tokens_per_s"]) else "-")),
        ("hardware", "text", lambda r: _text_td(r["hardware"])),
        ("TP", "number", lambda r: _td(r["tensor_parallel"], str(r["tensor_parallel"]))),
        ("replicas", "number", lambda r: _td(r["replicas"], str(r["replicas"]))),
        ("dtype", "text", _dtype_td),
        ("reasons", "text", lambda r: _text_td(r["reasons"], "text wrap"))]


def _row(plan: _Plan, record: dict, columns: list[Column]) -> str:
    winner = plan.winner is not None and record["candidate"] == plan.winner["candidate"]
    css = ' class="winner"' if winner else ""
    return f"<tr{css}>{''.join(cell(record) for _, _, cell in columns)}</tr>"


def _over_interval_count(plan: _Plan) -> int:
    """How many passing candidates have a latency interval whose high end is over its SLO."""
    count = 0
    for record in plan.passing.to_dict("records"):
        ends = [(_interval_s(record, lat.key), lat.limit_s) for lat in plan.latencies() if lat.limit_s]
        count += any(interval is not None and interval[1] > limit for interval, limit in ends)
    return count


def _candidates_caption(plan: _Plan) -> str:
    has_intervals = any(f"{lat.key}_high" in plan.outcomes for lat in plan.latencies())
    words = (f"Every simulated candidate, those meeting every SLO first, each group cheapest per hour first; "
             f"click a header to sort. Latencies are at the {plan.p}th percentile of the simulated requests. ")
    if has_intervals:
        words += ("A 90% interval is where a measurement would fall, given how far hwsim's predictions have been "
                  "from measurements in the candidate's regime; its column sorts by the high end. ")
    words += "The margin is the worst SLO's share of its limit left (negative: missed by that share). "
    if plan.winner is not None:
        words += f"The winner, {plan.winner['candidate']}, is in bold"
        words += (f"; {_over_interval_count(plan):,} of the {len(plan.passing):,} passing candidates have a "
                  "latency whose interval reaches over its SLO." if has_intervals else ".")
    else:
        words += "None meets every SLO."
    return words


def _candidates_section(plan: _Plan) -> Section:
    title = f"Every simulated candidate ({len(plan.simulated):,})"
    if plan.simulated.empty:
        return Section(title, empty_reason="No candidate was simulated: every one was pruned.")
    ordered = plan.simulated.sort_values(["passes", "usd_per_hour", "devices"], ascending=[False, True, True])
    columns = _columns(plan)
    headers = "".join(_th(title, kind) for title, kind, _ in columns)
    rows = "".join(_row(plan, record, columns) for record in ordered.to_dict("records"))
    table = f'<table class="candidates"><thead><tr>{headers}</tr></thead><tbody>{rows}</tbody></table>'
    return Section(title, f'<div class="scroll">{table}</div>', _candidates_caption(plan))


# --- the charts -------------------------------------------------------------------------------


def frontier(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The candidates that keep up with the traffic and that no other beats on both cost per 1M output
    tokens and `key` (a latency): the cheapest way to each latency, as the chart's axes show them."""
    kept = frame[frame[COST].notna() & frame[key].notna() & ~frame["overloaded"].astype(bool)]
    ordered = kept.sort_values([COST, key])
    best, keep = math.inf, []
    for index, value in zip(ordered.index, ordered[key], strict=True):
        if value < best:
            keep.append(index)
            best = value
    return ordered.loc[keep].sort_values(key)


def _hover(record: dict, plan: _Plan) -> str:
    """A point's hover text: the whole candidate, its costs, latencies with intervals, and verdict."""
    lines = [f"<b>{html.escape(record['candidate'])}</b>",
             f"{_usd(record['usd_per_hour'])}/h, {_usd(record[COST], 3)} per 1M output tokens"]
    for latency in plan.latencies():
        interval = _interval_s(record, latency.key)
        lines.append(f"{latency.name} p{plan.p} {_ms(record[latency.key])} ms"
                     + (f" (90%: {_span_ms(interval)} ms)" if interval else ""))
    lines.append(("passes: " if record["passes"] else "misses: ") + html.escape(record["reasons"]))
    return "<br>".join(lines)


def _points(fig: go.Figure, placed: pd.DataFrame, plan: _Plan, key: str) -> None:
    """Every placed candidate, green when it meets every SLO and red when not; labels in hover only."""
    for passes, color, name in ((True, BETTER, "meets every SLO"), (False, WORSE, "misses an SLO")):
        part = placed[placed["passes"].astype(bool) == passes]
        if part.empty:
            continue
        fig.add_trace(go.Scatter(
            x=part[key] * 1e3, y=part[COST], mode="markers", name=name, marker={"color": color, "size": 9},
            hovertext=[_hover(r, plan) for r in part.to_dict("records")], hovertemplate="%{hovertext}<extra></extra>"))


def _marks(fig: go.Figure, placed: pd.DataFrame, plan: _Plan, key: str, label: Callable[[dict], str]) -> None:
    """The frontier, joined and labelled, and the winner ringed and labelled."""
    front = frontier(placed, key)
    winner = plan.winner["candidate"] if plan.winner is not None else None
    if not front.empty:
        fig.add_trace(go.Scatter(
            x=front[key] * 1e3, y=front[COST], mode="lines+text", name="frontier (none both cheaper and faster)",
            line={"color": NEUTRAL, "dash": "dot"}, textposition="top right", hoverinfo="skip",
            text=["" if r["candidate"] == winner else label(r) for r in front.to_dict("records")]))
    placed_winner = placed[placed["candidate"] == winner]
    if not placed_winner.empty:
        w = placed_winner.iloc[0].to_dict()
        fig.add_trace(go.Scatter(
            x=[w[key] * 1e3], y=[w[COST]], mode="markers+text", name="winner", text=[f"winner: {label(w)}"],
            textposition="bottom right", hovertext=[_hover(w, plan)], hovertemplate="%{hovertext}<extra></extra>",
            marker={"size": 20, "color": "rgba(0,0,0,0)", "line": {"color": "#000", "width": 2}},
            textfont={"color": "#000"}))


def _slo_line(fig: go.Figure, latency: Latency, p: int, log_x: bool) -> None:
    """The SLO as a labelled vertical line (an annotation on a log axis is placed by its log)."""
    if not latency.limit_s:
        return
    x_ms = latency.limit_s * 1e3
    fig.add_vline(x=x_ms, line={"color": "#444", "dash": "dash", "width": 1.5})
    fig.add_annotation(x=math.log10(x_ms) if log_x else x_ms, xref="x", y=1.0, yref="paper", yanchor="bottom",
                       text=f"{latency.name} p{p} SLO {_ms(latency.limit_s)} ms", showarrow=False)


def _latency_axis(placed: pd.DataFrame, latency: Latency, log_x: bool) -> dict:
    """The latency axis's scale and, when logarithmic, the what-if report's ticks written in full
    (`log_ticks`), reaching the SLO line too since the axis stretches out to it."""
    if not log_x:
        return {"type": "linear"}
    values_ms = [v * 1e3 for v in placed[latency.key]] + ([latency.limit_s * 1e3] if latency.limit_s else [])
    return {"type": "log", **log_ticks(values_ms)}


def _cost_chart(plan: _Plan, placed: pd.DataFrame, latency: Latency) -> go.Figure:
    """Cost per 1M output tokens against one latency, with its SLO, the frontier and the winner."""
    fig = go.Figure()
    _points(fig, placed, plan, latency.key)
    varying = _varying(plan.spec.candidates)
    _marks(fig, placed, plan, latency.key, lambda record: _label(record, varying))
    log_x, log_y = log_scale(list(placed[latency.key])), log_scale(list(placed[COST]))
    _slo_line(fig, latency, plan.p, log_x)
    fig.update_layout(
        height=560, margin={"t": 50}, legend={"orientation": "h", "y": -0.15},
        xaxis={"title": f"{latency.name} p{plan.p} (ms{', log scale' if log_x else ''})",
               **_latency_axis(placed, latency, log_x)},
        yaxis={"title": f"$ per 1M output tokens{' (log scale)' if log_y else ''}",
               **({"type": "log", **log_ticks(list(placed[COST]), prefix="$")} if log_y
                  else {"type": "linear", "tickprefix": "$"})})
    return fig


def _chart_caption(plan: _Plan, placed: pd.DataFrame, latency: Latency, unplaced: int) -> str:
    """What the chart shows, and the one thing to notice: the winner's cost and the fastest one's."""
    slo = (f"the dashed line is the {latency.name} SLO ({_ms(latency.limit_s)} ms)" if latency.limit_s
           else f"the plan sets no {latency.name} SLO")
    words = (f"Each simulated candidate at its {latency.name} p{plan.p} and its cost per 1M output tokens: green "
             f"meets every SLO, red misses at least one; {slo}. Labelled points are the frontier (no other candidate "
             f"is both cheaper per token and faster), the ringed one the winner; hover a point for its whole "
             f"configuration and 90% intervals. ")
    if log_scale(list(placed[COST])):
        words += f"The cost axis is logarithmic: costs span {placed[COST].max() / placed[COST].min():,.0f}x. "
    if unplaced:
        words += (f"{unplaced:,} simulated candidates are not drawn: stopped early at a certain miss (no figures of "
                  f"a partial run; the table lists them) or without a price. ")
    fastest = placed.sort_values([latency.key, COST]).iloc[0]
    if plan.winner is not None:
        w = plan.winner
        words += (f"The winner, {w['candidate']}, costs {_usd(w[COST], 3)} per 1M output tokens; "
                  f"{len(plan.passing):,} candidates meet every SLO. ")
        if fastest["candidate"] != w["candidate"] and _number(w[COST]):
            words += (f"The fastest, {fastest['candidate']} at {_ms(fastest[latency.key])} ms, costs "
                      f"{fastest[COST] / w[COST]:.1f}x as much.")
    else:
        words += (f"No candidate meets every SLO; the fastest, {fastest['candidate']}, reaches "
                  f"{_ms(fastest[latency.key])} ms.")
    return words.strip()


def _chart_section(plan: _Plan, latency: Latency) -> Section:
    title = f"Cost against latency: {latency.name} p{plan.p}"
    simulated = plan.simulated
    if simulated.empty:
        return Section(title, empty_reason="No candidate was simulated: every one was pruned.")
    placed = simulated[simulated[COST].notna() & simulated[latency.key].notna()]
    if placed.empty:
        return Section(title, empty_reason="No simulated candidate has a price, so none can be placed on a cost axis.")
    fig = _cost_chart(plan, placed, latency)
    return Section(title, figure(fig), _chart_caption(plan, placed, latency, len(simulated) - len(placed)))


# --- the pruned -------------------------------------------------------------------------------


def _reason_kind(reason: str) -> str:
    """A pruning reason without its numbers: the part before the colon ("cannot keep up")."""
    return reason.split(":", 1)[0]


def _pruned_section(plan: _Plan) -> Section:
    pruned = plan.outcomes[plan.outcomes["status"] == "pruned"]
    title = f"Pruned without simulation ({len(pruned):,})"
    if pruned.empty:
        return Section(title, empty_reason="No candidate was pruned.")
    rows = "".join(f"<tr>{_text_td(r['candidate'])}{_text_td(r['reasons'], 'text wrap')}</tr>"
                   for r in pruned.to_dict("records"))
    table = (f'<table class="candidates"><thead><tr>{_th("candidate", "text")}{_th("reason", "text")}</tr></thead>'
             f"<tbody>{rows}</tbody></table>")
    kind, count = Counter(_reason_kind(r) for r in pruned["reasons"]).most_common(1)[0]
    caption = (f"Candidates ruled out by analysis alone, before any simulation: a model that does not fit, a dtype "
               f"the device cannot compute, or a throughput ceiling below the traffic's demand. The most frequent "
               f"reason: \u201c{kind}\u201d ({count:,} of {len(pruned):,}).")
    return Section(title, table, caption)
