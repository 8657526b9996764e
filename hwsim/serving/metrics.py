"""Serving metrics from the simulator's records: throughput, latency percentiles, SLOs, KV use."""
from __future__ import annotations

import numpy as np
import pandas as pd

from hwsim.perf.energy import idle_w
from hwsim.serving.records import StepTotals
from hwsim.specs.scenario import Slo

PERCENTILES = (50, 90, 99)


SUMMARIZED = ("arrival_s", "first_token_s", "completion_s", "prompt_tokens", "output_tokens", "preemptions", "swaps",
              "api_s", "ttft_queue_s", "ttft_prefill_s", "ttft_host_s", "ttft_preempted_s",
              "ttft_stalled_s")  # the request columns a summary reads


def per_request(requests: pd.DataFrame) -> pd.DataFrame:
    """TTFT, TPOT (mean inter-token latency of the request) and end-to-end latency per request."""
    return _with_latencies(requests.copy())


def _with_latencies(out: pd.DataFrame) -> pd.DataFrame:
    """`out` with each request's TTFT, TPOT and end-to-end latency added to it."""
    out["ttft_s"] = out["first_token_s"] - out["arrival_s"]
    out["e2e_s"] = out["completion_s"] - out["arrival_s"]
    gaps = (out["output_tokens"] - 1).where(out["output_tokens"] > 1)
    out["tpot_s"] = (out["completion_s"] - out["first_token_s"]) / gaps
    return out


def summarize(requests: pd.DataFrame, steps: StepTotals, slo: Slo, arrival: str, swap_bytes: float,
              tdp_w: float = 0.0, devices_per_replica: int = 1, replicas: int = 1) -> dict:
    """The run's summary: throughput, latency percentiles, SLO attainment, KV use, preemptions,
    energy. `tdp_w` is per device; replicas draw idle power whenever they have no step."""
    table = _with_latencies(requests[[c for c in SUMMARIZED if c in requests.columns]])  # a copy of what it reads
    span = table["completion_s"].max() - table["arrival_s"].min()
    summary = _throughput(table, span)
    summary.update(_latencies(table))
    summary["ttft_parts_mean_s"] = _ttft_parts(table)
    summary.update(_slo_attainment(table, slo, span))
    summary.update(_kv_and_batching(table, steps, swap_bytes))
    summary["overloaded"] = _overloaded(table, arrival)
    summary.update(_energy(table, steps, span, tdp_w, devices_per_replica, replicas))
    return summary


def _throughput(table: pd.DataFrame, span: float) -> dict:
    return {
        "requests": len(table),
        "duration_s": span,
        "requests_per_s": len(table) / span,
        "input_tokens_per_s": table["prompt_tokens"].sum() / span,
        "output_tokens_per_s": table["output_tokens"].sum() / span,
        "total_tokens_per_s": (table["prompt_tokens"].sum() + table["output_tokens"].sum()) / span,
    }


def _latencies(table: pd.DataFrame) -> dict:
    """Mean and percentiles of TTFT, TPOT and end-to-end latency, and the mean inter-token latency
    over all gaps of all requests (None where no request has any)."""
    summary: dict = {}
    for metric in ("ttft_s", "tpot_s", "e2e_s"):
        values = table[metric].dropna()
        summary[f"{metric[:-2]}_mean_s"] = float(values.mean()) if len(values) else None
        for p in PERCENTILES:
            summary[f"{metric[:-2]}_p{p}_s"] = float(np.percentile(values, p)) if len(values) else None
    gaps = (table["output_tokens"] - 1).clip(lower=0)
    summary["itl_mean_s"] = float((table["completion_s"] - table["first_token_s"]).sum() / gaps.sum()) \
        if gaps.sum() else None
    return summary


TTFT_PARTS = {"api": "api_s", "queueing": "ttft_queue_s", "prefill": "ttft_prefill_s", "host": "ttft_host_s",
              "preempted": "ttft_preempted_s", "stalled": "ttft_stalled_s"}


def _ttft_parts(table: pd.DataFrame) -> dict:
    """Where the mean TTFT goes: API handling, queueing, prefill steps, their host overhead, time
    preempted and time stalled; the parts sum to the mean TTFT."""
    return {name: float(table[column].mean()) for name, column in TTFT_PARTS.items()}


def _slo_attainment(table: pd.DataFrame, slo: Slo, span: float) -> dict:
    """Share of requests that meet every latency target set, and how many per second do (goodput)."""
    met = pd.Series(True, index=table.index)
    if slo.ttft_s is not None:
        met &= table["ttft_s"] <= slo.ttft_s
    if slo.tpot_s is not None:
        met &= table["tpot_s"].fillna(0.0) <= slo.tpot_s
    return {"slo_attainment": float(met.mean()), "goodput_requests_per_s": float(met.sum()) / span}


def _kv_and_batching(table: pd.DataFrame, steps: StepTotals, swap_bytes: float) -> dict:
    """KV cache use (time-weighted mean and peak), preemptions and swaps, and the mean decode batch."""
    return {
        "kv_utilization_mean": steps.kv_share_s / steps.busy_s if steps.busy_s else 0.0,
        "kv_utilization_max": steps.kv_peak_share,
        "preemptions": int(table["preemptions"].sum()),
        "swaps": int(table["swaps"].sum()),
        "swap_bytes": float(swap_bytes),
        "mean_batch": steps.decode_seq_steps / steps.steps,
    }


def _energy(table: pd.DataFrame, steps: StepTotals, span: float, tdp_w: float, devices_per_replica: int,
            replicas: int) -> dict:
    """What the steps drew, plus each replica's devices idling while it had no step."""
    idle_s = sum(span - steps.busy_s_by_replica.get(r, 0.0) for r in range(replicas))
    energy = steps.energy_j + idle_w(tdp_w) * devices_per_replica * max(0.0, idle_s)
    return {
        "energy_j": energy,
        "mean_power_w": energy / span,
        "output_tokens_per_j": float(table["output_tokens"].sum()) / energy if energy else None,
    }


def _overloaded(table: pd.DataFrame, arrival: str) -> bool:
    """Open-loop traffic the system cannot keep up with: queueing delay grows through the run."""
    if arrival in ("offline", "closed_loop") or len(table) < 20:
        return False
    ttft_s = table["ttft_s"].to_numpy()[table["arrival_s"].argsort().to_numpy()]  # in arrival order
    tenth = max(2, len(ttft_s) // 10)
    early = float(np.median(ttft_s[:tenth]))
    late = float(np.median(ttft_s[-tenth:]))
    return bool(late > 5 * early and late > 1.0)


def seconds_of(value: float | None) -> str:
    """A duration as people read it: milliseconds below a second."""
    return "-" if value is None else (f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s")


def format_summary(summary: dict) -> str:
    def seconds(key: str) -> str:
        return seconds_of(summary.get(key))

    lines = [
        f"requests            {summary['requests']} in {summary['duration_s']:.2f} s "
        f"({summary['requests_per_s']:.2f} req/s)",
        f"throughput          {summary['output_tokens_per_s']:,.0f} output tokens/s, "
        f"{summary['input_tokens_per_s']:,.0f} input tokens/s, {summary['total_tokens_per_s']:,.0f} total "
        f"(over the run, drain included)",
    ]
    if "capacity_requests_per_s" in summary:
        lines.append(f"capacity            {summary['capacity_requests_per_s']:.3f} requests/s under the SLOs "
                     f"(p{summary['capacity_percentile']}, within {summary['capacity_tolerance']:.0%}), "
                     f"{summary['capacity_output_tokens_per_s']:,.0f} output tokens/s at that rate")
    for name in ("ttft", "tpot", "e2e"):
        lines.append(f"{name.upper():<19} mean {seconds(f'{name}_mean_s')}, p50 {seconds(f'{name}_p50_s')}, "
                     f"p90 {seconds(f'{name}_p90_s')}, p99 {seconds(f'{name}_p99_s')}")
    lines.append(f"ITL                 mean {seconds('itl_mean_s')}")
    parts = summary["ttft_parts_mean_s"]
    lines.append("TTFT goes to        " + ", ".join(f"{name} {seconds_of(value)}" for name, value in parts.items()
                                                   if value > 0.0005 * (summary["ttft_mean_s"] or 0.0)))
    lines.append(f"SLO attainment      {summary['slo_attainment']:.1%} "
                 f"(goodput {summary['goodput_requests_per_s']:.2f} req/s)")
    lines.append(f"KV cache            mean {summary['kv_utilization_mean']:.1%}, "
                 f"max {summary['kv_utilization_max']:.1%} of blocks; mean decode batch {summary['mean_batch']:.1f}")
    if "prefix_cache_hit_rate" in summary:
        lines.append(f"prefix cache        {summary['prefix_cache_hit_rate']:.1%} of prompt tokens from the cache "
                     f"({summary['prefix_cache_hit_tokens']:,} tokens), {summary['prefix_cache_evictions']:,} "
                     f"blocks evicted")
    lines.append(f"preemptions         {summary['preemptions']} ({summary['swaps']} swaps, "
                 f"{summary['swap_bytes'] / 1e9:.2f} GB swapped)")
    lines.append(f"energy              {summary['energy_j'] / 3.6e6:.3f} kWh, mean {summary['mean_power_w']:,.0f} W, "
                 f"{summary['output_tokens_per_j']:.2f} output tokens/J")
    if "usd_per_1m_output_tokens" in summary:
        lines.append(f"cost                ${summary['usd_per_1m_output_tokens']:.3f} per 1M output tokens, "
                     f"${summary['usd_per_1m_total_tokens']:.3f} per 1M total tokens "
                     f"(${summary['usd_per_hour']:.2f}/h; {summary['pricing']})")
    else:
        lines.append(f"cost                {summary.get('cost_note', 'not priced')}")
    if "interval_coverage" in summary:
        lines.append(format_intervals(summary))
    if "benchmark" in summary:
        lines.extend(format_benchmark(summary["benchmark"]))
    if summary["overloaded"]:
        lines.append("OVERLOADED          queueing delay grew through the run: arrivals exceed what this "
                     "configuration serves")
    return "\n".join(lines)


def format_benchmark(benchmark: dict) -> list[str]:
    """The benchmark tool's own figures, under its own names and units."""
    lines = [f"benchmark           as {benchmark['tool']} reports it: {benchmark['requests']} requests "
             f"({benchmark['requests_from']}); warm-up: {benchmark['warmup']}"]
    figures = benchmark["metrics"]
    for key, value in figures.items():
        if isinstance(value, dict):  # genai-perf: a metric object
            stats = ", ".join(f"{k} {v:,.2f}" for k, v in value.items() if k in ("avg", "p50", "p99"))
            lines.append(f"  {key:<24} {stats} {value['unit']}")
        elif key.startswith(("mean_", "median_", "p99_")) or key.endswith("throughput"):
            lines.append(f"  {key:<24} {value:,.2f}")
    return lines


def format_intervals(summary: dict) -> str:
    """The 90% intervals of the headline figures, and the regime whose errors gave them."""
    def seconds(key: str) -> str:
        return f"{seconds_of(summary[key + '_low'])}-{seconds_of(summary[key + '_high'])}"

    regimes = summary["interval_regimes"]
    parts = []
    if "output_tokens_per_s_low" in summary:
        parts.append(f"throughput {summary['output_tokens_per_s_low']:,.0f}-{summary['output_tokens_per_s_high']:,.0f}"
                     f" output tokens/s [{regimes['output_tokens_per_s']}]")
    parts += [f"{name} mean {seconds(key)} [{regimes[key]}]" for name, key in (("TTFT", "ttft_mean_s"),
                                                                               ("TPOT", "tpot_mean_s"))
              if f"{key}_low" in summary]
    if "usd_per_1m_output_tokens_low" in summary:
        low, high = summary["usd_per_1m_output_tokens_low"], summary["usd_per_1m_output_tokens_high"]
        parts.append(f"cost ${low:.3f}-${high:.3f} per 1M output tokens [as throughput]")
    return f"{summary['interval_coverage']:.0%} intervals      " + "; ".join(parts)
