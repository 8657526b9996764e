"""The command line: one-line errors with exit code 2, examples in --help, the installed entry point."""
import os
import subprocess
import sys

import pytest

from .invoke import run


@pytest.mark.parametrize("argv, expected", [
    (["estimate", "--hardware", "h100-sxn", "--model", "llama-3-8b"], "did you mean h100-sxm"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "0"], "batch must be at least 1"),
    (["estimate", "--hardware", "t4", "--model", "llama-3-70b"], "does not fit"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--dtype", "fp6"], "unknown dtype"),
    (["validate", "no-such-file.csv"], "file not found"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_every_command_help_shows_an_example():
    for command in ("estimate", "validate", "calibrate", "profiles", "import-model", "simulate", "offload-plan",
                    "flash", "plan", "moe-plan", "report"):
        result = subprocess.run([sys.executable, "-m", "hwsim", command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "example:" in result.stdout


def test_installed_package_ships_its_profiles(tmp_path):
    """Run from an unrelated folder: the profiles must come from the installed package."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "hwsim", "profiles"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "h200-sxm" in result.stdout and "deepseek-v3" in result.stdout


@pytest.mark.parametrize("text, expected", [
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\nengine: {batching: greedy}\n",
     "engine.batching: expected one of mixed, prefill_first, static"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chta\n", "workload: unknown workload 'chta'"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\nslo: {ttft: 5}\n", "slo.ttft"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\nreplica: 2\n", "replica: unknown field"),
    ("hardware: h100-sxm\nmodel: llama-3-70b\nworkload: chat\n", "no room for a KV cache"),
])
def test_bad_scenarios_fail_up_front_naming_the_field(capsys, tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = run(capsys, "simulate", str(path))
    assert code == 2 and expected in err and "Traceback" not in err
