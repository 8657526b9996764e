"""Capacity planning: which hardware, how many, configured how, for this traffic and these SLOs.

Candidates are the product of the search space. Hopeless ones are pruned analytically before any
simulation: a model that does not fit, a dtype the device cannot compute, or a configuration whose
roofline upper bound on throughput is below the traffic's demand. The rest are simulated, in
parallel on local processes or on a Dask cluster, and judged against the SLOs. Among those that
pass, the cheapest per hour wins (for the same traffic, also the cheapest per token).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.estimate import estimate
from hwsim.serving.kvcache import capacity_blocks
from hwsim.specs import deployment
from hwsim.specs.deployment import Deployment
from hwsim.specs.placement import parse
from hwsim.specs.plan import Candidate, PlanSlo, PlanSpec
from hwsim.specs.scenario import Scenario, Slo
from hwsim.specs.workload import Workload

# --- evaluation -------------------------------------------------------------------------------


def scenario_for(candidate: Candidate, spec: PlanSpec) -> Scenario:
    system = catalog.system(candidate.hardware, candidate.tensor_parallel)
    engine = replace(spec.engine, max_num_seqs=candidate.max_num_seqs,
                     max_num_batched_tokens=candidate.max_num_batched_tokens)
    return Scenario(
        name=candidate.describe(), system=system, model=spec.model,
        precision=deployment.Precision(candidate.dtype, candidate.kv_dtype), workload=spec.workload,
        replicas=candidate.replicas, engine=engine, slo=Slo(spec.slo.ttft_s, spec.slo.tpot_s),
        placement=parse(candidate.placement), pricing=spec.pricing,
    )


def demand_output_tokens_per_s(workload: Workload) -> float | None:
    """Output tokens per second the traffic asks for (open-loop arrivals only)."""
    if workload.arrival not in ("poisson", "gamma"):
        return None
    requests = workload.requests()
    return workload.rate_per_s * float(requests["output_tokens"].mean())


def prune(candidate: Candidate, spec: PlanSpec) -> str | None:
    """Why a candidate cannot work, decided without simulating it; None when it might."""
    scenario = scenario_for(candidate, spec)
    system, engine = scenario.system, scenario.engine
    peak = system.compute.peak(scenario.precision.compute_dtype)
    if not peak:
        return f"{candidate.hardware} has no {scenario.precision.compute_dtype} compute"
    try:
        blocks = capacity_blocks(spec.model, system, scenario.precision, engine.block_size,
                                 engine.gpu_memory_utilization, engine.max_num_batched_tokens, engine.max_num_seqs,
                                 scenario.placement)
    except HwsimError as exc:
        return f"does not fit: {exc}"
    requests = spec.workload.requests()
    context = int((requests["prompt_tokens"] + requests["output_tokens"]).mean())
    longest = int((requests["prompt_tokens"] + requests["output_tokens"]).max())
    if blocks * engine.block_size < longest:
        return (f"does not fit: the longest request ({longest} tokens) exceeds the KV cache "
                f"({blocks * engine.block_size})")
    batch = max(1, min(engine.max_num_seqs, blocks * engine.block_size // max(1, context)))
    prompt = max(1, int(requests["prompt_tokens"].mean()))
    output = max(1, int(requests["output_tokens"].mean()))
    bound = estimate(Deployment(spec.model, system, scenario.precision, placement=scenario.placement), batch,
                     prompt, output, check_memory=False)
    # decode only (prefill is extra work), at the largest batch the cache holds: an upper bound
    ceiling = candidate.replicas * batch / bound.decode_mid.time_s
    demand = demand_output_tokens_per_s(spec.workload)
    floor = max(demand or 0.0, spec.slo.min_output_tokens_per_s or 0.0)
    if floor and ceiling < floor:
        return f"cannot keep up: at most {ceiling:,.0f} output tokens/s < {floor:,.0f} needed"
    return None


def evaluate(candidate: Candidate, spec: PlanSpec) -> dict:
    """One candidate's outcome: pruned with a reason, or simulated and judged against the SLOs."""
    from hwsim.serving.simulate import simulate

    record = {"candidate": candidate.describe(), "hardware": candidate.hardware, "tensor_parallel":
              candidate.tensor_parallel, "replicas": candidate.replicas, "devices": candidate.devices,
              "dtype": candidate.dtype, "kv_dtype": candidate.kv_dtype or "", "max_num_seqs": candidate.max_num_seqs,
              "max_num_batched_tokens": candidate.max_num_batched_tokens, "placement": candidate.placement}
    try:
        reason = prune(candidate, spec)
    except HwsimError as exc:
        reason = f"cannot run: {exc}"
    if reason:
        return {**record, "status": "pruned", "passes": False, "reasons": reason}
    result = simulate(scenario_for(candidate, spec))
    s = result.summary
    p = spec.slo.percentile
    record.update({
        "status": "simulated",
        "output_tokens_per_s": s["output_tokens_per_s"],
        f"ttft_p{p}_s": s[f"ttft_p{p}_s"],
        f"tpot_p{p}_s": s[f"tpot_p{p}_s"],
        "e2e_p50_s": s["e2e_p50_s"],
        "usd_per_hour": s.get("usd_per_hour"),
        "usd_per_1m_output_tokens": s.get("usd_per_1m_output_tokens"),
        "usd_per_1m_total_tokens": s.get("usd_per_1m_total_tokens"),
        "output_tokens_per_j": s["output_tokens_per_j"],
        "overloaded": s["overloaded"],
    })
    misses = _misses(record, spec.slo)
    record["passes"] = not misses
    record["reasons"] = "; ".join(m for m, _ in misses) if misses else "meets every SLO"
    record["worst_miss"] = max((ratio for _, ratio in misses), default=0.0)
    return record


def _misses(record: dict, slo: PlanSlo) -> list[tuple[str, float]]:
    """(text, relative miss) for each SLO the record fails."""
    p = slo.percentile
    misses = []
    for name, limit in (("TTFT", slo.ttft_s), ("TPOT", slo.tpot_s)):
        value = record[f"{name.lower()}_p{p}_s"]
        if limit is not None and value is not None and value > limit:
            misses.append((f"{name} p{p} {value * 1e3:,.1f} ms > {limit * 1e3:,.1f} ms (+{value / limit - 1:.0%})",
                           value / limit - 1))
    floor = slo.min_output_tokens_per_s
    if floor and record["output_tokens_per_s"] < floor:
        misses.append((f"throughput {record['output_tokens_per_s']:,.0f} < {floor:,.0f} tokens/s "
                       f"(-{1 - record['output_tokens_per_s'] / floor:.0%})",
                       floor / record["output_tokens_per_s"] - 1))
    if record["overloaded"]:
        misses.append(("overloaded: the queue grew through the run", 1.0))
    return misses


# --- the sweep --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanResult:
    spec: PlanSpec
    outcomes: pd.DataFrame
    winner: dict | None
    pareto: pd.DataFrame

    def closest(self, count: int = 3) -> pd.DataFrame:
        """The simulated candidates that missed their SLOs by least (none when all were pruned)."""
        simulated = self.outcomes[self.outcomes["status"] == "simulated"]
        if simulated.empty:
            return simulated
        return simulated.sort_values("worst_miss").head(count)


def run(spec: PlanSpec, workers: int = 1, cluster: str | None = None, progress=None) -> PlanResult:
    """Evaluate every candidate: in this process, on `workers` local processes, or on a Dask cluster."""
    candidates = list(spec.candidates)
    if not candidates:
        raise HwsimError("the search space is empty")
    if cluster:
        records = _on_cluster(candidates, spec, cluster, progress)
    elif workers > 1:
        records = _on_processes(candidates, spec, workers, progress)
    else:
        records = []
        for i, candidate in enumerate(candidates):
            records.append(evaluate(candidate, spec))
            if progress:
                progress(i + 1, len(candidates))
    frame = pd.DataFrame(records)
    order = {c.describe(): i for i, c in enumerate(candidates)}
    frame = frame.sort_values("candidate", key=lambda s: s.map(order), ignore_index=True)
    passing = frame[frame["passes"]]
    winner = passing.sort_values(["usd_per_hour", "devices"]).iloc[0].to_dict() if len(passing) else None
    return PlanResult(spec, frame, winner, pareto_frontier(frame, spec.slo.percentile))


def pareto_frontier(frame: pd.DataFrame, percentile: int) -> pd.DataFrame:
    """Candidates that keep up with the traffic and that no other beats on both cost per hour and
    TPOT at the SLO percentile."""
    if "overloaded" not in frame:
        return frame.iloc[0:0]
    simulated = frame[(frame["status"] == "simulated") & frame["usd_per_hour"].notna()
                      & ~frame["overloaded"].astype(bool)]
    latency = f"tpot_p{percentile}_s"
    ordered = simulated.sort_values(["usd_per_hour", latency])
    keep, best = [], float("inf")
    for index, row in ordered.iterrows():
        if row[latency] < best:
            keep.append(index)
            best = row[latency]
    return ordered.loc[keep]


def _on_processes(candidates, spec, workers: int, progress) -> list[dict]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    records = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(evaluate, c, spec) for c in candidates]
        for future in as_completed(futures):
            records.append(future.result())
            if progress:
                progress(len(records), len(candidates))
    return records


def _on_cluster(candidates, spec, address, progress) -> list[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise HwsimError("--cluster needs Dask distributed: pip install 'hwsim[cluster]'") from None
    client = address if hasattr(address, "submit") else Client(address)
    try:
        futures = client.map(evaluate, candidates, spec=spec, pure=False)
        records = []
        for future in as_completed(futures):
            records.append(future.result())
            if progress:
                progress(len(records), len(candidates))
        return records
    finally:
        if client is not address:
            client.close()

