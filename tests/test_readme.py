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


def test_the_readme_python_example_runs_as_written(capsys):
    """Every ```python block of the README runs from the project folder and prints what it says."""
    import os
    import re

    readme = ROOT / "README.md"
    if not readme.exists():
        return
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), re.S)
    assert blocks
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        for block in blocks:
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(here)
    out = capsys.readouterr().out
    assert "output tokens/s" in out and "gemm" in out and "h200" in out
