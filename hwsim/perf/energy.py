"""Accelerator power from how busy a step keeps its compute and memory pipelines.

    power = idle + (TDP - idle) x min(1, COMPUTE_WEIGHT x compute_busy + MEMORY_WEIGHT x memory_busy)

where the busy fractions are the step's compute and memory time at the achievable rates over its
duration. A memory-bound decode step draws about idle + 60% of the dynamic range, a
compute-bound prefill most of it, a step that is both the full TDP; between steps the device
idles. The weights and the idle share are assumptions, not measurements, and say so.
"""
from __future__ import annotations

from collections.abc import Iterable

IDLE_FRACTION = 0.15  # idle power as a share of TDP (an H100 idles near 100 W of 700; UNVERIFIED)
COMPUTE_WEIGHT = 0.6
MEMORY_WEIGHT = 0.6


def idle_w(tdp_w: float) -> float:
    return IDLE_FRACTION * tdp_w


def power_w(tdp_w: float, compute_busy: float, memory_busy: float) -> float:
    """Average power of a step whose pipelines are busy these fractions of its time (the energy of
    such a step one second long)."""
    return steps_energy_j(tdp_w, ((1.0, compute_busy, memory_busy),))


def step_energy_j(tdp_w: float, time_s: float, compute_s: float, memory_s: float) -> float:
    """Energy of one step on one device, from its busy times (at achievable rates)."""
    return steps_energy_j(tdp_w, ((time_s, compute_s, memory_s),))


def steps_energy_j(tdp_w: float, steps: Iterable[tuple[float, float, float]]) -> float:
    """Energy of steps (time, compute busy, memory busy) run one after the other on one device, each
    drawing the power of the module's formula for its time (in one pass: the serving engine sums
    the steps of every run)."""
    idle = idle_w(tdp_w)
    dynamic = tdp_w - idle
    return sum(((idle + dynamic * _at_most_one(COMPUTE_WEIGHT * _at_most_one(compute_s / time_s)
                                               + MEMORY_WEIGHT * _at_most_one(memory_s / time_s))) * time_s
                for time_s, compute_s, memory_s in steps if time_s > 0), 0.0)


def _at_most_one(share: float) -> float:
    return share if share < 1.0 else 1.0
