"""Capacity planning: which hardware, how many, configured how, for this traffic and these SLOs.

Candidates are the product of the search space. Hopeless ones are pruned analytically before any
simulation: a model that does not fit, a dtype the device cannot compute, or a configuration whose
roofline upper bound on throughput is below the traffic's demand. The rest are simulated, in
parallel on local processes or on a Dask cluster, and judged against the SLOs. Among those that
pass, the cheapest per hour wins (for the same traffic, also the cheapest per token).

Early verdicts: a simulation stops as soon as enough requests are over the TTFT or TPOT limit that
the percentile the SLO judges is over it whatever the other requests take (`over_count_that_misses`).
Such a candidate fails exactly as it would have at the end; its latencies are partial, so it reports
none, only the lower bound its reason gives. The overload flag is not used to stop: it compares the
median TTFT of the first and the last tenth of arrivals, which is not settled before those requests
are served, and an overloaded run almost always trips the TTFT rule first. A throughput floor is
only known at the end, so a candidate that misses only that is simulated to the end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pandas as pd

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.estimate import estimate
from hwsim.perf.step_model import forget_step_models
from hwsim.serving.kvcache import capacity_blocks
from hwsim.specs import deployment
from hwsim.specs.deployment import Deployment
from hwsim.specs.placement import parse
from hwsim.specs.plan import Candidate, PlanSlo, PlanSpec
from hwsim.specs.scenario import Scenario, Slo
from hwsim.specs.workload import Workload

if TYPE_CHECKING:
    from hwsim.serving.engine import Seq
    from hwsim.serving.simulate import SimulationStopped

STOPPED = "stopped early"  # the status of a candidate whose simulation stopped at a certain miss

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


def over_count_that_misses(requests: int, percentile: float) -> int | None:
    """How many of `requests` values over a limit put their `percentile`-th percentile over it, whatever
    the other values are (None when there are no values, so no percentile).

    hwsim takes percentiles with numpy's linear interpolation: over the sorted values v[0..N-1] the
    percentile is v[i] + g (v[i+1] - v[i]) with i = floor((N - 1) p / 100) (at most N - 1) and g its
    fraction, never below v[i]. k values over the limit are the top k, v[N-k..N-1], so the percentile
    is over for certain once i >= N - k, k >= N - i; with one fewer, v[i] may be at the limit or far
    below it while g < 1. This is floor(N (1 - p/100)) + 1 only for some N: for 150 requests the p99
    needs 3, not 2."""
    if requests <= 0:
        return None
    index = min(math.floor((requests - 1) * (percentile / 100)), requests - 1)  # numpy's own arithmetic
    return requests - index


@dataclass
class _Tally:
    """The requests over one latency limit so far, and how many settle that its percentile misses it."""

    name: str  # TTFT or TPOT
    limit_s: float
    requests: int  # measured requests that have this latency
    needed: int
    over_s: list[float] = field(default_factory=list)

    def add(self, value_s: float) -> bool:
        """Count one request's latency; whether the miss is now certain."""
        if value_s > self.limit_s:
            self.over_s.append(value_s)
        return len(self.over_s) >= self.needed

    def reason(self, percentile: int) -> str:
        """The miss as `_misses` words it, with the lower bound the counted requests give: the
        percentile is at least v[i], the smallest of the `needed` largest values, which is at least
        the smallest of those counted."""
        bound_s, limit_ms = min(self.over_s), self.limit_s * 1e3
        return (f"{self.name} p{percentile} >= {bound_s * 1e3:,.1f} ms > {limit_ms:,.1f} ms "
                f"(at least +{bound_s / self.limit_s - 1:.0%}: {len(self.over_s):,} of {self.requests:,} requests are "
                f"over {limit_ms:,.1f} ms, which puts the p{percentile} over it whatever the rest take)")


class EarlyVerdict:
    """`simulate`'s stop rule for a plan: a reason once a percentile SLO is certainly missed. A TTFT
    is known at a request's first token, a TPOT when it finishes; warm-up requests do not count, and
    a one-token answer has no TPOT, as in the summary's percentiles."""

    def __init__(self, slo: PlanSlo, requests: pd.DataFrame, warmup: int):
        measured = requests[requests["request"] >= warmup]
        self.slo, self.warmup = slo, warmup
        self.ttft = self._tally("TTFT", slo.ttft_s, len(measured))
        self.tpot = self._tally("TPOT", slo.tpot_s, int((measured["output_tokens"] > 1).sum()))
        self.missed: _Tally | None = None

    def _tally(self, name: str, limit_s: float | None, requests: int) -> _Tally | None:
        needed = over_count_that_misses(requests, self.slo.percentile)
        return None if limit_s is None or needed is None else _Tally(name, limit_s, requests, needed)

    def __call__(self, seq: Seq) -> str | None:
        """The reason to stop after this request's first token or end, or None to go on."""
        first_s = seq.first_token_s
        if seq.request < self.warmup or first_s is None:
            return None
        if seq.completion_s is None:
            tally, value_s = self.ttft, first_s - seq.arrival_s  # as metrics.per_request takes them
        elif seq.output > 1:
            tally, value_s = self.tpot, (seq.completion_s - first_s) / (seq.output - 1)
        else:
            return None
        if tally is None or not tally.add(value_s):
            return None
        self.missed = tally
        return tally.reason(self.slo.percentile)


# what a simulation to the end reports beside the latencies; a candidate stopped early has none of them
SIMULATED_FIGURES = ("output_tokens_per_s", "e2e_p50_s", "usd_per_hour", "usd_per_1m_output_tokens",
                     "usd_per_1m_total_tokens", "output_tokens_per_j", "overloaded")


def evaluate(candidate: Candidate, spec: PlanSpec, early: bool = True, share_step_models: bool = True) -> dict:
    """One candidate's outcome: pruned with a reason, or simulated and judged against the SLOs; with
    `early`, a simulation stops once a latency SLO is certainly missed (status "stopped early"). With
    `share_step_models` it prices its steps with the memo earlier candidates of its deployment left in
    this process (the same figures, sooner); without, with a memo of its own."""
    from hwsim.serving.simulate import SimulationStopped, simulate

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
    p = spec.slo.percentile
    requests = spec.workload.requests()
    verdict = EarlyVerdict(spec.slo, requests, spec.workload.warmup) if early else None
    if not share_step_models:
        forget_step_models()
    try:
        result = simulate(scenario_for(candidate, spec), requests, stop=verdict, keep_steps=False)
    except SimulationStopped as stopped:
        assert verdict is not None and verdict.missed is not None
        return _stopped_record(record, stopped, verdict.missed, p)
    s = result.summary
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


def _stopped_record(record: dict, stopped: SimulationStopped, missed: _Tally, percentile: int) -> dict:
    """A candidate stopped once it had certainly missed: its reason and where it stopped; no figures
    from the partial run, and as its worst miss the lower bound of the one that stopped it."""
    where = (f"stopped early at {stopped.at_s:,.1f} s simulated, {stopped.finished:,} of "
             f"{stopped.requests:,} requests finished")
    return {**record, "status": STOPPED, f"ttft_p{percentile}_s": None, f"tpot_p{percentile}_s": None,
            **dict.fromkeys(SIMULATED_FIGURES), "passes": False, "reasons": f"{stopped.reason}; {where}",
            "worst_miss": min(missed.over_s) / missed.limit_s - 1}


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
        """The simulated candidates that missed their SLOs by least (none when all were pruned); one
        stopped early ranks by the lower bound of its miss, which its reason says is one."""
        simulated = self.outcomes[self.outcomes["status"].isin(["simulated", STOPPED])]
        if simulated.empty:
            return simulated
        return simulated.sort_values("worst_miss").head(count)


def run(spec: PlanSpec, workers: int = 1, cluster: str | None = None, progress=None,
        early: bool = True, share_step_models: bool = True) -> PlanResult:
    """Evaluate every candidate: in this process, on `workers` local processes, or on a Dask cluster;
    `early=False` simulates every unpruned candidate to the end, `share_step_models=False` gives each
    its own step memo (both only to compare: neither changes a verdict or a figure given)."""
    candidates = list(spec.candidates)
    if not candidates:
        raise HwsimError("the search space is empty")
    options = {"early": early, "share_step_models": share_step_models}
    if cluster:
        records = _on_cluster(candidates, spec, cluster, progress, options)
    elif workers > 1:
        records = _on_processes(candidates, spec, workers, progress, options)
    else:
        records = []
        for i, candidate in enumerate(candidates):
            records.append(evaluate(candidate, spec, **options))
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
    TPOT at the SLO percentile, among those simulated to the end (one stopped early has no TPOT)."""
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


def _on_processes(candidates, spec, workers: int, progress, options: dict) -> list[dict]:
    """Each deployment's candidates on one worker process, so that they share its step model."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    records: list[dict] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_evaluate_all, group, spec, options) for group in _by_deployment(candidates)]
        for future in as_completed(futures):
            records.extend(future.result())
            if progress:
                progress(len(records), len(candidates))
    return records


def _by_deployment(candidates: list[Candidate]) -> list[list[Candidate]]:
    """The candidates grouped by what their step model depends on (all but replicas and engine
    limits), in their order."""
    groups: dict[tuple, list[Candidate]] = {}
    for c in candidates:
        groups.setdefault((c.hardware, c.tensor_parallel, c.dtype, c.kv_dtype, c.placement), []).append(c)
    return list(groups.values())


def _evaluate_all(candidates: list[Candidate], spec: PlanSpec, options: dict) -> list[dict]:
    return [evaluate(c, spec, **options) for c in candidates]


def _on_cluster(candidates, spec, address, progress, options: dict) -> list[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise HwsimError("--cluster needs Dask distributed: pip install 'hwsim[cluster]'") from None
    client = address if hasattr(address, "submit") else Client(address)
    try:
        futures = client.map(evaluate, candidates, spec=spec, **options, pure=False)
        records = []
        for future in as_completed(futures):
            records.append(future.result())
            if progress:
                progress(len(records), len(candidates))
        return records
    finally:
        if client is not address:
            client.close()

