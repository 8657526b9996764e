"""The plan report: what a capacity planner reads to trust a plan's winner, checked on a real plan
(the chat preset's, shrunk to seconds) as data and as Chromium draws it."""
import html
import json
import math
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from hwsim.loading.plan_yaml import load_plan
from hwsim.output import html_page, plan_report, planning_commands
from hwsim.studies import plan

from .browser import distinct_colors, figures, render, screenshot, values
from .invoke import run

PLAN = Path(__file__).resolve().parents[2] / "workloads" / "plans" / "llama3-8b-chat.yaml"


def _small(spec, requests: int = 120, **slo):
    """The chat plan with fewer requests and a search of three GPUs, 1-2 way TP and 1-2 replicas:
    some candidates pruned, some passing, one missing its TPOT SLO."""
    keep = tuple(c for c in spec.candidates if c.hardware in ("l4", "h100-sxm", "a100-sxm-80gb")
                 and c.tensor_parallel in (1, 2) and c.replicas in (1, 2))
    return replace(spec, workload=replace(spec.workload, count=requests), candidates=keep,
                   slo=replace(spec.slo, **slo))


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """The plan, its outcomes with their latency intervals and robust verdicts as `hwsim plan`
    writes them, and its page on disk."""
    spec = _small(load_plan(PLAN))
    result = plan.run(spec, workers=1, early=False)  # as `plan --report` runs: every candidate to the end
    frame = planning_commands._with_latency_intervals(spec, result.outcomes)
    frame = frame.assign(passes_robust=planning_commands._robust_passes(spec, frame))
    path = tmp_path_factory.mktemp("plan") / "plan.html"
    path.write_text(plan_report.page(result, frame), encoding="utf-8")
    return spec, result, frame, path


class _Tables(HTMLParser):
    """Every `table.candidates` of a page: its header titles and types, and per body row its class
    and each cell's (data-value, text)."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "candidates":
            self.tables.append({"headers": [], "types": [], "rows": [], "row_classes": []})
        elif self.tables and tag == "tr":
            self.tables[-1]["rows"].append([])
            self.tables[-1]["row_classes"].append(attrs.get("class"))
        elif self.tables and tag == "th":
            self.tables[-1]["types"].append(attrs.get("data-type"))
            self._cell = [None, ""]
        elif self.tables and tag == "td":
            self._cell = [attrs.get("data-value"), ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if self._cell is None:
            return
        table = self.tables[-1]
        if tag == "th":
            table["headers"].append(self._cell[1])
            table["rows"].pop()
            table["row_classes"].pop()
            table["rows"].append([])
            table["row_classes"].append("header")
        elif tag == "td":
            table["rows"][-1].append(tuple(self._cell))
        self._cell = None


def _tables(page_html: str) -> list[dict]:
    parser = _Tables()
    parser.feed(page_html)
    for table in parser.tables:  # the header row is no body row
        body = [(row, css) for row, css in zip(table["rows"], table["row_classes"], strict=True) if css != "header"]
        table["rows"], table["row_classes"] = [row for row, _ in body], [css for _, css in body]
    return parser.tables


def _intro(page_html: str) -> str:
    """The text above the first section: the verdict and the facts."""
    head = page_html[page_html.index("</h1>"):page_html.index("<section>")]
    return html.unescape(re.sub(r"<[^>]+>", "", head))


def _column(table: dict, title: str) -> list:
    index = table["headers"].index(title)
    return [row[index] for row in table["rows"]]


def test_the_intro_states_the_slos_workload_pricing_and_search_space(planned):
    spec, result, frame, path = planned
    intro = _intro(path.read_text())
    assert "TTFT (time to first token) at most 1,000 ms and TPOT (time per output token) at most 60.0 ms" in intro
    assert "99th percentile" in intro
    assert "Poisson arrivals at 20 requests/s; 120 requests" in intro
    assert "prompts lognormal, median 400 tokens" in intro and "outputs lognormal, median 200 tokens" in intro
    assert "cloud-on-demand-2026-05" in intro
    assert "hardware: h100-sxm, a100-sxm-80gb, l4; tensor parallel: 1, 2; replicas: 1, 2; weight dtype: bf16, fp8" in intro
    pruned = int((frame["status"] == "pruned").sum())
    assert (f"{len(frame)} candidates: {pruned} pruned without simulation, {len(frame) - pruned} simulated, "
            f"{int(frame['passes'].sum())} meet every SLO.") in intro


def test_the_intro_names_the_winner_and_why_it_won(planned):
    spec, result, frame, path = planned
    intro = _intro(path.read_text())
    winner = result.winner
    assert winner is not None
    assert f"The winner is {winner['candidate']}: the cheapest per hour" in intro
    assert f"${winner['usd_per_hour']:.2f}/h, ${winner['usd_per_1m_output_tokens']:.3f} per 1M output tokens" in intro
    tpot_margin = 1 - winner["tpot_p99_s"] / spec.slo.tpot_s
    assert f"{tpot_margin:.0%} under the 60.0 ms SLO" in intro and "(90% interval " in intro


def test_the_table_has_a_header_and_one_row_per_simulated_candidate(planned):
    spec, result, frame, path = planned
    table = _tables(path.read_text())[0]
    simulated = frame[frame["status"] == "simulated"]
    assert table["headers"] == ["candidate", "verdict", "worst SLO margin", "$/h", "$/1M output tokens",
                                "TTFT p99 (ms)", "TTFT 90% interval (ms)", "TPOT p99 (ms)", "TPOT 90% interval (ms)",
                                "at the pessimistic end", "output tokens/s", "hardware", "TP", "replicas", "dtype",
                                "reasons"]
    assert all(len(row) == len(table["headers"]) for row in table["rows"])
    assert sorted(text for _, text in _column(table, "candidate")) == sorted(simulated["candidate"])
    winner_rows = [row for row, css in zip(table["rows"], table["row_classes"], strict=True) if css == "winner"]
    assert [row[0][1] for row in winner_rows] == [result.winner["candidate"]]


def test_the_table_sorts_numbers_by_their_data_values(planned):
    spec, result, frame, path = planned
    table = _tables(path.read_text())[0]
    by_name = frame.set_index("candidate")
    names = [text for _, text in _column(table, "candidate")]
    assert dict(zip(table["headers"], table["types"], strict=True))["$/h"] == "number"
    for title, key in (("$/1M output tokens", "usd_per_1m_output_tokens"), ("TTFT p99 (ms)", "ttft_p99_s"),
                       ("TPOT 90% interval (ms)", "tpot_p99_s_high")):
        data = [float(value) for value, _ in _column(table, title)]
        assert data == pytest.approx([by_name.loc[name, key] for name in names])
    assert dict(zip(table["headers"], table["types"], strict=True))["candidate"] == "text"


def test_chromium_runs_the_page_and_sorts_by_a_clicked_header(planned, tmp_path):
    spec, result, frame, path = planned
    clicked = tmp_path / "clicked.html"
    click = ('<script>Array.from(document.querySelectorAll("table.candidates th"))'
             '.find(th => th.textContent === "$/1M output tokens").click();</script></body>')
    clicked.write_text(path.read_text().replace("</body>", click), encoding="utf-8")
    rendered = render(clicked, tmp_path / "profile")
    assert rendered.console == []
    table = _tables(rendered.dom)[0]
    costs = [float(value) for value, _ in _column(table, "$/1M output tokens")]
    assert len(costs) == int((frame["status"] == "simulated").sum()) and costs == sorted(costs)
    assert costs != [float(v) for v, _ in _column(_tables(path.read_text())[0], "$/1M output tokens")]


def test_both_charts_draw_their_slo_and_hold_data(planned):
    spec, result, frame, path = planned
    figs = figures(path.read_text())
    assert len(figs) == 2
    for fig, name, limit_ms in zip(figs, ("TTFT", "TPOT"), (spec.slo.ttft_s * 1e3, spec.slo.tpot_s * 1e3),
                                   strict=True):
        assert [(s["x0"], s["x1"]) for s in fig["layout"]["shapes"]] == [(pytest.approx(limit_ms),) * 2]
        assert any(f"{name} p99 SLO" in a["text"] for a in fig["layout"]["annotations"])
        for trace in fig["data"]:
            assert values(trace, "x") and values(trace, "y"), trace["name"]
        assert fig["layout"]["xaxis"]["title"]["text"].startswith(f"{name} p99 (ms")
        assert fig["layout"]["yaxis"]["title"]["text"].startswith("$ per 1M output tokens")


def test_points_are_coloured_by_verdict_and_only_the_frontier_and_winner_labelled(planned):
    spec, result, frame, path = planned
    for fig in figures(path.read_text()):
        traces = {trace["name"]: trace for trace in fig["data"]}
        passing, missing = traces["meets every SLO"], traces["misses an SLO"]
        assert passing["marker"]["color"] == plan_report.BETTER and missing["marker"]["color"] == plan_report.WORSE
        assert passing["mode"] == missing["mode"] == "markers" and "text" not in passing and "text" not in missing
        hover = " ".join(passing["hovertext"] + missing["hovertext"])
        assert all(name in hover for name in frame[frame["status"] == "simulated"]["candidate"])
        frontier = next(t for name, t in traces.items() if name.startswith("frontier"))
        assert "text" in frontier["mode"] and any(values(frontier, "text"))
        assert traces["winner"]["text"][0].startswith("winner: ")
        assert values(traces["winner"], "x") and traces["winner"]["marker"]["line"]["width"] >= 2


def test_the_cost_axis_is_logarithmic_when_costs_span_over_tenfold(planned):
    spec, result, frame, path = planned
    costs = frame["usd_per_1m_output_tokens"].dropna().tolist()
    for fig in figures(path.read_text()):
        log = plan_report.log_scale(costs)
        assert fig["layout"]["yaxis"].get("type", "linear") == ("log" if log else "linear")
        assert ("log scale" in fig["layout"]["yaxis"]["title"]["text"]) == log
    cheapest = frame["usd_per_1m_output_tokens"].idxmin()
    spread = frame.assign(usd_per_1m_output_tokens=frame["usd_per_1m_output_tokens"].where(
        frame.index != cheapest, frame["usd_per_1m_output_tokens"].max() / 50))
    page = plan_report.page(result, spread)
    for fig in figures(page):
        axis = fig["layout"]["yaxis"]
        assert axis["type"] == "log" and "(log scale)" in axis["title"]["text"]
        assert len(axis["tickvals"]) >= 3 and all(t.startswith("$") for t in axis["ticktext"])  # "$0.5", "$1"
        assert [float(t[1:].replace(",", "")) for t in axis["ticktext"]] == axis["tickvals"]  # not bare mantissas
    assert "The cost axis is logarithmic: costs span 50x" in page


def test_a_log_latency_axis_writes_its_ticks_in_full_like_the_what_if_report(planned):
    spec, result, frame, path = planned
    for fig, latency in zip(figures(path.read_text()), plan_report.latencies(spec.slo), strict=True):
        axis = fig["layout"]["xaxis"]
        assert axis["type"] == "log"  # the plan's latencies span over tenfold
        points_ms = [x for trace in fig["data"] if trace["name"] in ("meets every SLO", "misses an SLO")
                     for x in values(trace, "x")]
        drawn_ms = points_ms + [latency.limit_s * 1e3]  # the SLO line too
        ticks = axis["tickvals"]
        assert len(ticks) >= 3 and ticks == sorted(ticks)
        assert all(round(t / 10 ** math.floor(math.log10(t)), 6) in (1, 2, 5) for t in ticks)
        assert min(drawn_ms) / 2 <= ticks[0] <= min(drawn_ms) * 2.5  # 1-2-5 steps are at most 2.5x apart
        assert max(drawn_ms) / 2.5 <= ticks[-1] <= max(drawn_ms) * 2
        assert [float(t.replace(",", "")) for t in axis["ticktext"]] == ticks  # "500", "1,000": not plotly's bare mantissas
        assert axis == {"title": axis["title"], "type": "log", **html_page.log_ticks(drawn_ms)}


def test_a_linear_latency_axis_keeps_plotlys_own_ticks(planned):
    spec, result, frame, path = planned
    simulated = frame[frame["status"] == "simulated"]
    near = frame.assign(ttft_p99_s=simulated["ttft_p99_s"].median())  # every point at one latency
    fig = figures(plan_report.page(result, near))[0]
    assert fig["layout"]["xaxis"]["type"] == "linear" and "tickvals" not in fig["layout"]["xaxis"]


def test_log_scale_is_for_values_spanning_over_tenfold():
    assert plan_report.log_scale([0.3, 3.01]) and plan_report.log_scale([0.3, math.nan, 40.0])
    assert not plan_report.log_scale([0.3, 3.0]) and not plan_report.log_scale([]) and not plan_report.log_scale([0.0])


def test_the_frontier_holds_the_candidates_no_other_beats_on_cost_and_latency(planned):
    spec, result, frame, path = planned
    simulated = frame[(frame["status"] == "simulated") & ~frame["overloaded"].astype(bool)]
    for key in ("ttft_p99_s", "tpot_p99_s"):
        front = plan_report.frontier(simulated, key)
        cost, latency = simulated["usd_per_1m_output_tokens"], simulated[key]
        for _, row in simulated.iterrows():
            dominated = ((cost <= row["usd_per_1m_output_tokens"]) & (latency < row[key])).any() or (
                (cost < row["usd_per_1m_output_tokens"]) & (latency <= row[key])).any()
            assert (row["candidate"] in set(front["candidate"])) == (not dominated), (key, row["candidate"])


def test_the_pruned_table_has_a_header_and_a_row_each(planned):
    spec, result, frame, path = planned
    pruned_table = _tables(path.read_text())[1]
    assert pruned_table["headers"] == ["candidate", "reason"]
    pruned = frame[frame["status"] == "pruned"]
    assert [row[1][1] for row in pruned_table["rows"]] == list(pruned["reasons"])
    assert "The most frequent reason: \u201ccannot keep up\u201d" in path.read_text()


def test_the_page_draws_every_chart_in_chromium(planned, tmp_path):
    spec, result, frame, path = planned
    png = screenshot(path, tmp_path / "plan.png", tmp_path / "profile")
    assert distinct_colors(png) > 50
    dom = render(path, tmp_path / "profile").dom
    assert dom.count('class="plot-container plotly"') == len(figures(path.read_text())) == 2


def test_a_plan_nothing_passes_says_so_and_names_the_closest():
    spec = _small(load_plan(PLAN), requests=60, tpot_s=0.002)
    spec = replace(spec, candidates=tuple(c for c in spec.candidates if c.hardware == "h100-sxm" and c.replicas == 1))
    result = plan.run(spec, workers=1, early=False)  # as `plan --report` runs: every candidate to the end
    page = plan_report.page(result)
    intro = _intro(page)
    assert result.winner is None and "No candidate meets every SLO. The closest misses:" in intro
    for row in result.closest().to_dict("records"):
        assert f"{row['candidate']} ({row['reasons']})" in intro
    assert "No candidate was pruned." in page and "None meets every SLO." in page
    assert len(figures(page)) == 2


def test_a_plan_with_every_candidate_pruned_says_why():
    spec = _small(load_plan(PLAN))
    spec = replace(spec, candidates=tuple(c for c in spec.candidates if c.hardware == "a100-sxm-80gb"
                                          and c.dtype == "fp8"))
    result = plan.run(spec, workers=1, early=False)  # as `plan --report` runs: every candidate to the end
    frame = planning_commands._with_latency_intervals(spec, result.outcomes)
    page = plan_report.page(result, frame.assign(passes_robust=planning_commands._robust_passes(spec, frame)))
    assert "No candidate meets every SLO: all 4 were pruned before simulation" in _intro(page)
    assert page.count("No candidate was simulated: every one was pruned.") == 3 and not figures(page)
    assert [row[1][1] for row in _tables(page)[0]["rows"]] == ["a100-sxm-80gb has no fp8 compute"] * 4


def test_plan_writes_latency_intervals_to_its_files_and_report(capsys, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("model: llama-3-8b\nworkload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 40\n"
                    "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 40}\n"
                    "slo: {ttft: 1 s, tpot: 80 ms}\nsearch:\n  hardware: [l4, h100-sxm]\n")
    code, _, _ = run(capsys, "plan", str(path), "--workers", "1", "--robust", "--json", str(tmp_path / "p.json"),
                     "--csv", str(tmp_path / "p.csv"), "--report", str(tmp_path / "p.html"))
    rows = json.loads((tmp_path / "p.json").read_text())
    assert code == 0
    for row in rows:
        for key in ("ttft_p99_s", "tpot_p99_s"):
            assert row[f"{key}_low"] is not None and row[f"{key}_high"] is not None
            assert row[f"{key}_low"] < row[f"{key}_high"]
    columns = pd.read_csv(tmp_path / "p.csv").columns
    assert {"ttft_p99_s_low", "ttft_p99_s_high", "tpot_p99_s_low", "tpot_p99_s_high", "passes_robust"} <= set(columns)
    table = _tables((tmp_path / "p.html").read_text())[0]
    highs = {text: float(value) for (_, text), (value, _) in zip(
        _column(table, "candidate"), _column(table, "TTFT 90% interval (ms)"), strict=True)}
    assert highs == {row["candidate"]: pytest.approx(row["ttft_p99_s_high"]) for row in rows}


def test_a_candidate_stopped_early_is_listed_as_such_without_figures():
    spec = _small(load_plan(PLAN))
    result = plan.run(spec, workers=1)  # early verdicts: a certain miss stops its simulation
    stopped = result.outcomes[result.outcomes["status"] == plan.STOPPED]
    assert not stopped.empty
    text = plan_report.page(result)
    assert f"({len(stopped)} of them stopped early, once an SLO was certainly missed)" in text
    assert text.count(">misses (stopped early)</td>") == len(stopped)
