"""The what-if report: a self-contained HTML page whose charts read right, drawn by a real browser.

The figure checks parse each chart's own data back out of the page, so they catch what a reader
would: an empty trace, an operator that changes colour between panels, an axis without a unit, a
section left empty without a word."""
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from hwsim.loading import scenario_yaml, study_yaml
from hwsim.loading.whatif import load_whatif
from hwsim.output import html_page, report
from hwsim.serving.simulate import simulate
from hwsim.specs.scenario import Slo
from tests.output.browser import distinct_colors, figures, render, screenshot, values

WHATIF = Path(__file__).parents[1] / "data" / "whatif"
STEPS: dict[str, list[str]] = {}  # the progress steps each page's build reported


@pytest.fixture(scope="module")
def study_page(tmp_path_factory) -> Path:
    """A study with SLOs (so capacity leads) and three scenarios on two devices."""
    study = study_yaml.load_study(WHATIF / "study.yaml")
    knobs = {w.name: report.knob_variants(study.baseline, w) for w in study.whatifs}
    path = tmp_path_factory.mktemp("report") / "study.html"
    steps = STEPS.setdefault("study", [])
    path.write_text(report.build(study.baseline, list(study.whatifs), knobs, steps.append, study.question),
                    encoding="utf-8")
    assert len(steps) == report.step_count(list(study.whatifs), knobs)  # what the progress bar counts to
    return path


@pytest.fixture(scope="module")
def closed_loop_page(tmp_path_factory) -> Path:
    """A closed-loop baseline without SLOs: no capacity, no load curve, and the page says why."""
    baseline = scenario_yaml.load_scenario(WHATIF / "baseline.yaml")
    users = replace(baseline.workload, arrival="closed_loop", concurrency=4, rate_per_s=0.0, count=40)
    baseline = replace(baseline, workload=users)
    path = tmp_path_factory.mktemp("report") / "closed.html"
    path.write_text(report.build(baseline, [load_whatif(WHATIF / "fp8.yaml", baseline)]), encoding="utf-8")
    return path


def sections(page_html: str) -> dict[str, str]:
    return dict(re.findall(r"<section><h2>(.*?)</h2>(.*?)</section>", page_html, flags=re.S))


def test_the_page_is_self_contained_and_states_its_question_and_slos(study_page):
    text = study_page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", text)  # plotly is inlined: the file opens offline
    assert "Does fp8 on an H200 beat bf16 on an H100 for a short chat?" in text
    assert "TTFT p99 under 300 ms, TPOT p99 under 30 ms" in text
    assert list(sections(text))[:2] == ["Summary against the baseline", "Latency against offered load"]
    assert "Roofline: NVIDIA H100 SXM5 80GB" in text and "Roofline: NVIDIA H200 SXM 141GB" in text  # one per device


def test_no_section_is_empty_without_a_stated_reason(study_page, closed_loop_page):
    for page in (study_page, closed_loop_page):
        for title, body in sections(page.read_text(encoding="utf-8")).items():
            drawn = "plotly-graph-div" in body or "<table" in body
            assert drawn or re.search(r'<p class="empty">\w', body), title
            assert '<p class="caption">' in body or not drawn, f"{title}: a chart without a sentence saying what it shows"


def test_a_closed_loop_says_why_it_has_no_load_curve(closed_loop_page):
    body = sections(closed_loop_page.read_text(encoding="utf-8"))["Latency against offered load"]
    assert '<p class="empty">No load curve' in body and "closed loop" in body


def test_every_trace_holds_data(study_page, closed_loop_page):
    for page in (study_page, closed_loop_page):
        for fig in figures(page.read_text(encoding="utf-8")):
            for trace in fig["data"]:
                assert values(trace, "x") and values(trace, "y"), trace.get("name")
                assert len(values(trace, "x")) == len(values(trace, "y")), trace.get("name")


def test_each_operator_has_one_colour_everywhere_and_no_two_share_one(study_page):
    seen: dict[str, str] = {}
    for fig in figures(study_page.read_text(encoding="utf-8")):
        for trace in fig["data"]:
            if trace["type"] == "bar" and trace.get("legendgroup") in html_page.OPERATOR_COLORS:
                assert seen.setdefault(trace["legendgroup"], trace["marker"]["color"]) == trace["marker"]["color"]
    assert len(seen) >= 10 and len(set(seen.values())) == len(seen)
    assert all(color == html_page.operator_color(op) for op, color in seen.items())


def _axis_values(fig: dict) -> dict[str, list]:
    """Each axis of a figure (layout key, e.g. `xaxis2`) with the values its traces put on it."""
    found: dict[str, list] = {}
    for trace in fig["data"]:
        for letter in ("x", "y"):
            axis = trace.get(f"{letter}axis", letter)
            found.setdefault(f"{letter}axis{axis[1:]}", []).extend(values(trace, letter))
    return found


def test_every_numeric_axis_has_a_title_with_its_unit(study_page):
    for fig in figures(study_page.read_text(encoding="utf-8")):
        for axis, axis_values in _axis_values(fig).items():
            if not all(isinstance(v, int | float) for v in axis_values):
                continue  # names of scenarios or operators
            settings = fig["layout"].get(axis, {})
            title = settings.get("title", {}).get("text", "")
            percent = "%" in settings.get("tickformat", "")
            assert title and (re.search(r"\(.+\)", title) or percent), f"{axis}: {title!r}"


def test_memory_axes_start_at_zero_under_the_device_capacity(study_page):
    fig = next(f for f in figures(study_page.read_text(encoding="utf-8"))
               if "device memory in use" in str(f["layout"].get("annotations")))
    assert fig["layout"]["yaxis2"]["rangemode"] == "tozero"
    capacities = [s["y0"] for s in fig["layout"]["shapes"]]
    assert 80 < min(capacities) < 90 and 140 < max(capacities) < 160  # H100 80 GB, H200 141 GB (GiB shown as GB)


def test_the_load_curves_mark_the_slos_and_each_capacity(study_page):
    fig = figures(study_page.read_text(encoding="utf-8"))[0]
    names = [t["name"] for t in fig["data"]]
    assert "TTFT SLO" in names and "TPOT SLO" in names
    slo = {t["name"]: values(t, "y")[0] for t in fig["data"] if t["name"].endswith("SLO")}
    assert slo == {"TTFT SLO": 300.0, "TPOT SLO": 30.0}
    stars = [t for t in fig["data"] if t.get("marker", {}).get("symbol") == "star"]
    assert len(stars) == 2 * 3  # each scenario's capacity on both panels


def test_the_summary_leads_with_capacity_and_its_interval(study_page):
    body = sections(study_page.read_text(encoding="utf-8"))["Summary against the baseline"]
    rows = re.findall(r"<tr><th[^>]*>(.*?)</th>", body)
    assert rows[1:4] == ["capacity under the SLOs, requests/s", "output tokens/s at capacity",
                        "output tokens/s at capacity, 90% interval"]
    assert "E2E p99" in rows and "SLO attainment" in rows and "goodput, requests/s within the SLOs" in rows
    assert "1 replica of 1 x NVIDIA H100" in body and "1x 1x" not in body


def test_the_summary_table_states_capacity_from_the_search():
    baseline = replace(scenario_yaml.load_scenario(WHATIF / "baseline.yaml"), slo=Slo(ttft_s=0.3, tpot_s=0.03))
    run = report._run(baseline)
    table = report._summary_table([run.result])
    assert run.found is not None and f"{run.found.rate_per_s:,.3g}" in table
    low, high = run.result.summary["output_tokens_per_s_low"], run.result.summary["output_tokens_per_s_high"]
    assert f"{low:,.0f} to {high:,.0f}" in table


def test_the_tornado_centres_zero_and_colours_by_direction(study_page):
    fig = next(f for f in figures(study_page.read_text(encoding="utf-8"))
               if "change in capacity under the SLOs" in str(f["layout"].get("annotations")))
    for trace, axis, higher_better in ((fig["data"][0], "xaxis", True), (fig["data"][1], "xaxis2", False)):
        low, high = fig["layout"][axis]["range"]
        assert low == -high and high >= 0.02
        for change, color, label in zip(values(trace, "x"), trace["marker"]["color"], trace["text"], strict=True):
            expected = html_page.NEUTRAL if abs(change) < 0.005 else (
                html_page.BETTER if (change > 0) == higher_better else html_page.WORSE)
            assert color == expected and label == f"{change:+.1%}"


@pytest.mark.parametrize("span", [0.02, 0.031, 0.2, 0.9, 3.0])
def test_percent_ticks_never_repeat(span):
    decimals = int(report._percent_format(span)[2:-1])
    ticks = [f"{k * span / 3:+.{decimals}%}" for k in range(-3, 4)]
    assert len(set(ticks)) == len(ticks)


def test_a_change_of_nothing_stays_a_sliver():
    assert report._symmetric_span([0.0]) == 0.02 and report._symmetric_span([-0.5, 0.1]) == pytest.approx(0.65)


def test_log_latency_axes_write_every_tick_in_full():
    axis = html_page.latency_axis([3.0, 700.0])
    assert axis["type"] == "log" and axis["ticktext"] == ["2", "5", "10", "20", "50", "100", "200", "500", "1,000"]
    assert axis["tickvals"] == pytest.approx([2, 5, 10, 20, 50, 100, 200, 500, 1000])
    assert html_page.latency_axis([3.0, 9.0])["type"] == "linear"
    assert html_page.log_ticks([3.0, math.nan, 700.0, 0.0]) == {k: axis[k] for k in ("tickvals", "ticktext")}
    assert html_page.log_ticks([0.3, 30_000.0])["ticktext"][:2] == ["0.2", "0.5"]
    assert html_page.log_ticks([0.3, 30_000.0])["ticktext"][-3:] == ["10,000", "20,000", "50,000"]
    assert html_page.log_ticks([]) == {}


def test_the_log_latency_axes_carry_their_ticks_written_in_full(study_page):
    logs = [settings for fig in figures(study_page.read_text(encoding="utf-8")) for axis, settings in
            fig["layout"].items() if axis[1:5] == "axis" and settings.get("type") == "log"
            and "(ms)" in settings.get("title", {}).get("text", "")]
    assert logs  # the study's latency distributions span over 20x
    for settings in logs:
        assert len(settings["tickvals"]) >= 3, settings["title"]
        assert [float(t.replace(",", "")) for t in settings["ticktext"]] == settings["tickvals"], settings["title"]


def test_roofline_labels_leave_each_other_room(study_page):
    for fig in figures(study_page.read_text(encoding="utf-8")):
        if "arithmetic intensity" not in str(fig["layout"].get("xaxis")):
            continue
        placed = [(math.log10(x), math.log10(y)) for t in fig["data"] if t.get("mode") == "markers+text"
                  for x, y, label in zip(values(t, "x"), values(t, "y"), t["text"], strict=True) if label]
        assert placed
        for i, (x, y) in enumerate(placed):
            for px, py in placed[:i]:
                assert abs(x - px) > report.LABEL_DECADES[0] or abs(y - py) > report.LABEL_DECADES[1]


def test_each_change_alone_is_a_sensitivity_variant():
    baseline = scenario_yaml.load_scenario(WHATIF / "baseline.yaml")
    fp8 = load_whatif(WHATIF / "fp8.yaml", baseline)
    assert sorted(name for name, _ in report.knob_variants(baseline, fp8)) == ["precision", "system"]


def test_chromium_draws_every_trace_without_console_errors(study_page, tmp_path):
    page_html = study_page.read_text(encoding="utf-8")
    rendered = render(study_page, tmp_path / "profile")
    assert rendered.console == []
    charts = figures(page_html)
    assert rendered.dom.count('class="plot-container plotly"') == len(charts) == 9
    drawn = len(re.findall(r'class="trace (?:scatter|bars)', rendered.dom))
    assert drawn == sum(len(f["data"]) for f in charts)


def test_a_screenshot_of_the_report_is_not_blank(study_page, tmp_path):
    png = screenshot(study_page, tmp_path / "report.png", tmp_path / "profile")
    assert distinct_colors(png) > 200


def test_the_capacity_table_survives_a_scenario_that_misses_its_slos_idle():
    baseline = replace(scenario_yaml.load_scenario(WHATIF / "baseline.yaml"), slo=Slo(ttft_s=1e-4, tpot_s=None))
    run = report._run(baseline)
    assert run.found is None and "missed even" in run.no_capacity
    assert "<td>-</td>" in report._summary_table([run.result])
    assert simulate(baseline).summary["requests"] == run.result.summary["requests"]



def test_the_step_count_is_how_often_build_reports_progress(study_page):
    steps = STEPS["study"]
    assert steps[0] == "simulated baseline" and steps[-1].startswith("sensitivity: int4")
