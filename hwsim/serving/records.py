"""What a run keeps of its requests and its steps.

A finished request leaves one row of numbers (its `Seq` object is not kept), gathered in chunks of
float columns, so a run of a million requests holds a few hundred bytes per request. A step leaves
its contribution to `StepTotals`, the sums the run's summary needs, and a row of the step table
only when the caller asks for the table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from hwsim.serving.engine import Seq

# where a request's time went; with `api_s` and `stalled_s` they sum to its end-to-end latency, and the
# `ttft_` ones (with `api_s`) to its time to first token
LATENCY_PARTS = ("queue_s", "prefill_s", "decode_s", "host_s", "preempted_s")
TTFT_PARTS = ("ttft_queue_s", "ttft_prefill_s", "ttft_host_s", "ttft_preempted_s")
REQUEST_COLUMNS = ("request", "replica", "arrival_s", "first_token_s", "completion_s", "prompt_tokens",
                   "output_tokens", "preemptions", "swaps", "cached_tokens", "api_s", *LATENCY_PARTS, *TTFT_PARTS)
COUNT_COLUMNS = ("request", "replica", "prompt_tokens", "output_tokens", "preemptions", "swaps", "cached_tokens")
STEP_COLUMNS = ("replica", "start_s", "end_s", "steps", "decode_seqs", "prefill_tokens", "running", "waiting",
                "kv_blocks_used", "kv_blocks_peak", "in_system_start", "in_system_end", "kv_blocks_total",
                "transfer_s", "energy_j", "kv_blocks_cached")
CHUNK_ROWS = 8192  # rows gathered as Python tuples before they become one block of floats


class RequestLog:
    """The records of finished requests, in the order they finished."""

    def __init__(self) -> None:
        self._rows: list[tuple] = []
        self._chunks: list[np.ndarray] = []
        self.count = 0

    def add(self, seq: Seq) -> None:
        """`seq` has finished: keep its numbers."""
        assert seq.submitted_s is not None and seq.ttft_parts is not None  # it ran and had a first token
        self._rows.append((seq.request, seq.replica, seq.arrival_s, seq.first_token_s, seq.completion_s, seq.prompt,
                           seq.output, seq.preemptions, seq.swaps, seq.cached_tokens, seq.submitted_s - seq.arrival_s,
                           seq.queue_s, seq.prefill_s, seq.decode_s, seq.host_s, seq.preempted_s, *seq.ttft_parts))
        self.count += 1
        if len(self._rows) == CHUNK_ROWS:
            self._chunks.append(np.array(self._rows, dtype=float))
            self._rows = []

    def frame(self) -> pd.DataFrame:
        """One row per request in request order: its times, tokens and preemptions, and its latency
        taken apart. Stalled is the rest: running but left out of a step (a prefill-first step, a
        spent token budget) or its KV on the way between a prefill and a decode replica."""
        if self._rows:
            self._chunks.append(np.array(self._rows, dtype=float))
            self._rows = []
        blocks = self._chunks or [np.empty((0, len(REQUEST_COLUMNS)))]
        order = np.argsort(np.concatenate([block[:, 0] for block in blocks]), kind="stable")
        columns = {}
        for i, name in enumerate(REQUEST_COLUMNS):  # a column at a time: its records are held once more, not twice
            column = np.concatenate([block[:, i] for block in blocks])[order]
            columns[name] = column.astype(np.int64) if name in COUNT_COLUMNS else column
        frame = pd.DataFrame(columns, copy=False)
        accounted = frame["api_s"] + frame[list(LATENCY_PARTS)].sum(axis=1)
        frame["stalled_s"] = ((frame["completion_s"] - frame["arrival_s"]) - accounted).clip(lower=0.0)
        ttft_accounted = frame["api_s"] + frame[list(TTFT_PARTS)].sum(axis=1)
        frame["ttft_stalled_s"] = ((frame["first_token_s"] - frame["arrival_s"]) - ttft_accounted).clip(lower=0.0)
        return frame


@dataclass
class StepTotals:
    """What a run's summary needs of its steps, summed as they end: time busy (per replica), KV
    blocks in use weighted by it, the peak share of blocks in use, decode sequences x steps, steps
    and energy. Totals of parts of a fleet add up to the fleet's."""

    busy_s_by_replica: dict[int, float] = field(default_factory=dict)
    busy_s: float = 0.0
    kv_share_s: float = 0.0  # share of blocks in use x time
    kv_peak_share: float = 0.0
    decode_seq_steps: int = 0
    steps: int = 0
    energy_j: float = 0.0
    records: int = 0  # scheduling decisions (rows of the step table)

    def add(self, replica: int, start_s: float, end_s: float, steps: int, decode_seqs: int, kv_blocks_used: float,
            kv_blocks_peak: float, kv_blocks_total: int, energy_j: float) -> None:
        busy_s = end_s - start_s
        self.busy_s_by_replica[replica] = self.busy_s_by_replica.get(replica, 0.0) + busy_s
        self.busy_s += busy_s
        self.kv_share_s += kv_blocks_used / kv_blocks_total * busy_s
        self.kv_peak_share = max(self.kv_peak_share, kv_blocks_peak / kv_blocks_total)
        self.decode_seq_steps += decode_seqs * steps
        self.steps += steps
        self.energy_j += energy_j
        self.records += 1

    def __add__(self, other: StepTotals) -> StepTotals:
        by_replica = dict(self.busy_s_by_replica)
        for replica, busy_s in other.busy_s_by_replica.items():
            by_replica[replica] = by_replica.get(replica, 0.0) + busy_s
        return StepTotals(by_replica, self.busy_s + other.busy_s, self.kv_share_s + other.kv_share_s,
                          max(self.kv_peak_share, other.kv_peak_share), self.decode_seq_steps + other.decode_seq_steps,
                          self.steps + other.steps, self.energy_j + other.energy_j, self.records + other.records)

    def renumbered(self, first_replica: int) -> StepTotals:
        """These totals with replica i counted as replica first_replica + i (a shard of a fleet)."""
        by_replica = {first_replica + r: busy_s for r, busy_s in self.busy_s_by_replica.items()}
        return StepTotals(by_replica, self.busy_s, self.kv_share_s, self.kv_peak_share, self.decode_seq_steps,
                          self.steps, self.energy_j, self.records)

    @classmethod
    def of(cls, steps: pd.DataFrame) -> StepTotals:
        """The totals of a step table's rows."""
        totals = cls()
        names = ("replica", "start_s", "end_s", "steps", "decode_seqs", "kv_blocks_used", "kv_blocks_peak",
                 "kv_blocks_total", "energy_j")
        for values in zip(*(steps[name].tolist() for name in names), strict=True):
            totals.add(*values)
        return totals


class StepLog:
    """A replica's steps: their totals, and their rows when the step table is wanted."""

    def __init__(self, keep_rows: bool):
        self.totals = StepTotals()
        self.rows: list[tuple] | None = [] if keep_rows else None

    def add(self, row: tuple) -> None:
        """One scheduling decision, its values in the order of `STEP_COLUMNS`."""
        replica, start_s, end_s, steps, decode_seqs, _, _, _, used, peak, _, _, total, _, energy_j, _ = row
        self.totals.add(replica, start_s, end_s, steps, decode_seqs, used, peak, total, energy_j)
        if self.rows is not None:
            self.rows.append(row)


def step_frame(logs: list[StepLog]) -> pd.DataFrame | None:
    """The step table of every replica in time order (None when the rows were not kept)."""
    if any(log.rows is None for log in logs):
        return None
    rows = [row for log in logs for row in log.rows or ()]
    return pd.DataFrame.from_records(rows, columns=STEP_COLUMNS).sort_values(["start_s", "replica"],
                                                                              ignore_index=True)
