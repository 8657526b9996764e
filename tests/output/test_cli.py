"""The command line: one-line errors with exit code 2, examples in --help, the installed entry point."""
import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.base import build
from hwsim.output import cli

from .invoke import run


@pytest.mark.parametrize("argv, expected", [
    (["estimate", "--hardware", "h100-sxn", "--model", "llama-3-8b"], "did you mean h100-sxm"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "0"], "batch must be at least 1"),
    (["estimate", "--hardware", "t4", "--model", "llama-3-70b"], "does not fit"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--dtype", "fp6"], "unknown dtype"),
    (["validate", "no-such-file.csv"], "file not found"),
    (["estimate", "--hardware", "ryzen-7950x", "--model", "llama-3.2-1b", "--weight-format", "int4-marlin"],
     "no int4-marlin GEMM kernel on this cpu device"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--dtype", "fp8", "--weight-format", "q4_0"],
     "weight format q4_0 stores int4 weights; it cannot be used with dtype fp8"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--placement", "lm_head=host;lm_head=disk"],
     "lm_head is named twice"),
    (["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--batch", "most"], "expected a whole number or max"),
    (["estimate", "--hardware", "t4", "--model", "llama-3-70b", "--batch", "max"], "not even one sequence fits"),
    (["import-bench", "tests/golden/outputs/estimate-apple-unified.json", "--hardware", "h100-sxm", "--model",
      "llama-3-8b", "-o", "unused.csv"], "not a benchmark output hwsim reads"),
    (["import-bench", "README.md", "--hardware", "h100-sxm", "--model", "llama-3-8b", "-o", "unused.csv"],
     "README.md: not valid JSON"),
    (["import-bench", "validation/benchmark-outputs/llama-bench.json", "--hardware", "h100-sxm", "--model",
      "llama-3-8", "-o", "unused.csv"], "did you mean llama-3-8b"),
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
    quantized = subprocess.run([sys.executable, "-m", "hwsim", "estimate", "--hardware", "rtx-4090", "--model",
                                "llama-3-8b", "--weight-format", "q4_0", "--ops", "none"],
                               capture_output=True, text=True, cwd=tmp_path, env=env)
    assert quantized.returncode == 0, quantized.stderr  # the kernel profiles ship too
    engine = subprocess.run([sys.executable, "-c", "from hwsim.loading import catalog; "
                             "print(catalog.engine('vllm-v1').max_num_seqs)"],
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert engine.returncode == 0 and engine.stdout.strip(), engine.stderr  # and the engine profiles


@pytest.mark.parametrize("text, expected", [
    ("hardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\nengine: {batching: greedy}\n",
     "engine.batching: expected one of mixed, inflight, prefill_first, static"),
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


ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
ESTIMATE = ["estimate", "--hardware", "h100-sxm", "--model", "llama-3-8b", "--ops", "none"]
SCENARIO = ("hardware: l40s\nmodel: mistral-7b\nworkload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 30\n"
            "  prompt_tokens: {kind: fixed, value: 300}\n  output_tokens: {kind: fixed, value: 40}\n")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _in(folder: Path, argv: list[str]) -> list[str]:
    return [a.replace("{dir}", str(folder)).replace("{data}", str(DATA)).replace("{root}", str(ROOT)) for a in argv]


def _run_in(capsys, folder: Path, argv: list[str]):
    """Run `argv` with `{dir}` an empty folder: exit code, stdout (folder as `{dir}`), stderr and the
    files written (an HTML report's plot ids are random, so only its presence counts)."""
    folder.mkdir()
    (folder / "scenario.yaml").write_text(SCENARIO)
    code, out, err = run(capsys, *_in(folder, argv))
    files = {p.name: b"" if p.suffix == ".html" else p.read_bytes() for p in folder.iterdir()}
    return code, out.replace(str(folder), "{dir}"), err, files


@pytest.mark.parametrize("old, new, warning", [
    (ESTIMATE + ["--output", "16"], ESTIMATE + ["--output-tokens", "16"],
     "hwsim estimate: --output is deprecated; use --output-tokens"),
    (["moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--batch", "4", "--output", "16"],
     ["moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--batch", "4", "-n", "16"],
     "hwsim moe-plan: --output is deprecated; use --output-tokens"),
    (["offload-plan", "--hardware", "flexgen-t4", "--model", "opt-13b", "--dtype", "fp16", "--output", "8"],
     ["offload-plan", "--hardware", "flexgen-t4", "--model", "opt-13b", "--dtype", "fp16", "--output-tokens", "8"],
     "hwsim offload-plan: --output is deprecated; use --output-tokens"),
    (["calibrate", "{data}/sample.csv", "--hardware", "h200-sxm", "--output", "{dir}/fit.yaml"],
     ["calibrate", "{data}/sample.csv", "--hardware", "h200-sxm", "--out", "{dir}/fit.yaml"],
     "hwsim calibrate: --output is deprecated; use --out"),
    (["import-model", "{data}/llama-3-8b-config.json", "--id", "mine", "--output", "{dir}/mine.yaml"],
     ["import-model", "{data}/llama-3-8b-config.json", "--id", "mine", "-o", "{dir}/mine.yaml"],
     "hwsim import-model: --output is deprecated; use --out"),
    (["import-trace", "{data}/traces/torch-profiler-gpu-sample.json", "--hardware", "h200-sxm", "--output",
      "{dir}/k.csv"],
     ["import-trace", "{data}/traces/torch-profiler-gpu-sample.json", "--hardware", "h200-sxm", "--out",
      "{dir}/k.csv"],
     "hwsim import-trace: --output is deprecated; use --out"),
    (["report", "{data}/whatif/baseline.yaml", "--no-sensitivity", "--output", "{dir}/r.html"],
     ["report", "{data}/whatif/baseline.yaml", "--no-sensitivity", "-o", "{dir}/r.html"],
     "hwsim report: --output is deprecated; use --out"),
    (["simulate", "{dir}/scenario.yaml", "--csv", "{dir}/rec"], ["simulate", "{dir}/scenario.yaml", "--csv-prefix", "{dir}/rec"],
     "hwsim simulate: --csv is deprecated; use --csv-prefix"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_an_old_spelling_warns_once_and_does_what_the_new_one_does(capsys, tmp_path, old, new, warning):
    expected = _run_in(capsys, tmp_path / "new", new)
    code, out, err, files = _run_in(capsys, tmp_path / "old", old)
    assert expected[0] == 0 and expected[2] == ""
    assert err.splitlines() == [warning]
    assert (code, out, files) == (expected[0], expected[1], expected[3])


def test_prompt_is_a_plain_alias_of_prompt_tokens(capsys):
    assert run(capsys, *ESTIMATE, "--prompt", "256") == run(capsys, *ESTIMATE, "--prompt-tokens", "256")


@pytest.mark.parametrize("argv, expected", [
    (ESTIMATE + ["--output", "4", "--output-tokens", "4"], "not allowed with argument"),
    (["report", "{data}/whatif/baseline.yaml", "-o", "a.html", "--output", "b.html"], "not allowed with argument"),
    (["report", "{data}/whatif/baseline.yaml"], "-o/--out is required"),
])
def test_a_new_and_an_old_spelling_together_or_neither_where_required_is_refused(capsys, tmp_path, argv, expected):
    code, _, err = run(capsys, *_in(tmp_path, argv))
    assert code == 2 and expected in err.splitlines()[-1]


def test_version_is_the_installed_package_version_and_says_how_its_engine_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    engine = "compiled by mypyc" if build.compiled_modules() else "pure Python"
    assert capsys.readouterr().out == f"hwsim {importlib.metadata.version('hwsim')} (engine {engine})\n"


@pytest.mark.parametrize("name", sorted(cli.EXAMPLES))
def test_every_option_of_every_command_is_described_in_its_help(monkeypatch, name):
    monkeypatch.setenv("COLUMNS", "1000")  # one help text a line, so that each can be found whole
    parser = _subcommands()[name]
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, cli._Deprecated):
            assert action.help == argparse.SUPPRESS
            assert not re.search(rf"{action.option_strings[0]}(?![\w-])", text)  # hidden, usage included
            continue
        assert action.help and action.help != argparse.SUPPRESS, f"{name} {action.option_strings or action.dest}"
        assert action.help in text


def test_top_level_help_gives_an_example_of_every_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in cli.EXAMPLES:
        assert re.search(rf"^  hwsim {name}(?![\w-])", out, re.M), name


WRITERS = [
    ESTIMATE + ["--json", "{target}"],
    ["validate", "{data}/sample.csv", "--json", "{target}"],
    ["speedup", "{root}/validation/pairs/int4/before.csv", "--after", "{root}/validation/pairs/int4/after.csv",
     "--json", "{target}"],
    ["simulate", "{data}/whatif/baseline.yaml", "--json", "{target}"],
    ["simulate", "{data}/whatif/baseline.yaml", "--csv-prefix", "{target}"],
    ["plan", "{root}/tests/golden/tiny-plan.yaml", "--workers", "1", "--json", "{target}"],
    ["plan", "{root}/tests/golden/tiny-plan.yaml", "--workers", "1", "--csv", "{target}"],
    ["plan", "{root}/tests/golden/tiny-plan.yaml", "--workers", "1", "--report", "{target}"],
    ["moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--json", "{target}"],
    ["offload-plan", "--hardware", "flexgen-t4", "--model", "opt-13b", "--json", "{target}"],
    ["flash", "--hardware", "m1-max-laptop", "--model", "opt-6.7b", "--json", "{target}"],
    ["calibrate", "{data}/sample.csv", "--hardware", "h200-sxm", "-o", "{target}"],
    ["import-model", "{data}/llama-3-8b-config.json", "--id", "mine", "-o", "{target}"],
    ["import-trace", "{data}/traces/torch-profiler-gpu-sample.json", "--hardware", "h200-sxm", "-o", "{target}"],
    ["report", "{data}/whatif/baseline.yaml", "-o", "{target}"],
]


@pytest.mark.parametrize("argv", WRITERS, ids=lambda argv: " ".join(argv[:1] + argv[-2:-1]))
def test_a_writer_into_a_missing_folder_fails_in_one_line_before_it_runs(capsys, tmp_path, argv):
    missing = tmp_path / "missing"
    code, out, err = run(capsys, *[a.replace("{target}", str(missing / "x.out")) for a in _in(tmp_path, argv)])
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and f"the folder {missing} does not exist (--mkdir creates it)" in err
    assert not missing.exists()


@pytest.mark.parametrize("argv", WRITERS, ids=lambda argv: " ".join(argv[:1] + argv[-2:-1]))
def test_a_writer_onto_a_folder_fails_in_one_line(capsys, tmp_path, argv):
    folder = tmp_path / "taken"
    folder.mkdir()
    suffix = "-requests.csv" if "--csv-prefix" in argv else ""
    (tmp_path / f"taken{suffix}").mkdir(exist_ok=True)
    code, out, err = run(capsys, *[a.replace("{target}", str(folder)) for a in _in(tmp_path, argv)])
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "is a folder" in err


def test_mkdir_creates_the_missing_folders_of_a_file_written(capsys, tmp_path):
    target = tmp_path / "reports" / "2026" / "e.json"
    code, _, err = run(capsys, *ESTIMATE, "--json", str(target), "--mkdir")
    assert code == 0 and err == "" and json.loads(target.read_text())["model"] == "llama-3-8b"


def test_a_file_in_place_of_a_folder_is_refused_even_with_mkdir(capsys, tmp_path):
    (tmp_path / "notes").write_text("")
    code, _, err = run(capsys, *ESTIMATE, "--json", str(tmp_path / "notes" / "e.json"), "--mkdir")
    assert code == 2 and len(err.splitlines()) == 1 and "is not a folder" in err


@pytest.mark.parametrize("argv, message", [
    (["plan", "{root}/tests/golden/tiny-plan.yaml", "--workers", "0"], "--workers must be at least 1; got 0"),
    (ESTIMATE + ["--batch", "0"], "--batch must be at least 1; got 0"),
    (ESTIMATE + ["--count", "0"], "--count must be at least 1; got 0"),
    (ESTIMATE + ["-n", "0"], "-n must be at least 1; got 0"),
    (ESTIMATE + ["--prompt-tokens", "-5"], "--prompt-tokens must be at least 1; got -5"),
    (ESTIMATE + ["--prefetch-experts", "-1"], "--prefetch-experts must be at least 0; got -1"),
    (["moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--count", "0"],
     "--count must be at least 1; got 0"),
    (["moe-plan", "--hardware", "h100-sxm", "--model", "mixtral-8x7b", "--resident", "-1"],
     "--resident must be at least 0; got -1"),
    (["offload-plan", "--hardware", "flexgen-t4", "--model", "opt-13b", "--show", "-1"],
     "--show must be at least 0; got -1"),
    (["flash", "--hardware", "m1-max-laptop", "--model", "opt-6.7b", "--threads", "0"],
     "--threads must be at least 1; got 0"),
    (["flash", "--hardware", "m1-max-laptop", "--model", "opt-6.7b", "--context", "0"],
     "--context must be at least 1; got 0"),
])
def test_a_count_out_of_range_is_one_line_and_exit_code_2(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, *_in(tmp_path, argv))
    assert code == 2 and out == "" and err == f"hwsim {argv[0]}: error: {message}\n"


def test_an_old_spelling_is_checked_as_the_new_one(capsys):
    code, _, err = run(capsys, *ESTIMATE, "--output", "0")
    assert code == 2 and err.splitlines() == ["hwsim estimate: --output is deprecated; use --output-tokens",
                                              "hwsim estimate: error: --output must be at least 1; got 0"]


@pytest.mark.parametrize("argv", [
    ESTIMATE,
    ["simulate", "{data}/whatif/baseline.yaml"],
    ["plan", "{root}/tests/golden/tiny-plan.yaml", "--workers", "1"],
])
def test_an_unknown_pricing_id_is_an_error_naming_it(capsys, tmp_path, argv):
    code, out, err = run(capsys, *_in(tmp_path, argv), "--pricing", "free-lunch")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert f"hwsim {argv[0]}: error: unknown pricing 'free-lunch'" in err


def test_batch_max_finds_the_largest_batch_that_fits_and_says_why_one_more_does_not(capsys):
    code, out, _ = run(capsys, "estimate", "--hardware", "rtx-4090", "--model", "llama-3-8b", "--batch", "max",
                       "--prompt-tokens", "4096", "--output-tokens", "128")
    assert code == 0
    first = out.splitlines()[0]
    batch = int(re.match(r"largest feasible batch: (\d+) ", first).group(1))
    assert f"batch {batch + 1} x 4224 tokens" in first and "does not fit in device memory" in first
    assert f"batch {batch}, prompt 4096 tokens" in out
    code, _, err = run(capsys, "estimate", "--hardware", "rtx-4090", "--model", "llama-3-8b", "--batch", str(batch + 1),
                       "--prompt-tokens", "4096", "--output-tokens", "128")
    assert code == 2 and "does not fit" in err


def test_a_weight_format_alone_names_the_weights_and_their_dtype(capsys):
    code, out, _ = run(capsys, "estimate", "--hardware", "rtx-4090", "--model", "llama-3-8b", "--weight-format", "q4_k_m")
    assert code == 0
    assert "q4_k_m (int4) weights" in out


def test_capacity_of_a_scenario_without_an_slo_is_one_line_and_exit_code_2(capsys, tmp_path):
    scenario = tmp_path / "no-slo.yaml"
    scenario.write_text("name: no-slo\nhardware: h100-sxm\nmodel: llama-3-8b\nworkload: chat\n")
    code, _, err = run(capsys, "capacity", str(scenario))
    assert code == 2 and "capacity needs an SLO" in err and len(err.strip().splitlines()) == 1
