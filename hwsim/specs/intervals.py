"""An error band: how far measurements have fallen from predictions in one regime."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    """The error quantiles of one regime (e = predicted / measured - 1), fitted on `rows` rows."""

    regime: str
    rows: int
    error_low: float  # the lower quantile: a negative value is a prediction that was too low
    error_high: float

    def around(self, predicted: float) -> tuple[float, float]:
        """The interval for what would be measured, given a prediction."""
        return predicted / (1.0 + self.error_high), predicted / (1.0 + self.error_low)

    def around_rate(self, predicted: float) -> tuple[float, float]:
        """The interval for a rate whose time was predicted with these errors (a rate is work over
        time, so a time predicted too low is a rate predicted too high)."""
        return predicted * (1.0 + self.error_low), predicted * (1.0 + self.error_high)


@dataclass(frozen=True)
class Coverage:
    """How often one regime group's 90% interval covered the measurement on the validation corpus:
    with the bands fitted on every row, and with each file's rows held out of the fit that judges them."""

    group: str  # kind/measure/where
    rows: int
    covered_in_sample: float
    covered_held_out: float
    median_half_width: float  # half the interval's width over the prediction, median over the rows
