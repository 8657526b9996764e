"""The what-if report: a self-contained HTML file that a real browser renders without errors."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwsim.loading import scenario_yaml
from hwsim.loading.whatif import load_whatif
from hwsim.output import report

WHATIF = Path(__file__).parents[1] / "data" / "whatif"


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    baseline = scenario_yaml.load_scenario(WHATIF / "baseline.yaml")
    whatifs = [load_whatif(WHATIF / "fp8.yaml", baseline), load_whatif(WHATIF / "speculative.yaml", baseline)]
    knobs = {w.name: report.knob_variants(baseline, w) for w in whatifs}
    path = tmp_path_factory.mktemp("report") / "whatif.html"
    path.write_text(report.build(baseline, whatifs, knobs), encoding="utf-8")
    return path


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("the report test needs a real browser: apt-get install chromium (the README's test command does)")


def test_report_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", text)  # plotly is inlined: the file opens offline
    assert "baseline" in text and "fp8 on H200" in text and "speculative + int4" in text
    for title in ("Summary against the baseline", "Roofline", "per operator", "Latency distributions",
                  "offered load", "KV cache in use", "Cost", "Sensitivity"):
        assert title in text


def test_each_change_alone_is_a_sensitivity_variant():
    baseline = scenario_yaml.load_scenario(WHATIF / "baseline.yaml")
    fp8 = load_whatif(WHATIF / "fp8.yaml", baseline)
    assert sorted(name for name, _ in report.knob_variants(baseline, fp8)) == ["precision", "system"]


def test_report_renders_in_headless_chromium_without_console_errors(page, tmp_path):
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=15000", "--dump-dom", page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    figures = page.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    drawn = result.stdout.count('class="plot-container plotly"')
    assert figures == 7 and drawn == figures  # roofline, breakdown, CDFs, load, KV, cost, sensitivity
    assert result.stdout.count('class="main-svg"') >= figures


def test_the_summary_leads_with_capacity_under_the_slos():
    from dataclasses import replace

    from hwsim.serving.simulate import simulate
    from hwsim.specs.scenario import Slo

    baseline = replace(scenario_yaml.load_scenario(WHATIF / "baseline.yaml"), slo=Slo(ttft_s=0.3, tpot_s=0.03))
    result = report._with_capacity(simulate(baseline))
    table = report._summary_table([result])
    assert table.index("capacity under the SLOs") < table.index("output tokens/s over the run (drain included)")
    assert f"{result.summary['capacity_requests_per_s']:.2f}" in table


def test_the_summary_gives_each_scenarios_throughput_interval():
    from hwsim.serving.simulate import simulate

    baseline = scenario_yaml.load_scenario(WHATIF / "baseline.yaml")
    result = report._with_intervals(simulate(baseline))
    table = report._summary_table([result])
    low, high = result.summary["output_tokens_per_s_low"], result.summary["output_tokens_per_s_high"]
    assert "output tokens/s, 90% interval" in table and f"{low:,.0f} to {high:,.0f}" in table
