"""Traffic: when requests arrive and how long their prompts and outputs are.

A `Workload` is read from YAML (`workloads/*.yaml` ships presets) and turned into a table of
requests by `requests()`, deterministically for a given seed. Closed-loop workloads leave
arrival times to the simulator (a new request starts when one finishes), so their `arrival_s`
column is NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hwsim.base.errors import HwsimError

ARRIVALS = ("poisson", "gamma", "closed_loop", "offline", "trace")
LENGTHS = ("fixed", "uniform", "lognormal", "empirical")
TRACE_COLUMNS = ("timestamp_s", "prompt_tokens", "output_tokens")


@dataclass(frozen=True)
class Lengths:
    """A distribution of token counts (prompt or output) of one of the kinds `LENGTHS`."""

    kind: str
    value: int = 0  # fixed
    low: int = 0  # uniform, and the floor of lognormal
    high: int = 0  # uniform, and the ceiling of lognormal
    median: float = 0.0  # lognormal
    sigma: float = 0.0  # lognormal: standard deviation of log(length)
    values: tuple[int, ...] = ()  # empirical: lengths sampled with replacement

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """`count` lengths drawn from `rng`; the same generator state gives the same lengths."""
        if self.kind == "fixed":
            return np.full(count, self.value, dtype=np.int64)
        if self.kind == "uniform":
            return rng.integers(self.low, self.high + 1, size=count)
        if self.kind == "lognormal":
            drawn = rng.lognormal(np.log(self.median), self.sigma, size=count)
            return np.clip(np.rint(drawn), self.low, self.high).astype(np.int64)
        return rng.choice(np.asarray(self.values, dtype=np.int64), size=count)


@dataclass(frozen=True)
class Workload:
    """Arrivals of one of the kinds `ARRIVALS` and the lengths of each request, or a recorded trace."""

    name: str
    arrival: str
    rate_per_s: float = 0.0  # poisson, gamma
    cv: float = 1.0  # gamma: coefficient of variation of inter-arrival gaps (1 = Poisson)
    concurrency: int = 0  # closed_loop
    prompt: Lengths = Lengths("fixed", 128)
    output: Lengths = Lengths("fixed", 128)
    count: int = 0  # number of requests (0 with a duration)
    duration_s: float = 0.0  # open-loop arrivals until this time
    seed: int = 0
    trace: pd.DataFrame | None = None
    description: str = ""

    def __post_init__(self):
        if self.arrival not in ARRIVALS:
            raise HwsimError(f"workload {self.name}: arrival {self.arrival!r} is not one of {', '.join(ARRIVALS)}")
        if self.arrival in ("poisson", "gamma") and not self.rate_per_s > 0:
            raise HwsimError(f"workload {self.name}: arrival rate must be greater than zero; got {self.rate_per_s:g}")
        if self.arrival == "closed_loop" and self.concurrency < 1:
            raise HwsimError(f"workload {self.name}: closed_loop concurrency must be at least 1")

    def requests(self) -> pd.DataFrame:
        """Columns: request (id), arrival_s, prompt_tokens, output_tokens."""
        if self.trace is not None:
            frame = self.trace.rename(columns={"timestamp_s": "arrival_s"})
            frame = frame.assign(arrival_s=frame["arrival_s"] - frame["arrival_s"].min())
            return frame.reset_index(drop=True).rename_axis("request").reset_index()
        rng = np.random.default_rng(self.seed)
        arrivals = self._arrivals(rng)
        count = len(arrivals)
        return pd.DataFrame({
            "request": np.arange(count),
            "arrival_s": arrivals,
            "prompt_tokens": self.prompt.sample(rng, count),
            "output_tokens": self.output.sample(rng, count),
        })

    def _arrivals(self, rng: np.random.Generator) -> np.ndarray:
        """Arrival times from 0: all at once (offline), NaN (closed loop), or gamma-distributed gaps."""
        if self.arrival == "offline":
            return np.zeros(self.count)
        if self.arrival == "closed_loop":
            return np.full(self.count, np.nan)
        mean_gap = 1.0 / self.rate_per_s
        if self.arrival == "poisson":
            shape = 1.0
        else:  # gamma gaps with the given coefficient of variation: shape = 1 / cv^2
            shape = 1.0 / self.cv**2
        if self.count:
            gaps = rng.gamma(shape, mean_gap / shape, size=self.count)
            return np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        times, now = [], 0.0
        while now < self.duration_s:
            times.append(now)
            now += rng.gamma(shape, mean_gap / shape)
        return np.asarray(times)
