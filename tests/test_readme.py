"""The README's set-up commands are the ones CI runs."""
from pathlib import Path

import pytest

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


def _readme_commands():
    """Each `$ hwsim ...` example of the README with the lines it shows (`...` elides lines)."""
    import re

    readme = ROOT / "README.md"
    if not readme.exists():
        return []
    examples = []
    for block in re.findall(r"```\n(\$ hwsim .*?)```", readme.read_text(), re.S):
        for chunk in re.split(r"\n(?=\$ hwsim )", block):
            lines = chunk.rstrip("\n").split("\n")
            command, rest = lines[0][2:], lines[1:]
            while command.endswith("\\"):
                command = command[:-1] + rest.pop(0).strip()
            examples.append((command, [line for line in rest if line.strip() and line.strip() != "..."]))
    return examples


@pytest.mark.parametrize("command, shown", _readme_commands(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_every_readme_example_prints_what_the_readme_shows(command, shown):
    import shlex
    import subprocess
    import sys

    argv = shlex.split(command)
    result = subprocess.run([sys.executable, "-m", "hwsim", *argv[1:]], capture_output=True, text=True, cwd=ROOT)
    printed = (result.stdout + result.stderr).split("\n")
    assert [line for line in shown if line not in printed] == []
