"""The `hwsim` command: a thin layer that parses arguments, calls the core, prints results."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from hwsim.base import units
from hwsim.base.errors import HwsimError
from hwsim.loading import catalog, hf_config, plan_yaml, pricing_yaml, scenario_yaml
from hwsim.loading.routing import routing_for
from hwsim.output import report, tables
from hwsim.perf import estimate, flash
from hwsim.perf.roofline import LAUNCH_MODES
from hwsim.serving import metrics
from hwsim.specs import deployment
from hwsim.specs.deployment import IMPLEMENTATIONS
from hwsim.specs.placement import parse as parse_placement
from hwsim.studies import calibrate, expert_plan, offload_plan, plan, speedup, validate

EXAMPLES = {
    "estimate": "example:\n  hwsim estimate --hardware h100-sxm --model llama-3-8b --batch 8 --prompt 512 --output 128",
    "validate": "example:\n  hwsim validate measurements/h200-sxm.csv --json validation.json\n"
                "  hwsim validate --baseline before.csv --after after.csv",
    "calibrate": "example:\n  hwsim calibrate measurements/h200-sxm.csv --hardware h200-sxm -o h200-fit.yaml",
    "profiles": "example:\n  hwsim profiles\n  hwsim profiles --kind models\n  hwsim profiles --kind pricing",
    "simulate": "example:\n  hwsim simulate scenario.yaml --json summary.json --csv records",
    "flash": "example:\n  hwsim flash --hardware m1-max-laptop --model opt-6.7b --dtype fp32",
    "plan": "example:\n  hwsim plan workloads/plans/llama3-8b-chat.yaml --csv plan.csv",
    "moe-plan": "example:\n  hwsim moe-plan --hardware h100-sxm --model mixtral-8x7b --routing zipf:1.2 --batch 8",
    "report": "example:\n  hwsim report baseline.yaml fp8.yaml speculative.yaml -o reports/whatif.html",
    "offload-plan": "example:\n  hwsim offload-plan --hardware flexgen-t4 --model opt-30b --dtype fp16 --prompt 512 --output 32",
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
                _estimate)
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

    p = command("validate", "Predict measurement rows and report the error per row and per kind.", _validate)
    p.add_argument("files", nargs="*", help="CSV files in the measurement schema")
    p.add_argument("--baseline", nargs="+", metavar="BEFORE", help="kernel-speedup check: rows before an optimization")
    p.add_argument("--after", nargs="+", metavar="AFTER", help="kernel-speedup check: rows after it")
    p.add_argument("--calibration", help="overlay written by `hwsim calibrate`")
    p.add_argument("--json", metavar="FILE", help="write rows and summary as JSON")
    p.add_argument("--quiet", action="store_true", help="print only the per-kind summary")

    p = command("calibrate", "Fit a device's roofline parameters to kernel rows; write an overlay.", _calibrate)
    p.add_argument("files", nargs="+")
    p.add_argument("--hardware", required=True)
    p.add_argument("-o", "--output", required=True, help="overlay YAML to write")

    p = command("simulate", "Simulate a serving scenario over time and print its summary.", _simulate)
    p.add_argument("scenario", help="scenario YAML (hardware, model, engine, workload, slo)")
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON")
    p.add_argument("--csv", metavar="PREFIX", help="write PREFIX-requests.csv and PREFIX-steps.csv")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    p = command("plan", "Find the cheapest configuration that meets the SLOs for a workload; "
                "show the cost-latency frontier and why each candidate passed or failed.", _plan)
    p.add_argument("plan", help="plan YAML: model, workload, slo, pricing, search space")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: one per CPU)")
    p.add_argument("--cluster", metavar="ADDRESS", help="run on an existing Dask distributed scheduler")
    p.add_argument("--json", metavar="FILE", help="write every candidate's outcome as JSON")
    p.add_argument("--csv", metavar="FILE", help="write every candidate's outcome as CSV")
    p.add_argument("--all", action="store_true", help="list every candidate, not just the frontier")
    p.add_argument("--report", metavar="HTML", help="write the cost-latency chart of every candidate")

    p = command("moe-plan", "Choose which experts stay on the accelerator (and on which device) and compare "
                "with naive placements.", _moe_plan)
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
                _report)
    p.add_argument("baseline", help="baseline scenario YAML")
    p.add_argument("whatifs", nargs="*", help="what-if YAMLs: a name and the changes from the baseline")
    p.add_argument("-o", "--output", required=True, help="HTML file to write")
    p.add_argument("--no-sensitivity", action="store_true", help="skip the one-change-at-a-time runs")

    p = command("offload-plan", "Search weight/KV/activation placements and batch sizes for the best "
                "offloaded throughput.", _offload_plan)
    p.add_argument("--hardware", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--kv-dtype", default=None)
    p.add_argument("--prompt", type=int, default=512)
    p.add_argument("--output", type=int, default=32)
    p.add_argument("--no-overlap", action="store_true")
    p.add_argument("--show", type=int, default=8, help="runner-up policies to list")

    p = command("flash", "Per-token latency with FFN weights on flash and DRAM as a neuron cache "
                "(LLM in a flash), against the naive and partial variants.", _flash)
    p.add_argument("--hardware", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--dtype", default="fp16")
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--active", type=float, default=0.10, help="FFN neurons predicted active per token")
    p.add_argument("--new", type=float, default=0.024, help="share of neurons a token must load (windowing)")
    p.add_argument("--no-bundle", action="store_true", help="rows and columns read separately")
    p.add_argument("--threads", type=int, default=32, help="parallel reads in flight")

    p = command("profiles", "List the shipped hardware and model profiles.", _profiles)
    p.add_argument("--kind", choices=("all", "hardware", "models", "cpus", "storage", "links", "workloads", "pricing"),
                   default="all")

    p = command("import-model", "Turn a HuggingFace config.json into a model profile YAML.", _import_model)
    p.add_argument("config")
    p.add_argument("--id", required=True)
    p.add_argument("-o", "--output", help="file to write (default: print)")
    return parser


def _overlay_system(args, system):
    if getattr(args, "calibration", None):
        overlays = calibrate.load_overlay(args.calibration)
        if system.id in overlays:
            from hwsim.studies.predict import with_performance

            return with_performance(system, overlays[system.id])
    return system


def _estimate(args) -> int:
    model = catalog.model(args.model)
    if args.count is not None and args.count < 1:
        raise HwsimError(f"--count must be at least 1; got {args.count}")
    system = _overlay_system(args, catalog.system(args.hardware, args.count))
    precision = deployment.Precision(args.dtype, args.kv_dtype, args.weight_bits)
    placement = parse_placement(args.placement)
    options = deployment.OffloadOptions(overlap=not args.no_overlap, pinned=not args.pageable, expert_cache=args.expert_cache,
                             prefetch_experts=args.prefetch_experts, gpudirect=args.gpudirect)
    experts = None
    if model.moe is not None:

        experts = deployment.ExpertSetup(routing=routing_for(model, args.routing), expert_parallel=args.expert_parallel)
    elif args.routing or args.expert_parallel:
        raise HwsimError(f"--routing and --expert-parallel need a mixture-of-experts model; {model.id} is dense")
    result = estimate.estimate(model, system, args.batch, args.prompt, args.output, precision, args.launch,
                               IMPLEMENTATIONS[args.kernels], placement=placement, offload=options, experts=experts)
    n = system.accelerator_count or 1
    print(f"{model.name} on {n}x {system.device_name}")
    print(f"  {precision.dtype} weights, {precision.kv_dtype_name} KV cache, "
          f"{args.launch} launch, {args.kernels} kernels")
    print(f"  batch {args.batch}, prompt {args.prompt} tokens, output {args.output} tokens\n")
    if result.tier_needs is None:
        print(f"memory per device   {result.memory.breakdown()}")
    else:
        print(f"placement           {placement.describe()}")
        print("memory by tier      " + ", ".join(f"{tier} {units.format_bytes(need)}"
                                                 for tier, need in result.tier_needs.items()))
    print(f"prefill             {units.format_seconds(result.prefill_s)}   "
          f"({result.prefill_tokens_per_s:,.0f} prompt tokens/s)")
    print(f"decode per token    {units.format_seconds(result.time_per_output_token_s)}   "
          f"(mean over the {args.output - 1} steps after the first token)")
    print(f"end to end          {units.format_seconds(result.end_to_end_s)}")
    print(f"throughput          {result.output_tokens_per_s:,.1f} output tokens/s")
    print(f"energy              {result.energy_j:,.1f} J, mean {result.mean_power_w:,.0f} W, "
          f"{result.output_tokens_per_j:.2f} output tokens/J")
    print(f"cost                {tables.estimate_cost_text(args.pricing, system, n, result)}")
    if result.tier_needs is not None:
        print(f"\nper layer (overlap {'on' if options.overlap else 'off'}):")
        print(tables.tier_table("prefill", result.prefill))
        print(tables.tier_table("decode", result.decode_mid))
        args.ops = "none"
    if args.ops in ("prefill", "both"):
        print(f"\nprefill step, per operator ({units.format_seconds(result.prefill_s)}):")
        print(tables.op_table(result.prefill))
    if args.ops in ("decode", "both"):
        mid = result.decode_mid
        print(f"\ndecode step at context {mid.shape.groups[0].kv_len - 1}, per operator "
              f"({units.format_seconds(mid.time_s)}):")
        print(tables.op_table(mid))
    if args.json:
        document = {
            "hardware": system.id, "model": model.id, "count": n, "batch": args.batch, "prompt": args.prompt,
            "output": args.output, "dtype": precision.dtype, "prefill_s": result.prefill_s,
            "time_per_output_token_s": result.time_per_output_token_s, "end_to_end_s": result.end_to_end_s,
            "output_tokens_per_s": result.output_tokens_per_s,
            "memory": {"weights_bytes": result.memory.weights_bytes, "kv_cache_bytes": result.memory.kv_cache_bytes,
                       "activation_bytes": result.memory.activation_bytes, "total_bytes": result.memory.total_bytes,
                       "capacity_bytes": result.memory.capacity_bytes},
        }
        Path(args.json).write_text(json.dumps(document, indent=2))
    return 0



def _validate(args) -> int:
    overlays = calibrate.load_overlay(args.calibration) if args.calibration else None
    if args.baseline or args.after:
        if not (args.baseline and args.after):
            raise HwsimError("--baseline and --after go together")

        result = speedup.compare(args.baseline, args.after, overlays)
        print(speedup.format_comparison(result))
        if args.json:
            document = {"kernel_speedups": result["kernel_speedups"],
                        "rows": json.loads(result["rows"].to_json(orient="records"))}
            Path(args.json).write_text(json.dumps(document, indent=2))
        return 0
    if not args.files:
        raise HwsimError("give measurement files, or --baseline and --after")
    rows = validate.validate(args.files, overlays)
    summary = validate.summarize(rows)
    if not args.quiet:
        print(validate.format_rows(rows))
        print()
    print(validate.format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(validate.to_json(rows, summary), indent=2))
    return 0


def _simulate(args) -> int:
    from hwsim.serving.simulate import simulate

    scenario = scenario_yaml.load_scenario(Path(args.scenario))

    def progress(done: int, total: int) -> None:
        filled = int(30 * done / total)
        print(f"\r[{'#' * filled}{' ' * (30 - filled)}] {done}/{total} requests", end="", file=sys.stderr,
              flush=True)
        if done == total:
            print(file=sys.stderr)

    show = not args.no_progress and sys.stderr.isatty() and len(scenario.workload.requests()) >= 1000
    result = simulate(scenario, progress=progress if show else None)
    n = scenario.system.accelerator_count or 1
    replicas = (f"{scenario.disaggregation.prefill_replicas} prefill + {scenario.disaggregation.decode_replicas} decode"
                if scenario.disaggregation else str(scenario.replicas))
    print(f"{scenario.name}: {scenario.model.name}, {replicas} replica(s) of {n}x {scenario.system.device_name}, "
          f"{scenario.engine.batching} batching, workload {scenario.workload.name}")
    print(metrics.format_summary(result.summary))
    if args.json:
        Path(args.json).write_text(json.dumps(result.summary, indent=2, default=float))
    if args.csv:
        result.requests.to_csv(f"{args.csv}-requests.csv", index=False)
        result.steps.to_csv(f"{args.csv}-steps.csv", index=False)
    return 0


def _flash(args) -> int:

    model = catalog.model(args.model)
    system = catalog.system(args.hardware)
    precision = deployment.Precision(args.dtype)
    base = flash.FlashOptions(active_fraction=args.active, new_fraction=args.new, bundle=not args.no_bundle,
                              reader_threads=args.threads)
    variants = [
        ("this configuration", flash.flash_token(model, system, args.context, precision, base)),
        ("without bundling", flash.flash_token(model, system, args.context, precision,
                                               replace(base, bundle=False))),
        ("without windowing", flash.flash_token(model, system, args.context, precision,
                                                replace(base, new_fraction=base.active_fraction))),
        ("naive (whole FFN)", flash.naive_token(model, system, args.context, precision, args.threads)),
    ]
    chosen = variants[0][1]
    print(f"{model.name} ({precision.dtype}) on {system.name}, context {args.context}")
    print(f"  FFN neurons active {args.active:.1%}, loaded per token {args.new:.1%}, "
          f"reads of {units.format_bytes(chosen.request_bytes)} x{args.threads} at "
          f"{units.format_rate(chosen.read_bytes_per_s)}; DRAM holds {units.format_bytes(chosen.dram_bytes)}\n")
    print(f"  {'':<20} {'flash load':>11} {'mem. mgmt':>11} {'compute':>11} {'total':>11} {'read/token':>11}")
    for name, token in variants:
        print(f"  {name:<20} {units.format_seconds(token.flash_load_s):>11} "
              f"{units.format_seconds(token.memory_management_s):>11} {units.format_seconds(token.compute_s):>11} "
              f"{units.format_seconds(token.total_s):>11} {units.format_bytes(token.bytes_read):>11}")
    return 0


def _plan(args) -> int:
    import os


    spec = plan_yaml.load_plan(Path(args.plan))
    workers = args.workers or os.cpu_count() or 1

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{done}/{total} candidates", end="\n" if done == total else "", file=sys.stderr, flush=True)

    result = plan.run(spec, workers=workers, cluster=args.cluster, progress=progress)
    frame = result.outcomes
    p = spec.slo.percentile
    pruned = (frame["status"] == "pruned").sum()
    print(f"{len(frame)} candidates: {pruned} pruned without simulation, {len(frame) - pruned} simulated, "
          f"{int(frame['passes'].sum())} meet the SLOs ({tables.slo_text(spec.slo)})\n")
    if result.winner is not None:
        w = result.winner
        print(f"cheapest that meets the SLOs: {w['candidate']}")
        print(f"  ${w['usd_per_hour']:.2f}/h, ${w['usd_per_1m_output_tokens']:.3f} per 1M output tokens; "
              f"TTFT p{p} {w[f'ttft_p{p}_s'] * 1e3:,.0f} ms, TPOT p{p} {w[f'tpot_p{p}_s'] * 1e3:,.1f} ms, "
              f"{w['output_tokens_per_s']:,.0f} output tokens/s  ({tables.pricing_text(spec)})\n")
    else:
        print("no configuration meets the SLOs; the closest:")
        for row in result.closest().to_dict("records"):
            print(f"  {row['candidate']}: {row['reasons']}")
        print()
    print("cost-latency frontier (no candidate is both cheaper and faster):")
    print(tables.plan_table(result.pareto, p))
    if args.all:
        print("\nevery candidate:")
        print(tables.plan_table(frame, p))
    if args.json:
        Path(args.json).write_text(frame.to_json(orient="records", indent=2))
    if args.csv:
        frame.to_csv(args.csv, index=False)
    if args.report:

        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(report.plan_page(result), encoding="utf-8")
    return 0



def _moe_plan(args) -> int:

    model = catalog.model(args.model)
    system = catalog.system(args.hardware, args.count)
    precision = deployment.Precision(args.dtype, None, args.weight_bits)
    routing = routing_for(model, args.routing)
    budget = None
    if args.budget:
        try:
            budget = units.parse(args.budget, "bytes")
        except units.UnitError as exc:
            raise HwsimError(f"--budget: {exc}") from None
    result = expert_plan.plan(model, system, routing, precision, args.batch, args.prompt, args.output, budget,
                              args.resident)
    devices = max(1, system.accelerator_count)
    print(f"{model.name} on {devices}x {system.device_name}, {routing.kind} routing, batch {args.batch}")
    print(f"  expert memory per device {units.format_bytes(result.budget_bytes)}; one expert in every MoE layer "
          f"takes {units.format_bytes(result.expert_bytes * model.moe_layers / devices)} -> "
          f"{result.resident} of {model.moe.experts} experts per layer resident\n")
    best = min(result.options, key=lambda o: o.time_per_output_token_s)
    print(f"  {'placement':<30} {'hit rate':>9} {'per token':>11} {'tokens/s':>10}")
    for option in result.options:
        mark = "  <- chosen" if option is result.options[0] else ""
        print(f"  {option.name:<30} {option.hit_rate:>9.1%} {units.format_seconds(option.time_per_output_token_s):>11} "
              f"{option.output_tokens_per_s:>10,.1f}{mark}")
    if best is not result.options[0]:
        print(f"  ({best.name} is faster at this batch)")
    if result.assignment:
        a = result.assignment
        print(f"\nexpert parallelism over {devices} devices: busiest device handles {a['balanced_rows']:.1f} "
              f"token-expert rows per layer with a popularity-balanced assignment, {a['round_robin_rows']:.1f} "
              f"with round robin (mean {a['mean_rows']:.1f})")
    return 0


def _report(args) -> int:
    from hwsim.loading.whatif import load_whatif

    baseline = scenario_yaml.load_scenario(Path(args.baseline))
    whatifs = [load_whatif(Path(path), baseline) for path in args.whatifs]
    knobs = None if args.no_sensitivity else {w.name: report.knob_variants(baseline, w) for w in whatifs}

    def progress(text: str) -> None:
        if sys.stderr.isatty():
            print(f"  {text}", file=sys.stderr)

    page = report.build(baseline, whatifs, knobs, progress)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    print(f"wrote {output} ({len(page) / 1e6:.1f} MB): {baseline.name}"
          + (f" vs {', '.join(w.name for w in whatifs)}" if whatifs else ""))
    return 0


def _offload_plan(args) -> int:

    model = catalog.model(args.model)
    system = catalog.system(args.hardware)
    precision = deployment.Precision(args.dtype, args.kv_dtype)
    ranked = offload_plan.search(model, system, args.prompt, args.output, precision,
                                 deployment.OffloadOptions(overlap=not args.no_overlap))
    best = ranked[0]
    print(f"{model.name} on {system.name}: prompt {args.prompt}, output {args.output} tokens, {precision.dtype}\n")
    print(f"best: {best.placement.describe()}, batch {best.batch}: {best.throughput:,.2f} output tokens/s")
    print(f"      {best.why()}")
    if best.result.tier_needs:
        print("      memory: " + ", ".join(f"{t} {units.format_bytes(b)}" for t, b in best.result.tier_needs.items()))
    print(f"\nrunner-ups ({len(ranked) - 1} more feasible policies, each at its best batch):")
    for c in ranked[1:1 + args.show]:
        print(f"  {c.throughput:>9,.2f} tok/s ({c.throughput / best.throughput - 1:+.1%})  batch {c.batch:<5} "
              f"{c.placement.describe()}\n      {c.why()}")
    return 0


def _calibrate(args) -> int:
    perf, report = calibrate.fit(args.files, args.hardware)
    Path(args.output).write_text(calibrate.overlay_yaml(args.hardware, perf, report, args.files))
    print(f"fitted {report['rows']} kernel rows of {args.hardware}: MAPE {report['mape_before']:.1%} -> "
          f"{report['mape_after']:.1%}; overlay written to {args.output}")
    return 0


def _profiles(args) -> int:
    kind = args.kind
    if kind in ("all", "hardware"):
        print("hardware (accelerators in a typical server, and reference systems):")
        for hardware_id in catalog.hardware_ids():
            system = catalog.system(hardware_id)
            compute = system.compute
            bf16 = compute.peak("bf16") or compute.peak("fp16") or compute.peak("fp32")
            print(f"  {hardware_id:<22} {units.format_bytes(compute.memory_bytes):>9} "
                  f"{units.format_rate(compute.memory_bandwidth_bytes_per_s):>11} {units.format_flops(bf16):>14}  "
                  f"{system.name}")
    for folder, label in (("cpus", "CPUs"), ("storage", "storage"), ("links", "links")):
        if kind in ("all", folder):
            print(f"{label}: {', '.join(catalog.hardware_files(folder))}")
    if kind in ("all", "models"):
        print("models:")
        for model_id in catalog.model_ids():
            model = catalog.model(model_id)
            active = model.parameters(active_only=True)
            extra = f" ({active / 1e9:.1f}B active)" if model.moe else ""
            print(f"  {model_id:<18} {model.parameters() / 1e9:>7.2f}B{extra:<16} {model.name}")
    if kind in ("all", "workloads"):
        print("workload presets:")
        for workload_id in catalog.workload_ids():
            workload = catalog.workload(workload_id)
            rate = f"{workload.rate_per_s:g}/s" if workload.rate_per_s else workload.arrival
            print(f"  {workload_id:<18} {workload.arrival} {rate}, {workload.count} requests")
    if kind in ("all", "pricing"):

        print("pricing:")
        for pricing_id in pricing_yaml.pricing_files():
            prices = pricing_yaml.pricing(pricing_id)
            print(f"  {pricing_id:<26} {prices.kind:<6} {prices.date}  prices {', '.join(prices.priced())}")
    return 0


def _import_model(args) -> int:

    model = hf_config.from_hf_config(Path(args.config))
    text = tables.model_yaml(model, args.id)
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}: {model.parameters() / 1e9:.2f}B parameters")
    else:
        print(text, end="")
    return 0



if __name__ == "__main__":
    sys.exit(main())
