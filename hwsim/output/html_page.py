"""The shell every HTML report shares: one self-contained page (plotly inlined, so it opens
offline), sections with a title, a caption saying what the chart shows and the one thing to notice,
one place for the colours that must mean the same thing on every chart, latency axes whose ticks read
the same in every report, and the flags a headless Chromium draws the pages with."""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

SCENARIO_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
BETTER, WORSE, NEUTRAL = "#2a7a2a", "#b02a2a", "#888888"

# How a report's page is drawn without a screen: the README's screenshots (reports/build.py) and the
# HTML tests (tests/output/browser.py) both use these, so the tests check pages drawn as the
# screenshots draw them. Each caller adds its own profile folder, time budget and output.
HEADLESS_CHROMIUM_FLAGS = (
    "--headless",  # no window: draw into memory, then dump the DOM or write a screenshot
    "--no-sandbox",  # Chromium's sandbox will not start as root, as in most containers and CI
    "--disable-gpu",  # software rendering: no graphics device needed
    "--disable-quic",  # no QUIC (UDP) connections: the pages open offline
    "--no-first-run",  # no first-run setup or dialogs in a fresh profile
    "--disable-background-networking",  # no background requests: nothing to wait on or fail without a network
    "--disable-component-update",  # no component downloads
    "--disable-sync",  # no account sync
    "--hide-scrollbars",  # screenshots without scrollbars taking the page's width
)


def scenario_color(index: int) -> str:
    """The colour of the `index`-th scenario of a report, the same on every chart of it."""
    return SCENARIO_COLORS[index % len(SCENARIO_COLORS)]


@dataclass(frozen=True)
class Section:
    """One section of a page: `body` is HTML (a table, a figure); `caption` says in words what it
    shows; `empty_reason`, when set, replaces the body and says why the section has nothing."""
    title: str
    body: str = ""
    caption: str = ""
    empty_reason: str = ""

    def html(self) -> str:
        body = f'<p class="empty">{html.escape(self.empty_reason)}</p>' if self.empty_reason else self.body
        caption = f'<p class="caption">{html.escape(self.caption)}</p>' if self.caption else ""
        return f"<section><h2>{html.escape(self.title)}</h2>{body}{caption}</section>"


def latency_axis(values_ms: list[float]) -> dict:
    """Axis settings for latencies in ms: logarithmic with 1-2-5 ticks written in full when they
    span more than a factor of 20, linear otherwise (so ticks are never bare mantissas)."""
    positive = [v for v in values_ms if v > 0]
    if not positive or max(positive) / min(positive) <= 20:
        return {"type": "linear", "tickformat": ",~r", "rangemode": "tozero"}
    return {"type": "log", **log_ticks(positive)}


def log_ticks(values: list[float], prefix: str = "") -> dict:
    """Ticks for a logarithmic axis (latencies in ms, dollars with `prefix` "$"): 1, 2 and 5 times each
    power of ten from half the lowest positive value to twice the highest, each written in full
    ("0.5", "500", "1,000"), where plotly's own would show bare mantissas ("2", "5") between the
    powers of ten (and drop a `tickprefix`, so the prefix is written into each label)."""
    positive = [v for v in values if math.isfinite(v) and v > 0]
    if not positive:
        return {}
    low, high = min(positive), max(positive)
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ticks = [m * 10.0 ** k for k in decades for m in (1, 2, 5) if low / 2 <= m * 10.0 ** k <= high * 2]
    return {"tickvals": ticks, "ticktext": [prefix + (f"{t:,.0f}" if t >= 1 else f"{t:.4g}") for t in ticks]}


def figure(fig: go.Figure) -> str:
    """A figure as an HTML fragment (the page carries plotly.js once)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table.summary, table.candidates { border-collapse: collapse; }
table.summary td, table.summary th, table.candidates td, table.candidates th { padding: 4px 10px;
  border-bottom: 1px solid #ddd; text-align: right; }
table.candidates th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
.good { color: #2a7a2a; } .bad { color: #b02a2a; }
section { margin-bottom: 2.5em; } .notes, .caption { font-size: 0.9em; color: #555; }
.caption { max-width: 60em; } .empty { font-style: italic; color: #555; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
table.candidates th[aria-sort=ascending]::after { content: " \\25B2"; }
table.candidates th[aria-sort=descending]::after { content: " \\25BC"; }
tr.winner td { font-weight: 600; background: #eef6ee; }
p.verdict { font-size: 1.1em; max-width: 60em; }
table.candidates td.text, table.candidates th.text { text-align: left; }
div.scroll { max-height: 75vh; overflow: auto; border: 1px solid #ddd; }
div.scroll table.candidates { font-size: 0.85em; } div.scroll table.candidates td { white-space: nowrap; }
table.candidates td.wrap { white-space: normal; min-width: 18em; }
"""

# Sorts a `table.candidates` by the column whose header is clicked, again to reverse. Each cell's
# `data-value` is what it sorts by, numerically under a header marked `data-type="number"` (so 900
# sorts before 1,000 whatever the text shows); a cell without one sorts last either way.
SORT_TABLES_SCRIPT = """
document.querySelectorAll("table.candidates").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      var numeric = th.getAttribute("data-type") === "number";
      headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var text = row.cells[column].getAttribute("data-value");
        if (text === null || text === "") { return null; }
        return numeric ? parseFloat(text) : text;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return (x === null) - (y === null); }
        var order = numeric ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def page(title: str, intro: str, sections: list[Section], script: str = "") -> str:
    """The whole page. `intro` is HTML shown under the title; `script` is extra JavaScript."""
    body = "".join(s.html() for s in sections)
    extra = f'<script type="text/javascript">{script}</script>' if script else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>{intro}{body}{extra}</body></html>
"""


# One colour per operator role, the same on every panel, scenario and report. Related roles share a
# hue family (attention warm reds, MLP blues, experts greens, collectives greys) but no two are alike.
OPERATOR_COLORS = {
    "embedding": "#8c6d31", "position_embedding": "#bd9e39", "attn_norm": "#e7ba52", "mlp_norm": "#e7cb94",
    "final_norm": "#cedb9c", "qkv_proj": "#d62728", "q_proj": "#ff9896", "q_a_proj": "#ad494a",
    "q_b_proj": "#e7969c", "kv_a_proj": "#843c39", "kv_b_proj": "#d6616b", "rotary": "#f7b6d2",
    "kv_cache_write": "#9467bd", "attention": "#ff7f0e", "attention_upcast": "#ffbb78",
    "attention_scores": "#e6550d", "attention_softmax": "#fdae6b", "attention_values": "#a63603",
    "attn_out_copy": "#c5b0d5", "o_proj": "#e377c2", "attn_allreduce": "#7f7f7f", "residual_add": "#c7c7c7",
    "mlp_gate_up": "#1f77b4", "mlp_up": "#6baed6", "mlp_act": "#aec7e8", "mlp_down": "#08519c",
    "mlp_allreduce": "#525252", "residual_add_2": "#d9d9d9", "router": "#17becf", "router_select": "#9edae5",
    "experts_gather_scatter": "#637939", "alltoall_dispatch": "#969696", "alltoall_combine": "#bdbdbd",
    "experts_gate_up": "#2ca02c", "experts_up": "#74c476", "experts_act": "#98df8a", "experts_down": "#006d2c",
    "shared_expert_gate_up": "#8ca252", "shared_expert_up": "#b5cf6b", "shared_expert_act": "#dadaeb",
    "shared_expert_down": "#393b79", "last_token_gather": "#bcbddc", "lm_head": "#8c564b",
}
_SPARE_COLORS = ("#5254a3", "#6b6ecf", "#9c9ede", "#7b4173", "#a55194", "#ce6dbd", "#de9ed6", "#3182bd")


def operator_color(role: str) -> str:
    """The colour of operator `role`; a role not in the map gets a spare colour chosen from its
    name, so it too is the same on every chart."""
    if role in OPERATOR_COLORS:
        return OPERATOR_COLORS[role]
    return _SPARE_COLORS[sum(map(ord, role)) % len(_SPARE_COLORS)]
