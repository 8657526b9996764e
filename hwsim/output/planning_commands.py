"""The `hwsim` commands that search or compare configurations: plan, moe-plan, offload-plan
and flash."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, replace
from pathlib import Path

from hwsim.base import units
from hwsim.base.errors import HwsimError
from hwsim.loading import catalog, intervals_yaml, plan_yaml, pricing_yaml
from hwsim.loading.routing import routing_for
from hwsim.output import progress, tables
from hwsim.perf import flash
from hwsim.specs import deployment
from hwsim.specs.plan import Candidate, PlanSpec
from hwsim.studies import capacity, expert_plan, hourly, intervals, offload_plan, plan, regimes


def _with_pricing(spec: PlanSpec, pricing_name: str) -> PlanSpec:
    """`spec` priced by `--pricing` instead of its own profile. Every hardware searched must have a
    price there, as the plan file's own pricing must: an unpriced candidate could never be ranked."""
    prices = pricing_yaml.pricing(pricing_name)
    for hardware_id in sorted({c.hardware for c in spec.candidates}):
        accelerator = catalog.system(hardware_id).accelerator
        if accelerator is None or accelerator.id not in prices.priced():
            raise HwsimError(f"--pricing {prices.id}: {hardware_id} has no price (priced: "
                             f"{', '.join(prices.priced())})")
    return replace(spec, pricing=prices)


def run_plan(args) -> int:
    """`hwsim plan`: search the plan's space; print the winner and the frontier; write what was asked."""
    spec = plan_yaml.load_plan(Path(args.plan))
    if args.pricing:
        spec = _with_pricing(spec, args.pricing)
    workers = args.workers or os.cpu_count() or 1

    # a candidate whose SLO is certainly missed stops early, unless every candidate's figures are asked for
    early = not (args.report or args.all or args.json or args.csv)
    with progress.Progress("plan", unit="candidates", enabled=not args.no_progress) as bar:
        result = plan.run(spec, workers=workers, cluster=args.cluster, progress=bar.update, early=early)
    headroom = _winner_capacity(spec, result)
    _print_plan(spec, result, args.all, headroom)
    if spec.workload.trace is not None and result.winner is not None:
        _print_hourly(spec, result)
    frame = result.outcomes
    if isinstance(headroom, capacity.Capacity) and result.winner is not None:  # the winner's row carries it
        frame = frame.assign(capacity_requests_per_s=frame["candidate"].map(
            {result.winner["candidate"]: headroom.rate_per_s}))
    frame = _with_latency_intervals(spec, frame)
    if args.robust:
        frame = frame.assign(passes_robust=_robust_passes(spec, frame))
        _print_robust(frame, result.winner)
    if args.json:
        Path(args.json).write_text(frame.to_json(orient="records", indent=2))
    if args.csv:
        frame.to_csv(args.csv, index=False)
    if args.report:
        from hwsim.output import plan_report

        Path(args.report).write_text(plan_report.page(result, frame), encoding="utf-8")
    return 0


def _latency_keys(spec: PlanSpec) -> tuple[tuple[str, str, float | None], ...]:
    """(what the band measures, outcome column, SLO limit) for the two latencies a plan judges."""
    p, slo = spec.slo.percentile, spec.slo
    return (("ttft", f"ttft_p{p}_s", slo.ttft_s), ("inter-token", f"tpot_p{p}_s", slo.tpot_s))


def _latency_intervals(spec: PlanSpec, candidate: Candidate, record: dict) -> dict[str, float]:
    """A simulated candidate's 90% intervals for its TTFT and TPOT at the SLO percentile, as
    `<column>_low`/`<column>_high` fields, from the band of its regime: the one lookup both the
    outcome files and the robust verdict use, so they can never disagree. A pruned candidate, or a
    figure whose regime has no fitted band, has none."""
    if record["status"] != "simulated":
        return {}
    scenario = plan.scenario_for(candidate, spec)
    found = {}
    for measured, key, _ in _latency_keys(spec):
        band = intervals.band_for(regimes.chain(regimes.of_scenario(scenario, measured)), intervals_yaml.bands())
        value = record.get(key)
        if band is not None and value is not None and math.isfinite(value):
            found[f"{key}_low"], found[f"{key}_high"] = band.around(value)
    return found


def _with_latency_intervals(spec: PlanSpec, frame):
    """`frame` with the `_low`/`_high` columns of each candidate's latency intervals (empty where it
    has none), so the JSON, the CSV and the report carry the uncertainty of every latency they show."""
    by_name = {c.describe(): c for c in spec.candidates}
    found = [_latency_intervals(spec, by_name[r["candidate"]], r) for r in frame.to_dict("records")]
    columns = [f"{key}_{end}" for _, key, _ in _latency_keys(spec) for end in ("low", "high")]
    return frame.assign(**{column: [f.get(column, math.nan) for f in found] for column in columns})


def _robust_passes(spec: PlanSpec, frame) -> list[bool]:
    """Whether each candidate still meets its SLOs with its TTFT and TPOT at the pessimistic end of
    their 90% intervals (a latency predicted low by the band's lower error, e_low < 0, is taken as
    measured = predicted / (1 + e_low), the interval's high end; a band that only ever predicted
    high leaves the prediction as it is)."""
    by_name = {c.describe(): c for c in spec.candidates}
    verdicts = []
    for record in frame.to_dict("records"):
        if not record["passes"]:
            verdicts.append(False)
            continue
        found = _latency_intervals(spec, by_name[record["candidate"]], record)
        verdicts.append(all(limit is None or f"{key}_high" not in found
                            or max(record[key], found[f"{key}_high"]) <= limit
                            for _, key, limit in _latency_keys(spec)))
    return verdicts


def _print_robust(frame, winner: dict | None) -> None:
    """The cheapest candidate that meets the SLOs even at the pessimistic end of its intervals."""
    robust = frame[frame["passes_robust"]]
    if robust.empty:
        print("robust: no candidate meets the SLOs at the pessimistic end of its 90% intervals")
        return
    best = robust.sort_values(["usd_per_hour", "devices"]).iloc[0]
    same = winner is not None and best["candidate"] == winner["candidate"]
    print(f"robust (SLOs at the pessimistic end of each 90% interval): {best['candidate']}, "
          f"${best['usd_per_hour']:.2f}/h" + (" (the same winner)" if same else
                                            f" (the winner changes; {int(frame['passes'].sum() - len(robust))} "
                                            f"candidates pass only at the optimistic end)"))
    print()


def _winner_capacity(spec: PlanSpec, result: plan.PlanResult) -> capacity.Capacity | str | None:
    """How far the winner's traffic could grow before it misses its SLOs: its capacity, found by
    bisecting the workload's rate; why it has none, or None without a winner."""
    if result.winner is None or spec.workload.trace is not None:  # a trace is provisioned hour by hour
        return None
    candidate = next(c for c in spec.candidates if c.describe() == result.winner["candidate"])
    scenario = plan.scenario_for(candidate, spec)
    if capacity.why_not(scenario):
        return capacity.why_not(scenario)
    try:
        return capacity.capacity(scenario, percentile=spec.slo.percentile)
    except HwsimError as exc:
        return str(exc)


def _print_hourly(spec: PlanSpec, result: plan.PlanResult) -> None:
    """Hour by hour of the trace: the winner's replicas each hour needs, and what provisioning for
    the peak costs against scaling each hour."""
    winner, trace = result.winner, spec.workload.trace
    assert winner is not None and trace is not None
    candidate = next(c for c in spec.candidates if c.describe() == winner["candidate"])
    scenario = plan.scenario_for(candidate, spec)
    price = winner.get("usd_per_hour")
    per_replica = price / candidate.replicas if price is not None and price == price else None
    found = hourly.hourly(scenario, trace, per_replica)
    devices = candidate.tensor_parallel
    print(f"hour by hour (one replica, {devices}x {candidate.hardware}, holds the SLOs up to "
          f"{found.capacity_per_replica_per_s:.2f} requests/s of this trace's lengths):")
    print(f"  {'hour':>4} {'requests':>9} {'requests/s':>11} {'replicas':>9}")
    for hour in found.hours:
        print(f"  {hour.index:>4} {hour.requests:>9,} {hour.rate_per_s:>11.2f} {hour.replicas:>9}")
    print(f"  peak {found.peak.replicas} replicas (hour {found.peak.index}), mean {found.mean_replicas:.1f}")
    peak_usd, scaled_usd = found.usd(scaled=False), found.usd(scaled=True)
    if peak_usd is not None and scaled_usd is not None:
        print(f"  over these {len(found.hours)} hours: ${peak_usd:,.2f} provisioned for the peak, "
              f"${scaled_usd:,.2f} scaled each hour")
    print()


def _print_plan(spec: PlanSpec, result: plan.PlanResult, every: bool,
                headroom: capacity.Capacity | str | None = None) -> None:
    """The counts, the winner (or the closest misses), the frontier and with `every` all candidates."""
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
              f"{w['output_tokens_per_s']:,.0f} output tokens/s  ({tables.pricing_text(spec)})")
        _print_winner_intervals(spec, w)
        if isinstance(headroom, str):
            print(f"  capacity not found: {headroom}")
        elif headroom is not None:
            print(f"  capacity {headroom.rate_per_s:,.2f} requests/s under the SLOs, "
                  f"{headroom.rate_per_s / spec.workload.rate_per_s:.1f}x the planned "
                  f"{spec.workload.rate_per_s:g} requests/s ({capacity.sustained_output_tokens_per_s(headroom):,.0f} "
                  f"output tokens/s sustained)")
        print()
    elif pruned == len(frame):
        print("no configuration meets the SLOs: every candidate was pruned before simulation")
        for row in frame.head(3).to_dict("records"):
            print(f"  {row['candidate']}: {row['reasons']}")
        print()
    else:
        print("no configuration meets the SLOs; the closest:")
        for row in result.closest().to_dict("records"):
            print(f"  {row['candidate']}: {row['reasons']}")
        print()
    if not result.pareto.empty:
        print("cost-latency frontier (no candidate is both cheaper and faster):")
        print(tables.plan_table(result.pareto, p))
        stopped = int((frame["status"] == plan.STOPPED).sum())
        if stopped:  # their latencies are partial, so where they would sit is not known
            print(f"  ({stopped} candidates stopped early at a certain SLO miss are not placed on it)")
    if every:
        print("\nevery candidate:")
        print(tables.plan_table(frame, p))


def _print_winner_intervals(spec: PlanSpec, winner: dict) -> None:
    """The 90% intervals of the winner's TTFT and TPOT at the SLO percentile, where its regime has a band."""
    candidate = next(c for c in spec.candidates if c.describe() == winner["candidate"])
    found = _latency_intervals(spec, candidate, winner)
    parts = [f"{name} p{spec.slo.percentile} {found[key + '_low'] * 1e3:,.1f}-{found[key + '_high'] * 1e3:,.1f} ms"
             for (_, key, _), name in zip(_latency_keys(spec), ("TTFT", "TPOT"), strict=True) if key + "_low" in found]
    if parts:
        print(f"  90% intervals: {', '.join(parts)} (from how far hwsim has been from measurements in its regime)")


def _budget_bytes(text: str | None) -> float | None:
    """`--budget` as bytes; a number without a unit is refused, since GB and GiB differ by 7%."""
    if not text:
        return None
    try:
        return units.parse(text, "bytes")
    except units.UnitError as exc:
        raise HwsimError(f"--budget: {exc}") from None


def run_moe_plan(args) -> int:
    """`hwsim moe-plan`: the residency options for routed experts, the chosen one first."""
    model = catalog.model(args.model)
    system = catalog.system(args.hardware, args.count)
    precision = deployment.Precision.of(args.dtype, None, args.weight_bits, args.weight_format)
    routing = routing_for(model, args.routing)
    result = expert_plan.plan(model, system, routing, precision, args.batch, args.prompt_tokens, args.output_tokens,
                              _budget_bytes(args.budget), args.resident)
    devices = max(1, system.accelerator_count)
    print(f"{model.name} on {devices}x {system.device_name}, {routing.kind} routing, batch {args.batch}")
    print(f"  expert memory per device {units.format_bytes(result.budget_bytes)}; one expert in every MoE layer "
          f"takes {units.format_bytes(result.expert_bytes * model.moe_layers / devices)} -> "
          f"{result.resident} of {routing.experts} experts per layer resident\n")
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
    if args.json:
        document = {"hardware": system.id, "model": model.id, "count": devices, "dtype": precision.dtype,
                    "routing": routing.kind, **_moe_plan_document(args, result)}
        Path(args.json).write_text(json.dumps(document, indent=2, default=float))
    return 0


def _moe_plan_document(args, result: expert_plan.ExpertPlan) -> dict:
    """The shape asked for and every residency option, as `moe-plan --json` writes them."""
    return {"batch": args.batch, "prompt": args.prompt_tokens, "output": args.output_tokens,
            "budget_bytes": result.budget_bytes, "expert_bytes": result.expert_bytes, "resident": result.resident,
            "chosen": result.options[0].name, "options": [asdict(o) for o in result.options],
            "assignment": result.assignment}


def _policy_document(candidate: offload_plan.Candidate) -> dict:
    """One feasible offload policy at its best batch, as `offload-plan --json` lists it."""
    return {"placement": candidate.placement.describe(), "batch": candidate.batch,
            "output_tokens_per_s": candidate.throughput, "why": candidate.why(),
            "tier_bytes": candidate.result.tier_needs}


def run_offload_plan(args) -> int:
    """`hwsim offload-plan`: the best placement and batch, and the runner-ups with what binds each."""
    model = catalog.model(args.model)
    system = catalog.system(args.hardware)
    precision = deployment.Precision.of(args.dtype, args.kv_dtype)
    ranked = offload_plan.search(model, system, args.prompt_tokens, args.output_tokens, precision,
                                 deployment.OffloadOptions(overlap=not args.no_overlap))
    best = ranked[0]
    print(f"{model.name} on {system.name}: prompt {args.prompt_tokens}, output {args.output_tokens} tokens, "
          f"{precision.dtype}\n")
    print(f"best: {best.placement.describe()}, batch {best.batch}: {best.throughput:,.2f} output tokens/s")
    print(f"      {best.why()}")
    if best.result.tier_needs:
        print("      memory: " + ", ".join(f"{t} {units.format_bytes(b)}" for t, b in best.result.tier_needs.items()))
    print(f"\nrunner-ups ({len(ranked) - 1} more feasible policies, each at its best batch):")
    for c in ranked[1:1 + args.show]:
        print(f"  {c.throughput:>9,.2f} tok/s ({c.throughput / best.throughput - 1:+.1%})  batch {c.batch:<5} "
              f"{c.placement.describe()}\n      {c.why()}")
    if args.json:
        document = {"hardware": system.id, "model": model.id, "dtype": precision.dtype,
                    "prompt": args.prompt_tokens, "output": args.output_tokens, "overlap": not args.no_overlap,
                    "policies": [_policy_document(c) for c in ranked]}
        Path(args.json).write_text(json.dumps(document, indent=2, default=float))
    return 0


def run_flash(args) -> int:
    """`hwsim flash`: one token's time with FFN weights on flash, against the variants without each trick."""
    model = catalog.model(args.model)
    system = catalog.system(args.hardware)
    precision = deployment.Precision.of(args.dtype)
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
    if args.json:
        document = {"hardware": system.id, "model": model.id, "dtype": precision.dtype,
                    **_flash_document(args, variants)}
        Path(args.json).write_text(json.dumps(document, indent=2))
    return 0


def _flash_document(args, variants: list[tuple[str, flash.FlashToken]]) -> dict:
    """The options asked for and each variant's times and bytes, as `flash --json` writes them."""
    return {"context": args.context, "active": args.active, "new": args.new, "bundle": not args.no_bundle,
            "threads": args.threads,
            "variants": [{"name": name, **asdict(token), "total_s": token.total_s} for name, token in variants]}
