"""A real browser for the HTML tests: headless Chromium renders a page, and the tests read what it
drew (the DOM after scripts ran, the console, a screenshot)."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from hwsim.output.html_page import HEADLESS_CHROMIUM_FLAGS  # as reports/build.py draws the README's screenshots


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("the HTML tests need a real browser: apt-get install chromium (the README's test command does)")


@dataclass(frozen=True)
class Rendered:
    dom: str  # the document after its scripts ran
    console: list[str]  # console messages (errors and warnings alike)


def render(page: Path, profile: Path) -> Rendered:
    """The page's DOM once its scripts have run, and whatever it wrote to the console."""
    command = [chromium(), *HEADLESS_CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=15000", "--dump-dom", page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return Rendered(result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line])


def screenshot(page: Path, out: Path, profile: Path, width: int = 1400, height: int = 2400) -> Path:
    """A PNG of the page as Chromium draws it at `width` x `height` pixels."""
    command = [chromium(), *HEADLESS_CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               "--virtual-time-budget=15000", f"--screenshot={out}", page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and out.exists(), result.stderr[-2000:]
    return out


def distinct_colors(png: Path) -> int:
    """How many distinct pixel colours a screenshot holds: a blank page has one or two, a drawn
    chart hundreds."""
    from PIL import Image

    with Image.open(png) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colors or [])


def figures(page_html: str) -> list[dict]:
    """Every plotly figure of a page as {"data": [...], "layout": {...}}, read back from the
    `Plotly.newPlot(id, data, layout, config)` calls the page carries."""
    import json
    import re

    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', page_html):
        data, end = decoder.raw_decode(page_html, match.end())
        rest = re.match(r"\s*,\s*", page_html[end:])
        assert rest, "a newPlot call without a layout"
        layout, _ = decoder.raw_decode(page_html, end + rest.end())
        found.append({"data": data, "layout": layout})
    return found


def values(trace: dict, key: str) -> list:
    """A trace's `x`, `y` or `text` as a list, whether plotly wrote it as a JSON list or as a typed
    array ({"dtype": ..., "bdata": base64})."""
    import base64

    import numpy as np

    value = trace.get(key)
    if value is None:
        return []
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return array.tolist()
    return list(value)
