"""A simulated run's metrics as a benchmark tool would report them: its names, units and definitions.

The tools differ in what they call inter-token latency: `vllm bench serve` pools every gap between
streamed chunks of every request (its TPOT is the per-request mean), while genai-perf's
`inter_token_latency` is each request's (latency - TTFT) / (output tokens - 1), summarized over
requests. Both time TTFT from when the request is sent, so it includes queueing in the engine; both
divide output tokens by the span from the first request sent to the last response. hwsim streams one
token per chunk and keeps no per-token times, so the percentiles of vLLM's pooled ITL are not given.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hwsim.specs.benchmark import Benchmark

GENAI_PERF_STATISTICS = ("avg", "p50", "p90", "p99", "min", "max", "std")


def report(table: pd.DataFrame, benchmark: Benchmark) -> dict:
    """The tool's own summary of the measured requests in `table` (one row per request with
    arrival_s, completion_s, output_tokens and the per-request ttft_s, tpot_s and e2e_s)."""
    return REPORTS[benchmark.tool](table)


def _span_s(table: pd.DataFrame) -> float:
    """From the first request sent to the last response: the window both tools divide by."""
    return float(table["completion_s"].max() - table["arrival_s"].min())


def _vllm(table: pd.DataFrame) -> dict:
    """`vllm bench serve --save-result` keys: milliseconds for latencies, seconds for duration."""
    span = _span_s(table)
    out: dict = {
        "completed": len(table),
        "duration": span,
        "total_input_tokens": int(table["prompt_tokens"].sum()),
        "total_output_tokens": int(table["output_tokens"].sum()),
        "request_throughput": len(table) / span,
        "output_throughput": float(table["output_tokens"].sum()) / span,
        "total_token_throughput": float(table["prompt_tokens"].sum() + table["output_tokens"].sum()) / span,
    }
    for name, column in (("ttft", "ttft_s"), ("tpot", "tpot_s"), ("e2el", "e2e_s")):
        values_ms = table[column].dropna().to_numpy() * 1e3  # TPOT: only requests with more than one token
        if len(values_ms):
            out.update({f"mean_{name}_ms": float(values_ms.mean()),
                        f"median_{name}_ms": float(np.median(values_ms)),
                        f"std_{name}_ms": float(values_ms.std()),
                        f"p99_{name}_ms": float(np.percentile(values_ms, 99))})
        if name == "tpot":
            gaps = (table["output_tokens"] - 1).clip(lower=0).sum()
            if gaps:  # every gap of every request, pooled: decode time over gaps
                out["mean_itl_ms"] = float((table["completion_s"] - table["first_token_s"]).sum() / gaps * 1e3)
    return out


def _statistics(values: np.ndarray, unit: str) -> dict:
    """genai-perf's statistics of one per-request metric (linear percentiles, population std)."""
    stats: dict[str, str | float] = {"unit": unit}
    if not len(values):
        return stats
    for key in GENAI_PERF_STATISTICS:
        if key == "avg":
            stats[key] = float(values.mean())
        elif key == "std":
            stats[key] = float(values.std())
        elif key in ("min", "max"):
            stats[key] = float(getattr(values, key)())
        else:
            stats[key] = float(np.percentile(values, int(key[1:])))
    return stats


def _genai_perf(table: pd.DataFrame) -> dict:
    """`profile_export_genai_perf.json` metric objects: milliseconds, and throughputs with only avg."""
    span = _span_s(table)
    return {
        "request_throughput": {"unit": "requests/sec", "avg": len(table) / span},
        "request_latency": _statistics(table["e2e_s"].to_numpy() * 1e3, "ms"),
        "request_count": {"unit": "count", "avg": float(len(table))},
        "time_to_first_token": _statistics(table["ttft_s"].to_numpy() * 1e3, "ms"),
        "inter_token_latency": _statistics(table["tpot_s"].dropna().to_numpy() * 1e3, "ms"),
        "output_token_throughput": {"unit": "tokens/sec", "avg": float(table["output_tokens"].sum()) / span},
        "output_sequence_length": _statistics(table["output_tokens"].to_numpy(dtype=float), "tokens"),
        "input_sequence_length": _statistics(table["prompt_tokens"].to_numpy(dtype=float), "tokens"),
    }


REPORTS = {"vllm-bench-serve": _vllm, "genai-perf": _genai_perf}
