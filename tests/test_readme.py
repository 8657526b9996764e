"""The README's set-up commands are the ones CI runs."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = ROOT / "README.md"
    ci = ROOT / ".ci" / "run"
    if not readme.exists() or not ci.exists():  # an installed copy without the checkout
        return
    command = "apt-get update -qq && apt-get install -y -qq chromium && pip install '.[test]' && pytest"
    assert f"```\n{command}\n```" in readme.read_text()
    assert command in ci.read_text().splitlines()
