"""Traffic: when requests arrive and how long their prompts and outputs are.

A `Workload` is read from YAML (`workloads/*.yaml` ships presets) and turned into a table of
requests by `requests()`, deterministically for a given seed. Closed-loop workloads leave
arrival times to the simulator (a new request starts when one finishes), so their `arrival_s`
column is NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hwsim.base.errors import HwsimError, brief
from hwsim.specs.benchmark import Benchmark

ARRIVALS = ("poisson", "gamma", "closed_loop", "offline", "trace")
LENGTHS = ("fixed", "uniform", "lognormal", "empirical")
TRACE_COLUMNS = ("timestamp_s", "prompt_tokens", "output_tokens")
# Model-independent bounds on a workload. The simulator steps through every request at about ten
# thousand requests a second on one core and keeps a few hundred bytes of each (without the step
# table), so ten million take a quarter of an hour and a few GB; no model reads ten million tokens
# in one request.
MAX_REQUESTS = 10_000_000
MAX_TOKENS_PER_REQUEST = 10_000_000
MAX_SIGMA = 10.0  # lognormal spread of log(length): beyond it every draw is clipped to min or max
MAX_CV = 100.0  # gamma burstiness: beyond it the gaps underflow to zero
MAX_ZIPF = 10.0  # prefix popularity: beyond it every prompt takes the first prefix


def check_tokens(what: str, tokens: object) -> None:
    """A token count of one request: a whole number from 1 to `MAX_TOKENS_PER_REQUEST`."""
    if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)):
        raise HwsimError(f"{what} must be a whole number of tokens; got {brief(tokens)}")
    if not 1 <= tokens <= MAX_TOKENS_PER_REQUEST:
        raise HwsimError(f"{what} must be between 1 and {MAX_TOKENS_PER_REQUEST:,} tokens; got {tokens}")


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

    def __post_init__(self) -> None:
        """Refuse a distribution that cannot be drawn from, or draws lengths no request has."""
        if self.kind not in LENGTHS:
            raise HwsimError(f"lengths kind {self.kind!r} is not one of {', '.join(LENGTHS)}")
        if self.kind == "fixed":
            check_tokens("a fixed length", self.value)
        elif self.kind == "empirical":
            if not self.values:
                raise HwsimError("empirical lengths need at least one value")
            for value in self.values:
                check_tokens("an empirical length", value)
        else:
            self._check_range()
        if self.kind == "lognormal":
            self._check_lognormal()

    def _check_range(self) -> None:
        check_tokens(f"{self.kind} low", self.low)
        check_tokens(f"{self.kind} high", self.high)
        if self.high < self.low:
            raise HwsimError(f"{self.kind} high must be at least low ({self.low}); got {self.high}")

    def _check_lognormal(self) -> None:
        if not (math.isfinite(self.median) and self.low <= self.median <= self.high):
            raise HwsimError(f"lognormal median must be between low ({self.low}) and high ({self.high}); "
                             f"got {self.median}")
        if not (math.isfinite(self.sigma) and 0 <= self.sigma <= MAX_SIGMA):
            raise HwsimError(f"lognormal sigma must be between 0 and {MAX_SIGMA:g}; got {self.sigma}")

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
class Prefix:
    """Prompts that start with one of `groups` shared prefixes of `tokens` tokens each, followed by a
    suffix of their own; a prompt's group is drawn uniformly, or by a Zipf law of exponent `zipf`
    (group k, from 1, with weight k^-zipf) when `zipf` is above zero."""

    tokens: int
    groups: int
    zipf: float = 0.0

    def __post_init__(self) -> None:
        check_tokens("a shared prefix", self.tokens)
        if isinstance(self.groups, bool) or not isinstance(self.groups, (int, np.integer)) or self.groups < 1:
            raise HwsimError(f"prefix groups must be a whole number of at least 1; got {brief(self.groups)}")
        if not (math.isfinite(self.zipf) and 0 <= self.zipf <= MAX_ZIPF):
            raise HwsimError(f"prefix zipf must be between 0 and {MAX_ZIPF:g}; got {self.zipf}")

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """The group of each of `count` prompts, 0 to groups - 1."""
        if not self.zipf:
            return rng.integers(0, self.groups, size=count)
        weights = np.arange(1, self.groups + 1, dtype=float) ** -self.zipf
        return rng.choice(self.groups, size=count, p=weights / weights.sum())


@dataclass(frozen=True)
class Sessions:
    """Multi-turn conversations: each arrival starts a session of `turns` turns (a distribution of
    whole numbers); a turn's prompt is the whole conversation so far plus a new user message drawn
    from the workload's prompt_tokens, and it is sent `think_time_s` after the previous answer ends."""

    turns: Lengths
    think_time_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.think_time_s) and self.think_time_s >= 0):
            raise HwsimError(f"sessions think_time must be zero or more seconds; got {self.think_time_s}")


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
    benchmark: Benchmark | None = None  # the client whose run this reproduces: its defaults and metrics
    count_source: str = ""  # where `count` came from when the workload did not give it
    trace_summary: str = ""  # what the trace looked like on load (requests, rate, lengths, rows left out)
    prefix: Prefix | None = None  # prompts that share prefixes (their `prompt` lengths are the suffixes)
    sessions: Sessions | None = None  # multi-turn conversations (arrivals start sessions)

    def __post_init__(self):
        if self.arrival not in ARRIVALS:
            raise HwsimError(f"workload {self.name}: arrival {self.arrival!r} is not one of {', '.join(ARRIVALS)}")
        if self.arrival in ("poisson", "gamma") and not self.rate_per_s > 0:
            raise HwsimError(f"workload {self.name}: arrival rate must be greater than zero; got {self.rate_per_s:g}")
        if self.arrival == "closed_loop" and self.concurrency < 1:
            raise HwsimError(f"workload {self.name}: closed_loop concurrency must be at least 1")
        self._check_sizes()
        if self.arrival == "closed_loop" and self.count and self.concurrency > self.count:
            raise HwsimError(f"workload {self.name}: closed_loop concurrency {self.concurrency} is above the "
                             f"{self.count} requests sent; at most {self.count} can be in flight")

    def _check_sizes(self) -> None:
        """Refuse a workload too large to simulate, or whose numbers are not finite."""
        used = ("rate_per_s", "cv", "duration_s") if self.arrival in ("poisson", "gamma") else ()
        for name in used:  # an offline run may say its rate is infinite: all at once
            if not math.isfinite(getattr(self, name)):
                raise HwsimError(f"workload {self.name}: {name} must be finite; got {getattr(self, name)}")
        if self.arrival == "gamma" and not 0 < self.cv <= MAX_CV:
            raise HwsimError(f"workload {self.name}: gamma cv must be in (0, {MAX_CV:g}]; got {self.cv:g}")
        if self.count > MAX_REQUESTS or self.concurrency > MAX_REQUESTS:
            raise HwsimError(f"workload {self.name}: at most {MAX_REQUESTS:,} requests can be simulated; "
                             f"got {max(self.count, self.concurrency):,}")
        if self.count < 0 or self.duration_s < 0:
            raise HwsimError(f"workload {self.name}: requests and duration must not be negative")
        if not self.count and self.arrival in ("poisson", "gamma") and self.duration_s * self.rate_per_s > MAX_REQUESTS:
            raise HwsimError(f"workload {self.name}: a duration of {self.duration_s:g} s at {self.rate_per_s:g} "
                             f"requests/s is about {self.duration_s * self.rate_per_s:,.0f} requests; at most "
                             f"{MAX_REQUESTS:,} can be simulated")
        if self.trace is not None and len(self.trace) > MAX_REQUESTS:
            raise HwsimError(f"workload {self.name}: the trace has {len(self.trace):,} requests; at most "
                             f"{MAX_REQUESTS:,} can be simulated")

    @property
    def warmup(self) -> int:
        """Requests run ahead of the measured ones (ids 0 .. warmup-1), left out of the metrics."""
        return self.benchmark.simulated_warmup if self.benchmark else 0

    def requests(self) -> pd.DataFrame:
        """Columns: request (id), arrival_s, prompt_tokens, output_tokens; the first `warmup` are
        the benchmark's warm-up requests."""
        if self.trace is not None:
            frame = self.trace[list(TRACE_COLUMNS)].rename(columns={"timestamp_s": "arrival_s"})
            frame = frame.assign(arrival_s=frame["arrival_s"] - frame["arrival_s"].min())
            if "hash_ids" in self.trace.columns:  # a Mooncake trace: one id per 512-token block
                frame["segments"] = [_hashed_segments(ids, tokens, i) for i, (ids, tokens) in
                                     enumerate(zip(self.trace["hash_ids"], frame["prompt_tokens"], strict=True))]
            return frame.reset_index(drop=True).rename_axis("request").reset_index()
        rng = np.random.default_rng(self.seed)
        arrivals = self._arrivals(rng)
        count = len(arrivals)
        frame = pd.DataFrame({
            "request": np.arange(count),
            "arrival_s": arrivals,
            "prompt_tokens": self.prompt.sample(rng, count),
            "output_tokens": self.output.sample(rng, count),
        })
        if self.sessions is not None:
            return self._turns(rng, frame)
        if self.prefix is not None:  # drawn last, so the arrivals and lengths are those without it
            groups = self.prefix.draw(rng, count)
            suffixes = frame["prompt_tokens"].to_numpy()
            frame["prompt_tokens"] = suffixes + self.prefix.tokens
            frame["segments"] = [((("prefix", int(g)), self.prefix.tokens), (("suffix", i), int(n)))
                                 for i, (g, n) in enumerate(zip(groups, suffixes, strict=True))]
        return frame

    def _turns(self, rng: np.random.Generator, starts: pd.DataFrame) -> pd.DataFrame:
        """Every turn of every session, in session order: a turn's prompt is the conversation so far
        (every earlier message and answer) and its own message; only a session's first turn has an
        arrival time, the others follow their previous answer. A message and an answer are segments
        of their own, so a turn finds the conversation so far in the prefix cache."""
        assert self.sessions is not None
        turns = self.sessions.turns.sample(rng, len(starts))
        rows = []
        for session, (arrival, count) in enumerate(zip(starts["arrival_s"], turns, strict=True)):
            messages = self.prompt.sample(rng, int(count))
            answers = self.output.sample(rng, int(count))
            history: list = []
            for turn in range(int(count)):
                segments = (*history, (("message", session, turn), int(messages[turn])))
                rows.append({"arrival_s": float(arrival) if turn == 0 else math.nan,
                             "prompt_tokens": sum(tokens for _, tokens in segments),
                             "output_tokens": int(answers[turn]), "segments": segments,
                             "output_segment": ("answer", session, turn), "session": session, "turn": turn})
                history = [*segments, (("answer", session, turn), int(answers[turn]))]
        frame = pd.DataFrame(rows)
        return frame.rename_axis("request").reset_index()

    def _arrivals(self, rng: np.random.Generator) -> np.ndarray:
        """Arrival times from 0: all at once (offline), NaN (closed loop), or gamma-distributed gaps."""
        count = self.count + self.warmup
        if self.arrival == "offline":
            return np.zeros(count)
        if self.arrival == "closed_loop":
            return np.full(count, np.nan)
        mean_gap = 1.0 / self.rate_per_s
        if self.arrival == "poisson":
            shape = 1.0
        else:  # gamma gaps with the given coefficient of variation: shape = 1 / cv^2
            shape = 1.0 / self.cv**2
        if self.count:
            gaps = rng.gamma(shape, mean_gap / shape, size=count)
            return np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        times, now = [], 0.0
        while now < self.duration_s:
            times.append(now)
            now += rng.gamma(shape, mean_gap / shape)
        return np.asarray(times)


MOONCAKE_BLOCK_TOKENS = 512  # Mooncake's traces give one hash id per 512 prompt tokens


def _hashed_segments(hash_ids: object, prompt_tokens: int, request: int) -> tuple:
    """A Mooncake prompt as segments: one per hash id (512 tokens, the last one what is left)."""
    ids = list(hash_ids) if isinstance(hash_ids, (list, tuple)) else []
    segments = []
    for index, block in enumerate(ids):
        tokens = min(MOONCAKE_BLOCK_TOKENS, prompt_tokens - index * MOONCAKE_BLOCK_TOKENS)
        if tokens <= 0:
            break
        segments.append((("block", block), tokens))
    covered = sum(tokens for _, tokens in segments)
    if covered < prompt_tokens:  # tokens no hash id names: a segment of this prompt's own
        segments.append((("rest", request), prompt_tokens - covered))
    return tuple(segments)
