"""The command line: real output, one-line errors with exit code 2, examples in --help."""
import json
import os
import subprocess
import sys

import pytest

from hwsim.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_prints_times_memory_and_operator_table(capsys):
    code, out, _ = run(capsys, "estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "4",
                       "--prompt", "256", "--output", "32")
    assert code == 0
    for text in ("prefill", "decode per token", "throughput", "weights 16.1 GB", "qkv_proj", "mlp_gate_up", "bound"):
        assert text in out


def test_estimate_json(capsys, tmp_path):
    path = tmp_path / "e.json"
    code, _, _ = run(capsys, "estimate", "--hardware", "h200-sxm", "--model", "mistral-7b", "--ops", "none",
                     "--json", str(path))
    document = json.loads(path.read_text())
    assert code == 0 and document["output_tokens_per_s"] > 0 and document["memory"]["weights_bytes"] > 1e10


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


def test_validate_prints_rows_and_summary(capsys, data_dir):
    code, out, _ = run(capsys, "validate", str(data_dir / "sample.csv"))
    assert code == 0
    assert "g-1" in out and "not predictable" in out and "MAPE" in out


def test_every_command_help_shows_an_example():
    for command in ("estimate", "validate", "calibrate", "profiles", "import-model", "simulate"):
        result = subprocess.run([sys.executable, "-m", "hwsim.cli", command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "example:" in result.stdout


def test_import_model_writes_a_loadable_profile(capsys, data_dir, tmp_path):
    path = tmp_path / "mine.yaml"
    code, out, _ = run(capsys, "import-model", str(data_dir / "llama-3-8b-config.json"), "--id", "mine", "-o", str(path))
    assert code == 0 and "8.03B" in out
    code, out, _ = run(capsys, "estimate", "--hardware", "l40s", "--model", str(path), "--ops", "none")
    assert code == 0 and "throughput" in out


def test_installed_package_ships_its_profiles(tmp_path):
    """Run from an unrelated folder: the profiles must come from the installed package."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "hwsim.cli", "profiles"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "h200-sxm" in result.stdout and "deepseek-v3" in result.stdout
