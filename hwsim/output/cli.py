"""The `hwsim` command: a thin layer that parses arguments, calls the core, prints results."""
from __future__ import annotations

import argparse
import sys

from hwsim.base.errors import HwsimError
from hwsim.output import commands, planning_commands
from hwsim.perf.roofline import LAUNCH_MODES
from hwsim.specs.deployment import IMPLEMENTATIONS

EXAMPLES = {
    "estimate": "example:\n  hwsim estimate --hardware h100-sxm --model llama-3-8b --batch 8 --prompt 512 --output 128",
    "validate": "example:\n  hwsim validate validation/h200-sxm.csv --json validation.json\n"
                "  hwsim validate --baseline validation/pairs/int4/before.csv --after validation/pairs/int4/after.csv",
    "import-trace": "example:\n  hwsim import-trace before.json --hardware h200-sxm -o before.csv",
    "speedup": "example:\n  hwsim speedup validation/pairs/int4/before.csv --after validation/pairs/int4/after.csv",
    "calibrate": "example:\n  hwsim calibrate validation/h200-sxm.csv --hardware h200-sxm -o h200-fit.yaml",
    "profiles": "example:\n  hwsim profiles\n  hwsim profiles --kind models\n  hwsim profiles --kind pricing",
    "simulate": "example:\n  hwsim simulate scenario.yaml --json summary.json --csv records",
    "flash": "example:\n  hwsim flash --hardware m1-max-laptop --model opt-6.7b --dtype fp32",
    "plan": "example:\n  hwsim plan workloads/plans/llama3-8b-chat.yaml --csv plan.csv",
    "moe-plan": "example:\n  hwsim moe-plan --hardware h100-sxm --model mixtral-8x7b --routing zipf:1.2 --batch 8",
    "report": "example:\n  hwsim report baseline.yaml fp8.yaml speculative.yaml -o reports/whatif.html",
    "offload-plan": "example:\n  hwsim offload-plan --hardware flexgen-t4 --model opt-30b --dtype fp16 "
                    "--prompt 512 --output 32",
    "import-model": "example:\n  hwsim import-model path/to/config.json --id my-model -o my-model.yaml",
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except HwsimError as exc:
        print(f"hwsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwsim", description="Performance simulator for LLM inference hardware.")
    sub = parser.add_subparsers(dest="command")

    def command(name: str, help_text: str, run) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(run=run)
        return p

    p = command("estimate", "Predict prefill, decode and throughput of one batch, with a per-operator table.",
                commands.run_estimate)
    p.add_argument("--hardware", required=True, help="device or system id (see `hwsim profiles`)")
    p.add_argument("--model", required=True, help="model id, profile YAML or HuggingFace config.json")
    p.add_argument("--count", type=int, default=None, help="accelerators, tensor parallel (default 1)")
    p.add_argument("--dtype", default="bf16", help="weights and compute: fp32 tf32 bf16 fp16 fp8 int8 int4")
    p.add_argument("--kv-dtype", default=None, help="KV cache dtype when it differs")
    p.add_argument("--weight-bits", type=float, default=None, help="effective bits per weight (e.g. 4.85)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt", type=int, default=512, help="prompt tokens per sequence")
    p.add_argument("--output", type=int, default=128, help="generated tokens per sequence")
    p.add_argument("--launch", choices=LAUNCH_MODES, default="graph",
                   help="graph: CUDA-graph replay (engines); eager: PyTorch eager dispatch")
    p.add_argument("--kernels", choices=sorted(IMPLEMENTATIONS), default="fused",
                   help="fused: a serving engine's kernels; unfused: plain PyTorch modules")
    p.add_argument("--calibration", help="overlay written by `hwsim calibrate`")
    p.add_argument("--placement", default="device",
                   help="where data lives, e.g. 'weights=device:0.2,host:0.8;kv=host' (see README)")
    p.add_argument("--no-overlap", action="store_true", help="copy offloaded data, then compute (no prefetch)")
    p.add_argument("--pageable", action="store_true", help="offloaded host buffers are not pinned")
    p.add_argument("--gpudirect", action="store_true", help="drives write straight into device memory")
    p.add_argument("--pricing", default="cloud-on-demand-2026-05", help="pricing profile id or YAML")
    p.add_argument("--routing", default=None, help="MoE routing: uniform, zipf:S or a layer,expert,count CSV")
    p.add_argument("--expert-parallel", action="store_true", help="MoE: spread whole experts over --count devices")
    p.add_argument("--expert-cache", choices=("static", "lru", "lfu"), default="static",
                   help="MoE with experts partly resident: the cache policy of the resident set")
    p.add_argument("--prefetch-experts", type=int, default=0, help="MoE: next-layer experts prefetched")
    p.add_argument("--ops", choices=("prefill", "decode", "both", "none"), default="both",
                   help="which per-operator tables to print")
    p.add_argument("--json", metavar="FILE", help="also write the estimate as JSON")

    p = command("validate", "Predict measurement rows and report the error per row and per kind.",
                commands.run_validate)
    p.add_argument("files", nargs="*", help="CSV files in the measurement schema")
    p.add_argument("--baseline", nargs="+", metavar="BEFORE", help="kernel-speedup check: rows before an optimization")
    p.add_argument("--after", nargs="+", metavar="AFTER", help="kernel-speedup check: rows after it")
    p.add_argument("--scenario", nargs="+", metavar="SCENARIO",
                   help="kernel-speedup check with only kernel rows after: scenarios to predict the effect on")
    p.add_argument("--calibration", help="overlay written by `hwsim calibrate`")
    p.add_argument("--json", metavar="FILE", help="write rows and summary as JSON")
    p.add_argument("--quiet", action="store_true", help="print only the per-kind summary")

    p = command("import-trace", "Turn a torch.profiler trace (Chrome JSON, record_shapes=True) into kernel rows.",
                commands.run_import_trace)
    p.add_argument("trace", help="the JSON torch.profiler's export_chrome_trace wrote")
    p.add_argument("--hardware", required=True, help="the hardware id the trace was taken on")
    p.add_argument("-o", "--output", required=True, help="CSV file to write (measurement schema)")

    p = command("speedup", "Kernel-speedup check: do measured kernel gains carry through to steps and serving?",
                commands.run_speedup)
    p.add_argument("baseline", nargs="+", metavar="BEFORE", help="measurement rows before an optimization")
    p.add_argument("--after", nargs="+", metavar="AFTER", required=True, help="measurement rows after it")
    p.add_argument("--scenario", nargs="+", metavar="SCENARIO",
                   help="with only kernel rows after: scenarios to predict the end-to-end effect on")
    p.add_argument("--calibration", help="overlay written by `hwsim calibrate`")
    p.add_argument("--json", metavar="FILE", help="write the comparison as JSON")

    p = command("calibrate", "Fit a device's roofline parameters to kernel rows; write an overlay.",
                commands.run_calibrate)
    p.add_argument("files", nargs="+")
    p.add_argument("--hardware", required=True)
    p.add_argument("-o", "--output", required=True, help="overlay YAML to write")

    p = command("simulate", "Simulate a serving scenario over time and print its summary.", commands.run_simulate)
    p.add_argument("scenario", help="scenario YAML (hardware, model, engine, workload, slo)")
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON")
    p.add_argument("--csv", metavar="PREFIX", help="write PREFIX-requests.csv and PREFIX-steps.csv")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    p = command("plan", "Find the cheapest configuration that meets the SLOs for a workload; "
                "show the cost-latency frontier and why each candidate passed or failed.", planning_commands.run_plan)
    p.add_argument("plan", help="plan YAML: model, workload, slo, pricing, search space")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: one per CPU)")
    p.add_argument("--cluster", metavar="ADDRESS", help="run on an existing Dask distributed scheduler")
    p.add_argument("--json", metavar="FILE", help="write every candidate's outcome as JSON")
    p.add_argument("--csv", metavar="FILE", help="write every candidate's outcome as CSV")
    p.add_argument("--all", action="store_true", help="list every candidate, not just the frontier")
    p.add_argument("--report", metavar="HTML", help="write the cost-latency chart of every candidate")

    p = command("moe-plan", "Choose which experts stay on the accelerator (and on which device) and compare "
                "with naive placements.", planning_commands.run_moe_plan)
    p.add_argument("--hardware", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--count", type=int, default=None, help="devices (expert parallel)")
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--weight-bits", type=float, default=None)
    p.add_argument("--routing", default="uniform", help="uniform, zipf:S or a layer,expert,count CSV")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt", type=int, default=512)
    p.add_argument("--output", type=int, default=128)
    p.add_argument("--budget", default=None, help="device memory for experts, e.g. '40 GB' (default: what is free)")
    p.add_argument("--resident", type=int, default=None, help="experts per layer to keep resident")

    p = command("report", "Compare a baseline scenario with what-if scenarios in one self-contained HTML report.",
                commands.run_report)
    p.add_argument("baseline", help="baseline scenario YAML")
    p.add_argument("whatifs", nargs="*", help="what-if YAMLs: a name and the changes from the baseline")
    p.add_argument("-o", "--output", required=True, help="HTML file to write")
    p.add_argument("--no-sensitivity", action="store_true", help="skip the one-change-at-a-time runs")

    p = command("offload-plan", "Search weight/KV/activation placements and batch sizes for the best "
                "offloaded throughput.", planning_commands.run_offload_plan)
    p.add_argument("--hardware", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--kv-dtype", default=None)
    p.add_argument("--prompt", type=int, default=512)
    p.add_argument("--output", type=int, default=32)
    p.add_argument("--no-overlap", action="store_true")
    p.add_argument("--show", type=int, default=8, help="runner-up policies to list")

    p = command("flash", "Per-token latency with FFN weights on flash and DRAM as a neuron cache "
                "(LLM in a flash), against the naive and partial variants.", planning_commands.run_flash)
    p.add_argument("--hardware", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--dtype", default="fp16")
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--active", type=float, default=0.10, help="FFN neurons predicted active per token")
    p.add_argument("--new", type=float, default=0.024, help="share of neurons a token must load (windowing)")
    p.add_argument("--no-bundle", action="store_true", help="rows and columns read separately")
    p.add_argument("--threads", type=int, default=32, help="parallel reads in flight")

    p = command("profiles", "List the shipped hardware and model profiles.", commands.run_profiles)
    p.add_argument("--kind", choices=("all", "hardware", "models", "cpus", "storage", "links", "workloads", "pricing"),
                   default="all")

    p = command("import-model", "Turn a HuggingFace config.json into a model profile YAML.", commands.run_import_model)
    p.add_argument("config")
    p.add_argument("--id", required=True)
    p.add_argument("-o", "--output", help="file to write (default: print)")
    return parser
