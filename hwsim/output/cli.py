"""The `hwsim` command: a thin layer that parses arguments, calls the core, prints results.

A flag means the same thing in every command: `--prompt-tokens` and `--output-tokens` (`-n`) are
token counts, `-o/--out FILE` is the file a command exists to write, `--json FILE` and `--csv FILE`
also write a printed result, `--pricing` picks how cost is priced and `--hardware` takes an id or
a profile YAML. Spellings from before this convention still work for one release: they are hidden
from --help and warn on stderr.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from hwsim.base import build
from hwsim.base.errors import HwsimError
from hwsim.loading import bench_import
from hwsim.perf.roofline import LAUNCH_MODES
from hwsim.specs.deployment import IMPLEMENTATIONS
from hwsim.specs.pricing import DEFAULT_PRICING

EXAMPLES = {
    "estimate": "example:\n  hwsim estimate --hardware h100-sxm --model llama-3-8b --batch 8 --prompt-tokens 512 "
                "--output-tokens 128",
    "validate": "example:\n  hwsim validate validation/h200-sxm.csv --json validation.json\n"
                "  hwsim validate --baseline validation/pairs/int4/before.csv --after validation/pairs/int4/after.csv",
    "import-trace": "example:\n  hwsim import-trace before.json --hardware h200-sxm -o before.csv",
    "speedup": "example:\n  hwsim speedup validation/pairs/int4/before.csv --after validation/pairs/int4/after.csv",
    "calibrate": "example:\n  hwsim calibrate validation/h200-sxm.csv --hardware h200-sxm -o h200-fit.yaml",
    "simulate": "example:\n  hwsim simulate scenario.yaml --json summary.json --csv-prefix records",
    "capacity": "example:\n  hwsim capacity workloads/scenarios/llama3-8b-h100-chat.yaml --json capacity.json",
    "plan": "example:\n  hwsim plan workloads/plans/llama3-8b-chat.yaml --csv plan.csv",
    "moe-plan": "example:\n  hwsim moe-plan --hardware h100-sxm --model mixtral-8x7b --routing zipf:1.2 --batch 8",
    "report": "example:\n  hwsim report reports/weight-formats-h100.yaml -o out/weight-formats.html --mkdir\n"
              "  hwsim report baseline.yaml fp8.yaml speculative.yaml -o out/whatif.html --mkdir",
    "offload-plan": "example:\n  hwsim offload-plan --hardware flexgen-t4 --model opt-30b --dtype fp16 "
                    "--prompt-tokens 512 --output-tokens 32",
    "flash": "example:\n  hwsim flash --hardware m1-max-laptop --model opt-6.7b --dtype fp32",
    "profiles": "example:\n  hwsim profiles\n  hwsim profiles --kind models\n  hwsim profiles --kind pricing",
    "import-bench": "example:\n  hwsim import-bench result.json --hardware h100-sxm --model llama-3-8b "
                    "--engine vllm-0.8.5 -o mine.csv\n  hwsim validate mine.csv",
    "import-model": "example:\n  hwsim import-model path/to/config.json --id my-model -o my-model.yaml",
}

HARDWARE_HELP = "hardware id (see `hwsim profiles`), or the path of a GPU or system profile YAML"
MODEL_HELP = "model id (see `hwsim profiles`), a model profile YAML or a HuggingFace config.json"
DTYPE_HELP = "weights and compute: fp32 tf32 bf16 fp16 fp8 int8 int4 (default bf16, or the weight format's)"
FORMAT_HELP = ("quantized weight format, which picks its GEMM kernel: q4_0 q4_k_m q8_0 f16 (llama.cpp), "
               "int4-tinygemm int4-marlin gptq awq flexgen-int4-g64")


def main(argv: list[str] | None = None) -> int:
    """Parse, check every file the command will write, run it. Any bad input, from the parser or the
    core, is one line on stderr and exit code 2, never a traceback."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        _check_destinations(args)
        return args.run(args)
    except HwsimError as exc:
        print(f"hwsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


class _UsageError(Exception):
    """A command line the parser refuses; `main` prints it and returns 2, as for any bad input."""


class _Parser(argparse.ArgumentParser):
    """Errors in one line, as every other input error of hwsim; the usage is one --help away."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: error: {message}")


class _Count(argparse.Action):
    """An integer that counts something (tokens, sequences, devices, processes): a value below
    `minimum` is refused while parsing, naming the flag, before any work starts."""

    def __init__(self, option_strings: list[str], dest: str, minimum: int = 1, **kwargs: Any):
        self.minimum = minimum
        kwargs.setdefault("metavar", "N")
        super().__init__(option_strings, dest, type=int, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values < self.minimum:
            raise argparse.ArgumentError(None, f"{option_string} must be at least {self.minimum}; got {values}")
        setattr(namespace, self.dest, values)


class _BatchOrMax(_Count):
    """A batch size, or `max`: the largest batch whose memory fits every tier (found, then printed)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, **kwargs)
        self.type = _count_or_max

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values == "max":
            setattr(namespace, self.dest, values)
            return
        super().__call__(parser, namespace, values, option_string)


def _count_or_max(text: str) -> int | str:
    if text == "max":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or max; got {text!r}") from None


class _WritesFile(argparse.Action):
    """A file the command will write. Each path given is also noted in `written` (by destination)
    so that `main` can check every destination before the command runs, not after a long search.
    `suffixes` name the files written when the value is a prefix."""

    def __init__(self, option_strings: list[str], dest: str, suffixes: tuple[str, ...] = ("",), **kwargs: Any):
        self.suffixes = suffixes
        kwargs.setdefault("metavar", "FILE")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values)
        namespace.written = {**getattr(namespace, "written", {}), self.dest: [f"{values}{s}" for s in self.suffixes]}


class _Deprecated(argparse.Action):
    """An old spelling kept for one release: hidden from --help, it warns on stderr and then does
    exactly what the new spelling does (same type, same checks, same destination)."""

    def __init__(self, option_strings: list[str], dest: str, replacement: argparse.Action, **kwargs: Any):
        self.replacement = replacement
        super().__init__(option_strings, replacement.dest, metavar=replacement.metavar, default=argparse.SUPPRESS,
                         help=argparse.SUPPRESS)
        self.type = replacement.type  # the old spelling converts its value as the new one does

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog}: {option_string} is deprecated; use {self.replacement.option_strings[-1]}",
              file=sys.stderr)
        self.replacement(parser, namespace, values, option_string)


def _renamed(parser: argparse.ArgumentParser, flags: tuple[str, ...], old: str, required: bool = False,
             **kwargs: Any) -> argparse.Action:
    """An option under its name `flags` and under its old spelling `old`; giving both is an error."""
    group = parser.add_mutually_exclusive_group(required=required)
    action = group.add_argument(*flags, **kwargs)
    group.add_argument(old, action=_Deprecated, replacement=action)
    return action


def _mkdir_if_writing(parser: argparse.ArgumentParser) -> None:
    """`--mkdir` for each command that writes files: without it a missing folder is an error, so
    that a typo in a path never leaves a new folder behind."""
    if any(isinstance(action, _WritesFile) for action in parser._actions):
        parser.add_argument("--mkdir", action="store_true", help="create missing folders of the files written")


def _writes(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    """An optional file the command writes beside what it prints (`--json`, `--csv`, ...)."""
    parser.add_argument(flag, action=_WritesFile, help=help_text)


def _out(parser: argparse.ArgumentParser, help_text: str, required: bool = True) -> None:
    """`-o/--out FILE`: the file the command exists to write (formerly `-o/--output`)."""
    _renamed(parser, ("-o", "--out"), "--output", required=required, action=_WritesFile, help=help_text)


def _tokens(parser: argparse.ArgumentParser, output_default: int) -> None:
    """Prompt and generated tokens per sequence. `--prompt` stays a plain alias (it only ever meant
    tokens); `--output` meant tokens here but a file elsewhere, so it is deprecated."""
    parser.add_argument("--prompt-tokens", "--prompt", action=_Count, default=512,
                        help="prompt tokens per sequence (default 512)")
    _renamed(parser, ("-n", "--output-tokens"), "--output", action=_Count, default=output_default,
             help=f"generated tokens per sequence (default {output_default})")


def _model_and_hardware(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hardware", required=True, metavar="ID|FILE", help=HARDWARE_HELP)
    parser.add_argument("--model", required=True, metavar="ID|FILE", help=MODEL_HELP)


def _estimate_arguments(p: argparse.ArgumentParser) -> None:
    _model_and_hardware(p)
    p.add_argument("--count", action=_Count, default=None, help="accelerators, tensor parallel (default 1)")
    p.add_argument("--dtype", default=None, help=DTYPE_HELP)
    p.add_argument("--kv-dtype", metavar="DTYPE", default=None, help="KV cache dtype when it differs")
    p.add_argument("--weight-bits", type=float, metavar="BITS", default=None,
                   help="effective bits per weight (e.g. 4.85)")
    p.add_argument("--weight-format", metavar="FORMAT", default=None, help=FORMAT_HELP)
    p.add_argument("--batch", action=_BatchOrMax, default=1,
                   help="sequences in the batch (default 1), or max: the largest batch that fits")
    _tokens(p, output_default=128)
    p.add_argument("--launch", choices=LAUNCH_MODES, default="graph",
                   help="graph: CUDA-graph replay (engines); eager: PyTorch eager dispatch")
    p.add_argument("--kernels", choices=sorted(IMPLEMENTATIONS), default="fused",
                   help="fused: a serving engine's kernels; unfused: plain PyTorch modules")
    p.add_argument("--calibration", metavar="FILE", help="overlay written by `hwsim calibrate`")
    p.add_argument("--placement", metavar="SPEC", default="device",
                   help="where data lives, e.g. 'weights=device:0.2,host:0.8;kv=host' (see README)")
    p.add_argument("--no-overlap", action="store_true", help="copy offloaded data, then compute (no prefetch)")
    p.add_argument("--pageable", action="store_true", help="offloaded host buffers are not pinned")
    p.add_argument("--gpudirect", action="store_true", help="drives write straight into device memory")
    p.add_argument("--pricing", metavar="ID|FILE", default=DEFAULT_PRICING,
                   help=f"pricing profile id or YAML (default {DEFAULT_PRICING})")
    p.add_argument("--routing", default=None, help="MoE routing: uniform, zipf:S or a layer,expert,count CSV")
    p.add_argument("--expert-parallel", action="store_true", help="MoE: spread whole experts over --count devices")
    p.add_argument("--expert-cache", choices=("static", "lru", "lfu"), default="static",
                   help="MoE with experts partly resident: the cache policy of the resident set")
    p.add_argument("--prefetch-experts", action=_Count, minimum=0, default=0,
                   help="MoE: next-layer experts prefetched (default 0)")
    p.add_argument("--ops", choices=("prefill", "decode", "both", "none"), default="both",
                   help="which per-operator tables to print")
    _writes(p, "--json", "also write the estimate as JSON")


def _validate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE", help="CSV files in the measurement schema")
    p.add_argument("--baseline", nargs="+", metavar="BEFORE", help="kernel-speedup check: rows before an optimization")
    p.add_argument("--after", nargs="+", metavar="AFTER", help="kernel-speedup check: rows after it")
    p.add_argument("--scenario", nargs="+", metavar="SCENARIO",
                   help="kernel-speedup check with only kernel rows after: scenarios to predict the effect on")
    p.add_argument("--calibration", metavar="FILE", help="overlay written by `hwsim calibrate`")
    _writes(p, "--json", "write rows and summary as JSON")
    p.add_argument("--quiet", action="store_true", help="print only the per-kind summary")


def _import_trace_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="the JSON torch.profiler's export_chrome_trace wrote")
    p.add_argument("--hardware", required=True, metavar="ID", help="the hardware id the trace was taken on")
    _out(p, "CSV file to write (measurement schema)")


def _import_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="vllm bench serve --save-result JSON, genai-perf profile_export_genai_perf.json "
                                "or llama-bench -o json output")
    p.add_argument("--hardware", required=True, metavar="ID", help="the hardware id the benchmark ran on")
    p.add_argument("--model", required=True, metavar="ID", help="the model id it ran")
    p.add_argument("--count", type=int, default=1, metavar="N", help="accelerators used together (default 1)")
    p.add_argument("--dtype", default="", metavar="TYPE", help="serving runs: weight type (default: the model's)")
    p.add_argument("--engine", default="", metavar="NAME",
                   help="serving runs: the engine measured, name[-version] (vllm-0.8.5, nim-1.8.0, ...)")
    p.add_argument("--format", choices=bench_import.FORMATS, help="the tool that wrote FILE (default: recognised)")
    _out(p, "CSV file to write (measurement schema)")


def _speedup_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", nargs="+", metavar="BEFORE", help="measurement rows before an optimization")
    p.add_argument("--after", nargs="+", metavar="AFTER", required=True, help="measurement rows after it")
    p.add_argument("--scenario", nargs="+", metavar="SCENARIO",
                   help="with only kernel rows after: scenarios to predict the end-to-end effect on")
    p.add_argument("--calibration", metavar="FILE", help="overlay written by `hwsim calibrate`")
    _writes(p, "--json", "write the comparison as JSON")


def _calibrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="measurement CSV files with kernel rows")
    p.add_argument("--hardware", required=True, metavar="ID", help="the hardware id whose rows are fitted")
    _out(p, "overlay YAML to write")


def _simulate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML (hardware, model, engine, workload, slo)")
    p.add_argument("--pricing", metavar="ID|FILE", default=None,
                   help="pricing profile id or YAML (default: the scenario's)")
    _writes(p, "--json", "write the summary as JSON")
    _renamed(p, ("--csv-prefix",), "--csv", action=_WritesFile, metavar="PREFIX",
             suffixes=("-requests.csv", "-steps.csv"),
             help="write PREFIX-requests.csv and PREFIX-steps.csv (per-request and per-step records)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress on stderr (a bar on a terminal, else a line every 10 s of a long run)")
    p.add_argument("--capacity", action="store_true",
                   help="also find the highest request rate whose SLOs hold (as hwsim capacity does: p99, "
                        "within 2 percent)")
    p.add_argument("--workers", action=_Count, default=None,
                   help="simulate a round-robin fleet's replicas in N local processes (same results; a stateful "
                        "router, a closed loop or sessions run in one process, saying why)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="as --workers, one part per worker of an existing Dask distributed scheduler")


def _capacity_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario YAML with an slo and an open-loop workload (its rate starts the search)")
    p.add_argument("--tolerance", type=float, default=0.02, help="relative width the rate is found to (default 0.02)")
    p.add_argument("--percentile", type=int, choices=(50, 90, 99), default=99,
                   help="the latency percentile held to the SLOs (default 99)")
    _writes(p, "--json", "write the capacity, the run at it and every rate tried as JSON")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress on stderr (a bar on a terminal, else a line every 10 s of a long run)")


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", help="plan YAML: model, workload, slo, pricing, search space")
    p.add_argument("--pricing", metavar="ID|FILE", default=None,
                   help="pricing profile id or YAML (default: the plan's)")
    p.add_argument("--workers", action=_Count, default=None, help="local processes (default: one per CPU)")
    p.add_argument("--cluster", metavar="ADDRESS", help="run on an existing Dask distributed scheduler")
    _writes(p, "--json", "write every candidate's outcome as JSON")
    _writes(p, "--csv", "write every candidate's outcome as CSV")
    p.add_argument("--all", action="store_true",
                   help="list every candidate, not just the frontier (with --json, --csv or --report, every "
                        "candidate is simulated to the end; otherwise one stops once an SLO is certainly missed)")
    p.add_argument("--robust", action="store_true",
                   help="also judge each candidate's SLOs at the pessimistic end of its 90 percent interval")
    _writes(p, "--report", "write the plan report (HTML): the SLOs and search, the winner and why, cost against "
                          "TTFT and TPOT, a sortable table of every candidate with its intervals, what was pruned")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress on stderr (a bar on a terminal, else a line every 10 s of a long run)")


def _moe_plan_arguments(p: argparse.ArgumentParser) -> None:
    _model_and_hardware(p)
    p.add_argument("--count", action=_Count, default=None, help="devices, expert parallel (default 1)")
    p.add_argument("--dtype", default=None, help=DTYPE_HELP)
    p.add_argument("--weight-bits", type=float, metavar="BITS", default=None,
                   help="effective bits per weight (e.g. 4.85)")
    p.add_argument("--weight-format", metavar="FORMAT", default=None, help=FORMAT_HELP)
    p.add_argument("--routing", default="uniform", help="uniform, zipf:S or a layer,expert,count CSV")
    p.add_argument("--batch", action=_Count, default=1, help="sequences decoded together (default 1)")
    _tokens(p, output_default=128)
    p.add_argument("--budget", default=None, help="device memory for experts, e.g. '40 GB' (default: what is free)")
    p.add_argument("--resident", action=_Count, minimum=0, default=None,
                   help="experts per layer to keep resident (default: as many as fit)")
    _writes(p, "--json", "also write every residency option as JSON")


def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", metavar="STUDY_OR_BASELINE",
                   help="a study YAML (question, baseline and what-ifs), or a baseline scenario YAML")
    p.add_argument("whatifs", nargs="*", metavar="WHATIF",
                   help="what-if YAMLs: a name and the changes from the baseline")
    _out(p, "HTML file to write")
    p.add_argument("--no-sensitivity", action="store_true", help="skip the one-change-at-a-time runs")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress on stderr (a bar on a terminal, else a line every 10 s of a long run)")


def _offload_plan_arguments(p: argparse.ArgumentParser) -> None:
    _model_and_hardware(p)
    p.add_argument("--dtype", default="bf16", help=DTYPE_HELP)
    p.add_argument("--kv-dtype", metavar="DTYPE", default=None, help="KV cache dtype when it differs")
    _tokens(p, output_default=32)
    p.add_argument("--no-overlap", action="store_true", help="copy offloaded data, then compute (no prefetch)")
    p.add_argument("--show", action=_Count, minimum=0, default=8, help="runner-up policies to list (default 8)")
    _writes(p, "--json", "also write every feasible policy as JSON")


def _flash_arguments(p: argparse.ArgumentParser) -> None:
    _model_and_hardware(p)
    p.add_argument("--dtype", default="fp16", help=DTYPE_HELP)
    p.add_argument("--context", action=_Count, default=512, help="tokens in context (default 512)")
    p.add_argument("--active", type=float, default=0.10, help="FFN neurons predicted active per token")
    p.add_argument("--new", type=float, default=0.024, help="share of neurons a token must load (windowing)")
    p.add_argument("--no-bundle", action="store_true", help="rows and columns read separately")
    p.add_argument("--threads", action=_Count, default=32, help="parallel reads in flight (default 32)")
    _writes(p, "--json", "also write each variant's times as JSON")


def _profiles_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=("all", "hardware", "models", "cpus", "storage", "links", "workloads", "pricing"),
                   default="all", help="which profiles to list (default all)")


def _import_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="a HuggingFace config.json")
    p.add_argument("--id", required=True, help="the id the profile gets")
    _out(p, "file to write (default: print)", required=False)


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function `module.function` of `hwsim.output`, imported only when its command runs, so that
    `--help` and a refused command line never import the core (pandas, the simulator, the reports)."""
    module, function = name.rsplit(".", 1)

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"hwsim.output.{module}"), function)(args)

    return run


COMMANDS: list[tuple[str, str, Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]]] = [
    ("estimate", "Predict prefill, decode and throughput of one batch, with a per-operator table.",
     _command("commands.run_estimate"), _estimate_arguments),
    ("validate", "Predict measurement rows and report the error per row and per kind.",
     _command("commands.run_validate"), _validate_arguments),
    ("import-trace", "Turn a torch.profiler trace (Chrome JSON, record_shapes=True) into kernel rows.",
     _command("commands.run_import_trace"), _import_trace_arguments),
    ("speedup", "Kernel-speedup check: do measured kernel gains carry through to steps and serving?",
     _command("commands.run_speedup"), _speedup_arguments),
    ("calibrate", "Fit a device's roofline parameters to kernel rows; write an overlay.",
     _command("commands.run_calibrate"), _calibrate_arguments),
    ("simulate", "Simulate a serving scenario over time and print its summary.",
     _command("commands.run_simulate"), _simulate_arguments),
    ("capacity", "The highest request rate a scenario serves within its SLOs, by bisection over its rate.",
     _command("commands.run_capacity"), _capacity_arguments),
    ("plan", "Find the cheapest configuration that meets the SLOs for a workload; show the cost-latency "
     "frontier and why each candidate passed or failed.", _command("planning_commands.run_plan"), _plan_arguments),
    ("moe-plan", "Choose which experts stay on the accelerator (and on which device) and compare with naive "
     "placements.", _command("planning_commands.run_moe_plan"), _moe_plan_arguments),
    ("report", "Compare a baseline scenario with what-if scenarios in one self-contained HTML report.",
     _command("commands.run_report"), _report_arguments),
    ("offload-plan", "Search weight/KV/activation placements and batch sizes for the best offloaded throughput.",
     _command("planning_commands.run_offload_plan"), _offload_plan_arguments),
    ("flash", "Per-token latency with FFN weights on flash and DRAM as a neuron cache (LLM in a flash), "
     "against the naive and partial variants.", _command("planning_commands.run_flash"), _flash_arguments),
    ("profiles", "List the shipped hardware and model profiles.",
     _command("commands.run_profiles"), _profiles_arguments),
    ("import-bench", "Turn a benchmark tool's output (vllm bench serve, genai-perf, llama-bench) into rows.",
     _command("commands.run_import_bench"), _import_bench_arguments),
    ("import-model", "Turn a HuggingFace config.json into a model profile YAML.",
     _command("commands.run_import_model"), _import_model_arguments),
]


def _version() -> str:
    """The installed package's version: the one number a bug report needs."""
    import importlib.metadata  # ~20 ms, so only when asked for

    try:
        return importlib.metadata.version("hwsim")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


class _Version(argparse.Action):
    """`--version`: the installed version and how its engine runs, looked up only when asked for
    (argparse's own version action takes the text when the parser is built, on every command)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> NoReturn:
        print(f"hwsim {_version()} (engine {build.describe()})")
        parser.exit()


def _overview() -> str:
    """The top-level epilog: one example per command, so `hwsim --help` shows how each is called."""
    lines = [f"  {EXAMPLES[name].splitlines()[1].strip()}" for name, *_ in COMMANDS]
    return "examples:\n" + "\n".join(lines) + "\n\n`hwsim COMMAND --help` describes each command's options."


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hwsim", description="Performance simulator for LLM inference hardware.",
                     epilog=_overview(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version,
                        help="print the installed version, and whether its engine is compiled, and exit")
    sub = parser.add_subparsers(dest="command")
    for name, help_text, run, arguments in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(run=run)
        arguments(p)
        _mkdir_if_writing(p)
    return parser


def _check_destinations(args: argparse.Namespace) -> None:
    """Every file the command will write, checked before it runs (or its folder made, with --mkdir)."""
    for paths in getattr(args, "written", {}).values():
        for name in paths:
            _check_destination(Path(name), args.mkdir)


def _check_destination(path: Path, mkdir: bool) -> None:
    """A destination must be a file in an existing folder: a missing folder would otherwise end a
    long run in a traceback, and creating it unasked would hide a typo in the path."""
    if path.is_dir():
        raise HwsimError(f"{path} is a folder; give the name of a file to write")
    folder = path.parent
    if folder.is_dir():
        return
    if folder.exists():
        raise HwsimError(f"{path}: {folder} is not a folder")
    if not mkdir:
        raise HwsimError(f"{path}: the folder {folder} does not exist (--mkdir creates it)")
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise HwsimError(f"{path}: cannot create the folder {folder}: {exc.strerror}") from None
