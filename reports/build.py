"""Regenerate every what-if study in reports/ as HTML: `python reports/build.py [--out DIR] [NAME...]`.

Each study (`reports/NAME.yaml`: a question, a baseline and its what-ifs) becomes `DIR/NAME.html`
(default DIR: reports/html, which is not kept in the repository: the pages are outputs, the studies
are the source). The pages are self-contained and open offline. `--screenshots` also renders the
README's two pictures in headless Chromium: the top of the weight-format study and the plan report
of workloads/plans/llama3-8b-chat.yaml (reports/screenshots/).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hwsim.output.html_page import HEADLESS_CHROMIUM_FLAGS  # as the HTML tests draw pages (tests/output/browser.py)

HERE = Path(__file__).resolve().parent
SCREENSHOT_STUDY = "weight-formats-h100"
SCREENSHOT_PLAN = HERE.parent / "workloads" / "plans" / "llama3-8b-chat.yaml"


def screenshot(page: Path, png: Path, height_px: int) -> None:
    """The top `height_px` pixels of `page`, 1400 pixels wide, as Chromium draws it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("--screenshots needs Chromium (apt-get install chromium)")
    profile = png.parent / ".chromium-profile"
    subprocess.run([browser, *HEADLESS_CHROMIUM_FLAGS, "--virtual-time-budget=15000", f"--user-data-dir={profile}",
                    f"--window-size=1400,{height_px}", f"--screenshot={png}", page.as_uri()],
                   check=True, capture_output=True)
    shutil.rmtree(profile, ignore_errors=True)
    print(f"wrote {png}")


def screenshots(out: Path) -> None:
    folder = HERE / "screenshots"
    folder.mkdir(exist_ok=True)
    screenshot(out / f"{SCREENSHOT_STUDY}.html", folder / "whatif-report.png", 2300)
    plan_page = out / "plan-llama3-8b-chat.html"
    subprocess.run([sys.executable, "-m", "hwsim", "plan", str(SCREENSHOT_PLAN), "--report", str(plan_page),
                    "--no-progress"], check=True, capture_output=True)
    screenshot(plan_page, folder / "plan-report.png", 2300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="studies to build (default: every reports/*.yaml)")
    parser.add_argument("--out", type=Path, default=HERE / "html", help="folder for the HTML pages")
    parser.add_argument("--screenshots", action="store_true", help="also render the README's screenshots")
    args = parser.parse_args(argv)
    studies = [HERE / f"{name}.yaml" for name in args.names] or sorted(HERE.glob("*.yaml"))
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for study in studies:
        started = time.perf_counter()
        command = [sys.executable, "-m", "hwsim", "report", str(study), "-o", str(args.out / f"{study.stem}.html"),
                   "--no-progress"]
        result = subprocess.run(command, capture_output=True, text=True)
        took_s = time.perf_counter() - started
        if result.returncode:
            failed += 1
            print(f"FAILED {study.name} ({took_s:.0f} s): {result.stderr.strip()}")
        else:
            print(f"{result.stdout.strip()} in {took_s:.0f} s")
    if args.screenshots and not failed:
        screenshots(args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
