"""What each everyday `hwsim` command does with its parsed arguments: estimate, validate,
calibrate, simulate, report, profiles and import-model."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from hwsim.base import units
from hwsim.base.errors import HwsimError
from hwsim.loading import bench_import, catalog, hf_config, intervals_yaml, pricing_yaml, scenario_yaml, torch_trace
from hwsim.loading.measurements import MEASUREMENT_COLUMNS
from hwsim.loading.routing import routing_for
from hwsim.output import progress, tables
from hwsim.perf import estimate
from hwsim.perf.step import StepCost
from hwsim.serving import metrics
from hwsim.specs import deployment
from hwsim.specs.deployment import IMPLEMENTATIONS, Deployment
from hwsim.specs.placement import parse as parse_placement
from hwsim.specs.pricing import Pricing
from hwsim.specs.scenario import Scenario
from hwsim.studies import calibrate, intervals, regimes, speedup, validate


def _overlay_system(args, system):
    if getattr(args, "calibration", None):
        overlays = calibrate.load_overlay(args.calibration)
        if system.id in overlays:
            from hwsim.studies.predict import with_performance

            return with_performance(system, overlays[system.id])
    return system


def _deployment(args) -> Deployment:
    """The deployment `hwsim estimate` describes with its flags."""
    model = catalog.model(args.model)
    system = _overlay_system(args, catalog.system(args.hardware, args.count))
    precision = deployment.Precision.of(args.dtype, args.kv_dtype, args.weight_bits, args.weight_format)
    options = deployment.OffloadOptions(overlap=not args.no_overlap, pinned=not args.pageable,
                                        expert_cache=args.expert_cache, prefetch_experts=args.prefetch_experts,
                                        gpudirect=args.gpudirect)
    experts = None
    if model.moe is not None:
        experts = deployment.ExpertSetup(routing=routing_for(model, args.routing),
                                         expert_parallel=args.expert_parallel)
    elif args.routing or args.expert_parallel:
        raise HwsimError(f"--routing and --expert-parallel need a mixture-of-experts model; {model.id} is dense")
    return Deployment(model, system, precision, IMPLEMENTATIONS[args.kernels], args.launch,
                      parse_placement(args.placement), options, experts)


def run_estimate(args) -> int:
    """`hwsim estimate`: one batch's times, memory, energy and cost, then the operator tables."""
    prices = pricing_yaml.pricing(args.pricing)  # an unknown pricing is an error before any work
    setup = _deployment(args)
    if args.batch == "max":
        args.batch, reason = estimate.largest_batch(setup, args.prompt_tokens, args.output_tokens)
        print(f"largest feasible batch: {args.batch} (one more: {reason})\n")
    result = estimate.estimate(setup, args.batch, args.prompt_tokens, args.output_tokens)
    _print_estimate(args, setup, result, prices)
    band = intervals.band_for(regimes.chain(regimes.of_deployment(setup)), intervals_yaml.bands())
    try:
        cost = tables.estimate_cost(prices, setup.system, setup.system.accelerator_count or 1, result)
    except HwsimError:  # the cost line said why
        cost = {}
    if band is not None:
        print(_estimate_interval_text(result, band, cost))
    if result.tier_needs is not None:
        print(f"\nper layer (overlap {'on' if setup.offload.overlap else 'off'}):")
        print(tables.tier_table("prefill", result.prefill))
        print(tables.tier_table("decode", result.decode_mid))
    else:
        _print_op_tables(args.ops, result)
    if args.json:
        document = _estimate_document(args, setup, result) | (_estimate_intervals(result, band, cost) if band else {})
        Path(args.json).write_text(json.dumps(document, indent=2))
    return 0


def _estimate_intervals(result: estimate.Estimate, band, cost: dict | None = None) -> dict:
    """90% intervals of the estimate's times and throughput, from the band of its step regime, and
    of its cost per 1M output tokens when priced (`cost`: `tables.estimate_cost`)."""
    out = {}
    for key in ("prefill_s", "time_per_output_token_s", "end_to_end_s"):
        out[f"{key}_low"], out[f"{key}_high"] = band.around(getattr(result, key))
    out["output_tokens_per_s_low"], out["output_tokens_per_s_high"] = band.around_rate(result.output_tokens_per_s)
    out |= intervals.cost_interval({"output_tokens_per_s": result.output_tokens_per_s} | (cost or {}), out)
    return out | {"interval_regime": f"{band.regime} ({band.rows} rows)", "interval_coverage": intervals.COVERAGE}


def _estimate_interval_text(result: estimate.Estimate, band, cost: dict | None = None) -> str:
    found = _estimate_intervals(result, band, cost)

    def span(key: str) -> str:
        return f"{units.format_seconds(found[key + '_low'])}-{units.format_seconds(found[key + '_high'])}"

    priced = (f", cost ${found['usd_per_1m_output_tokens_low']:.3f}-${found['usd_per_1m_output_tokens_high']:.3f} "
              "per 1M output tokens" if "usd_per_1m_output_tokens_low" in found else "")
    return (f"90% intervals       prefill {span('prefill_s')}, decode per token {span('time_per_output_token_s')}, "
            f"throughput {found['output_tokens_per_s_low']:,.1f}-{found['output_tokens_per_s_high']:,.1f} output "
            f"tokens/s{priced} [{found['interval_regime']}]")


def _print_estimate(args, setup: Deployment, result: estimate.Estimate, prices: Pricing) -> None:
    model, system, precision = setup.model, setup.system, setup.precision
    n = system.accelerator_count or 1
    print(f"{model.name} on {n}x {system.device_name}")
    weights = f"{precision.weight_format} ({precision.dtype})" if precision.weight_format else precision.dtype
    print(f"  {weights} weights, {precision.kv_dtype_name} KV cache, "
          f"{args.launch} launch, {args.kernels} kernels")
    print(f"  batch {args.batch}, prompt {args.prompt_tokens} tokens, output {args.output_tokens} tokens\n")
    if result.tier_needs is None:
        print(f"memory per device   {result.memory.breakdown()}")
    else:
        print(f"placement           {setup.placement.describe()}")
        print("memory by tier      " + ", ".join(f"{tier} {units.format_bytes(need)}"
                                                 for tier, need in result.tier_needs.items()))
    print(f"prefill             {units.format_seconds(result.prefill_s)}   "
          f"({result.prefill_tokens_per_s:,.0f} prompt tokens/s)")
    print(f"decode per token    {units.format_seconds(result.time_per_output_token_s)}   "
          f"(mean over the {args.output_tokens - 1} steps after the first token)")
    print(f"end to end          {units.format_seconds(result.end_to_end_s)}")
    print(f"throughput          {result.output_tokens_per_s:,.1f} output tokens/s")
    print(f"energy              {result.energy_j:,.1f} J, mean {result.mean_power_w:,.0f} W, "
          f"{result.output_tokens_per_j:.2f} output tokens/J")
    print(f"cost                {tables.estimate_cost_text(prices, system, n, result)}")


def _print_op_tables(which: str, result: estimate.Estimate) -> None:
    """Per-operator tables of the prefill and a mid-generation decode step (on-device steps)."""
    if which in ("prefill", "both"):
        assert isinstance(result.prefill, StepCost)
        print(f"\nprefill step, per operator ({units.format_seconds(result.prefill_s)}):")
        print(tables.op_table(result.prefill))
    if which in ("decode", "both"):
        mid = result.decode_mid
        assert isinstance(mid, StepCost)
        print(f"\ndecode step at context {mid.shape.groups[0].kv_len - 1}, per operator "
              f"({units.format_seconds(mid.time_s)}):")
        print(tables.op_table(mid))


def _estimate_document(args, setup: Deployment, result: estimate.Estimate) -> dict:
    memory = result.memory
    return {
        "hardware": setup.system.id, "model": setup.model.id, "count": setup.system.accelerator_count or 1,
        "batch": args.batch, "prompt": args.prompt_tokens, "output": args.output_tokens,
        "dtype": setup.precision.dtype,
        "prefill_s": result.prefill_s, "time_per_output_token_s": result.time_per_output_token_s,
        "end_to_end_s": result.end_to_end_s, "output_tokens_per_s": result.output_tokens_per_s,
        "memory": {"weights_bytes": memory.weights_bytes, "kv_cache_bytes": memory.kv_cache_bytes,
                   "activation_bytes": memory.activation_bytes, "total_bytes": memory.total_bytes,
                   "capacity_bytes": memory.capacity_bytes},
    }


def run_speedup(args) -> int:
    """`hwsim speedup BEFORE --after AFTER`: the kernel-speedup check under its own name."""
    return _kernel_speedup(args, calibrate.load_overlay(args.calibration) if args.calibration else None)


def _kernel_speedup(args, overlays) -> int:
    if not (args.baseline and args.after):
        raise HwsimError("--baseline and --after go together")
    result = speedup.compare(args.baseline, args.after, overlays)
    effects = None
    if args.scenario:
        if not result.rows.empty:
            raise HwsimError("--scenario is for after files with only kernel rows; these have step or serving rows")
        effects = speedup.scenario_effects(result, [scenario_yaml.load_scenario(Path(p)) for p in args.scenario])
    elif result.rows.empty:
        print(speedup.format_comparison(result))
        raise HwsimError("the after files hold only kernel rows: name scenarios with --scenario to predict the "
                         "end-to-end effect")
    print(speedup.format_comparison(result, effects))
    if args.json:
        document = speedup.to_json(result)
        if effects is not None:
            document["scenarios"] = effects
        Path(args.json).write_text(json.dumps(document, indent=2, default=str))
    return 0


def run_validate(args) -> int:
    overlays = calibrate.load_overlay(args.calibration) if args.calibration else None
    if args.baseline or args.after:
        return _kernel_speedup(args, overlays)
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


def run_calibrate(args) -> int:
    perf, report = calibrate.fit(args.files, args.hardware)
    Path(args.out).write_text(calibrate.overlay_yaml(args.hardware, perf, report, args.files))
    if report["rows"]:
        print(f"fitted {report['rows']} kernel rows of {args.hardware}: MAPE {report['mape_before']:.1%} -> "
              f"{report['mape_after']:.1%}")
    for format_id, fitted in report["kernels"].items():
        print(f"fitted the {format_id} kernel on {fitted['rows']} rows of {args.hardware}: MAPE "
              f"{fitted['mape_before']:.1%} -> {fitted['mape_after']:.1%}")
    print(f"overlay written to {args.out}")
    return 0


def run_simulate(args) -> int:
    """`hwsim simulate`: the scenario over time. `--pricing` replaces the scenario's own pricing, which
    moves only the cost line: prices never feed back into the simulation."""
    import sys

    from hwsim.serving.fleet import simulate_fleet

    scenario = scenario_yaml.load_scenario(Path(args.scenario))
    if args.pricing:
        scenario = replace(scenario, pricing=pricing_yaml.pricing(args.pricing))

    with progress.Progress("simulate", unit="requests", enabled=not args.no_progress) as bar:
        run = simulate_fleet(scenario, workers=args.workers or 1, cluster=args.cluster, progress=bar.update,
                             keep_steps=bool(args.csv_prefix))  # the step table only when it is written
    if run.not_sharded:
        print(f"simulated in one process: {run.not_sharded}", file=sys.stderr)
    result = run.result
    n = scenario.system.accelerator_count or 1
    replicas = (f"{scenario.disaggregation.prefill_replicas} prefill + {scenario.disaggregation.decode_replicas} decode"
                if scenario.disaggregation else str(scenario.replicas))
    print(f"{scenario.name}: {scenario.model.name}, {replicas} replica(s) of {n}x {scenario.system.device_name}, "
          f"{scenario.engine.batching} batching, workload {scenario.workload.name}")
    if scenario.workload.trace_summary:
        print(scenario.workload.trace_summary)
    summary = result.summary
    if args.capacity:
        summary = summary | _capacity_fields(scenario)
    summary = summary | intervals.summary_intervals(lambda measured: regimes.of_scenario(scenario, measured), summary,
                                                    intervals_yaml.bands())
    print(metrics.format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=float))
    if args.csv_prefix:
        result.requests.to_csv(f"{args.csv_prefix}-requests.csv", index=False)
        assert result.steps is not None  # kept for --csv
        result.steps.to_csv(f"{args.csv_prefix}-steps.csv", index=False)
    return 0


def _capacity_fields(scenario) -> dict:
    """The scenario's capacity under its SLOs, as summary fields (an error when it has none to find)."""
    from hwsim.studies import capacity

    if capacity.why_not(scenario):
        raise HwsimError(f"--capacity: {capacity.why_not(scenario)}")
    return capacity.fields(capacity.capacity(scenario))


def _report_inputs(args) -> tuple[str, Scenario, list[Scenario]]:
    """The question, baseline and what-ifs of `hwsim report`: a study file alone, or a baseline
    scenario followed by what-if files."""
    from hwsim.loading import study_yaml
    from hwsim.loading.whatif import load_whatif

    path = Path(args.baseline)
    if study_yaml.is_study(path):
        if args.whatifs:
            raise HwsimError(f"{path} is a study (it names its what-ifs); give it alone, without "
                             f"{', '.join(args.whatifs)}")
        study = study_yaml.load_study(path)
        return study.question, study.baseline, list(study.whatifs)
    baseline = scenario_yaml.load_scenario(path)
    return "", baseline, [load_whatif(Path(p), baseline) for p in args.whatifs]


def run_report(args) -> int:
    from hwsim.output import report

    question, baseline, whatifs = _report_inputs(args)
    knobs = None if args.no_sensitivity else {w.name: report.knob_variants(baseline, w) for w in whatifs}
    total = report.step_count(whatifs, knobs)
    with progress.Progress("report", total=total, unit="steps", enabled=not args.no_progress) as bar:
        page = report.build(baseline, whatifs, knobs, bar.step, question)
    output = Path(args.out)
    output.write_text(page, encoding="utf-8")
    print(f"wrote {output} ({len(page) / 1e6:.1f} MB): {baseline.name}"
          + (f" vs {', '.join(w.name for w in whatifs)}" if whatifs else ""))
    return 0


def _print_hardware() -> None:
    print("hardware (accelerators in a typical server, and reference systems):")
    for hardware_id in catalog.hardware_ids():
        system = catalog.system(hardware_id)
        compute = system.compute
        peak_flops_per_s = compute.peak("bf16") or compute.peak("fp16") or compute.peak("fp32") or 0.0
        print(f"  {hardware_id:<22} {units.format_bytes(compute.memory_bytes):>9} "
              f"{units.format_rate(compute.memory_bandwidth_bytes_per_s):>11} "
              f"{units.format_flops(peak_flops_per_s):>14}  {system.name}")


def _print_models() -> None:
    print("models:")
    for model_id in catalog.model_ids():
        model = catalog.model(model_id)
        active = model.parameters(active_only=True)
        extra = f" ({active / 1e9:.1f}B active)" if model.moe else ""
        print(f"  {model_id:<18} {model.parameters() / 1e9:>7.2f}B{extra:<16} {model.name}")


def _print_workloads() -> None:
    print("workload presets:")
    for workload_id in catalog.workload_ids():
        workload = catalog.workload(workload_id)
        rate = f"{workload.rate_per_s:g}/s" if workload.rate_per_s else workload.arrival
        print(f"  {workload_id:<18} {workload.arrival} {rate}, {workload.count} requests")


def _print_pricing() -> None:
    print("pricing:")
    for pricing_id in pricing_yaml.pricing_files():
        prices = pricing_yaml.pricing(pricing_id)
        print(f"  {pricing_id:<26} {prices.kind:<6} {prices.date}  prices {', '.join(prices.priced())}")


def run_profiles(args) -> int:
    """List the shipped profiles of `args.kind` (or all): hardware with its memory, bandwidth and
    bf16 peak, the other hardware kinds by id, models with their sizes, workloads, pricing."""
    kind = args.kind
    if kind in ("all", "hardware"):
        _print_hardware()
    for folder, label in (("cpus", "CPUs"), ("storage", "storage"), ("links", "links")):
        if kind in ("all", folder):
            print(f"{label}: {', '.join(catalog.hardware_files(folder))}")
    if kind in ("all", "models"):
        _print_models()
    if kind in ("all", "workloads"):
        _print_workloads()
    if kind in ("all", "pricing"):
        _print_pricing()
    return 0


def run_import_model(args) -> int:
    model = hf_config.from_hf_config(Path(args.config))
    text = tables.model_yaml(model, args.id)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}: {model.parameters() / 1e9:.2f}B parameters")
    else:
        print(text, end="")
    return 0


def run_import_trace(args) -> int:
    """Kernel rows from a torch.profiler trace, written in the measurement schema."""
    import pandas as pd

    catalog.system(args.hardware)  # an unknown hardware id is an error before the trace is read
    rows = torch_trace.read_trace(Path(args.trace), args.hardware)
    if not rows:
        raise HwsimError(f"{args.trace}: no GEMM, attention or copy operators in the trace")
    frame = pd.DataFrame(rows)
    for column in torch_trace.INTEGER_COLUMNS & set(frame.columns):
        frame[column] = frame[column].astype("Int64")
    columns = [c for c in MEASUREMENT_COLUMNS if c in frame.columns]
    Path(args.out).write_text(frame[columns].to_csv(index=False))
    kinds = frame["kind"].value_counts()
    print(f"wrote {args.out}: {len(frame)} kernel rows ("
          + ", ".join(f"{count} {kind}" for kind, count in kinds.items()) + f") from {args.trace}")
    return 0


def run_import_bench(args) -> int:
    """Measurement rows from a benchmark tool's output file, for `hwsim validate`."""
    import pandas as pd

    catalog.system(args.hardware, args.count)  # unknown ids are errors before the file is read
    catalog.model(args.model)
    context = bench_import.RunContext(args.hardware, args.model, args.count, args.dtype, args.engine)
    fmt, rows = bench_import.read_benchmark(Path(args.file), context, args.format)
    frame = pd.DataFrame(rows)
    frame = frame[[c for c in MEASUREMENT_COLUMNS if c in frame.columns]].reindex(columns=MEASUREMENT_COLUMNS)
    Path(args.out).write_text(frame.to_csv(index=False))
    print(f"wrote {args.out}: {len(frame)} {frame['kind'].iloc[0]} rows from {args.file} ({fmt}): "
          + ", ".join(frame["metric"] if fmt != "llama-bench" else frame["id"]))
    return 0


def run_capacity(args) -> int:
    """`hwsim capacity`: the highest request rate whose SLOs hold, found by bisection."""
    from hwsim.studies import capacity

    scenario = scenario_yaml.load_scenario(Path(args.scenario))
    with progress.timed("capacity", "searched", enabled=not args.no_progress):  # its steps cannot be seen
        found = capacity.capacity(scenario, args.tolerance, args.percentile)
    for trial in found.trials:
        verdict = "holds" if trial.holds else f"misses: {trial.why}"
        print(f"  {trial.rate_per_s:10.3f} requests/s  {verdict}")
    summary = found.summary
    print(f"capacity            {found.rate_per_s:.3f} requests/s (within {found.tolerance:.0%}; "
          f"SLOs at p{found.percentile}, queue not growing)")
    band = intervals.band_for(regimes.chain(regimes.of_scenario(scenario)), intervals_yaml.bands())
    if band is not None:
        low, high = band.around(found.rate_per_s)
        print(f"90% interval        {low:.3f}-{high:.3f} requests/s (the errors of serving throughput, "
              f"{band.regime}, {band.rows} rows)")
    print(f"at that rate        {capacity.sustained_output_tokens_per_s(found):,.1f} output tokens/s sustained "
          f"(rate x mean output tokens); {summary['output_tokens_per_s']:,.1f} over the run, drain included")
    if args.json:
        document = {"capacity_requests_per_s": found.rate_per_s,
                    **({"capacity_requests_per_s_low": band.around(found.rate_per_s)[0],
                        "capacity_requests_per_s_high": band.around(found.rate_per_s)[1]} if band else {}),
                    "capacity_output_tokens_per_s": capacity.sustained_output_tokens_per_s(found),
                    "percentile": found.percentile,
                    "tolerance": found.tolerance, "summary_at_capacity": summary,
                    "trials": [{"rate_per_s": t.rate_per_s, "holds": t.holds, "why": t.why} for t in found.trials]}
        Path(args.json).write_text(json.dumps(document, indent=2, default=float))
    return 0
