"""How a benchmark client drives a server and what it reports: the tools whose runs hwsim reproduces.

A workload's `benchmark:` block names a tool. The tool decides how many requests a run sends when
the workload does not say (its own default), whether warm-up requests overlap the measured ones,
and how its metrics are defined; `hwsim.serving.bench_metrics` computes them as the tool would.
The defaults and definitions below are read from each tool's source code (cited per entry).
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base.errors import HwsimError


@dataclass(frozen=True)
class Tool:
    """One benchmark client: its default request count and how its warm-up relates to the run."""

    id: str
    name: str
    # requests sent when the command line does not say: a fixed number, or a floor and a multiple of
    # the concurrency (None: the tool has no default for this kind of load)
    default_requests: int | None
    requests_per_concurrency: int = 0
    # warm-up requests finish before the timed run starts (True), or run as the first requests of
    # the same load and are left out of the metrics (False)
    warmup_before_run: bool = True
    source: str = ""

    def requests_for(self, concurrency: int | None) -> int | None:
        """The tool's default request count at `concurrency` (None: open-loop arrivals at a rate),
        or None where the tool's default is not known for that load."""
        if self.default_requests is None or (concurrency is None and self.requests_per_concurrency):
            return None
        return max(self.default_requests, self.requests_per_concurrency * (concurrency or 0))


TOOLS: dict[str, Tool] = {
    "vllm-bench-serve": Tool(
        "vllm-bench-serve", "vllm bench serve", default_requests=1000, warmup_before_run=True,
        source="vllm/benchmarks/serve.py (vLLM main, commit 009e6d4a): --num-prompts defaults to 1000; "
               "--num-warmups requests are sent and awaited before benchmark_start_time, outside the metrics"),
    "genai-perf": Tool(
        "genai-perf", "genai-perf", default_requests=10, requests_per_concurrency=2, warmup_before_run=False,
        source="triton-inference-server/perf_analyzer genai-perf 0.0.16 (commit 263c5f6e): "
               "perf_analyzer_config.py _calculate_request_count, max(10, 2 x concurrency) when --request-count "
               "is not given; warm-up requests go through the same concurrency manager ahead of the measured "
               "window (whether they overlap it is not documented; hwsim runs them as the first requests)"),
}


MEASUREMENTS = ("count", "steady")
# a steady-state measurement as NVIDIA's own serving benchmark scripts run an AIPerf (genai-perf)
# concurrency sweep: ten requests per user measured after two per user of warm-up under the same load
# (ai-dynamo/dynamo benchmarks/llm/perf.sh, commit 3324b28a: `--request-count $(($concurrency*10))
# --warmup-request-count $(($concurrency*2))`)
STEADY_REQUESTS_PER_USER = 10
STEADY_WARMUP_PER_USER = 2


@dataclass(frozen=True)
class Benchmark:
    """A workload run as `tool` runs it, with `warmup_requests` left out of its metrics.

    `measurement` is how the run is measured: `count`, the requests the tool sends from an idle
    engine (all users starting at once), or `steady`, the engine already loaded, as a time-window
    measurement after a warm-up run sees it (genai-perf's `--measurement-interval`): requests and
    warm-up then default to `STEADY_REQUESTS_PER_USER` and `STEADY_WARMUP_PER_USER` per user."""

    tool: str
    warmup_requests: int = 0
    measurement: str = "count"

    def __post_init__(self) -> None:
        if self.tool not in TOOLS:
            raise HwsimError(f"benchmark tool {self.tool!r} is not one of {', '.join(TOOLS)}")
        if self.warmup_requests < 0:
            raise HwsimError(f"benchmark warmup_requests must not be negative; got {self.warmup_requests}")
        if self.measurement not in MEASUREMENTS:
            raise HwsimError(f"benchmark measurement {self.measurement!r} is not one of {', '.join(MEASUREMENTS)}")

    @property
    def spec(self) -> Tool:
        return TOOLS[self.tool]

    @property
    def simulated_warmup(self) -> int:
        """Warm-up requests hwsim runs ahead of the measured ones: those that share the measured run's
        load (all of them in a steady-state measurement). A tool that finishes its warm-up before the
        timed run leaves an idle engine, which is where a simulation starts anyway."""
        if self.measurement == "steady":
            return self.warmup_requests
        return 0 if self.spec.warmup_before_run else self.warmup_requests

    def steady(self, concurrency: int) -> Benchmark:
        """This benchmark measured in steady state at `concurrency` users: its warm-up, when it has
        none, is `STEADY_WARMUP_PER_USER` per user."""
        warmup = self.warmup_requests or STEADY_WARMUP_PER_USER * concurrency
        return Benchmark(self.tool, warmup, "steady")

    def requests_for(self, concurrency: int | None) -> int | None:
        """The requests measured when the run does not say: the tool's default, or in steady state
        `STEADY_REQUESTS_PER_USER` per user (closed loop only)."""
        if self.measurement == "steady":
            return STEADY_REQUESTS_PER_USER * concurrency if concurrency else None
        return self.spec.requests_for(concurrency)
