"""Prices of accelerators: rented by the hour (cloud) or bought and run (owned).

A `Pricing` is what turns a simulated throughput into dollars per token; `hwsim.perf.cost`
does the arithmetic and `hwsim.loading.pricing_yaml` reads the profiles in `pricing/`.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PRICING = "cloud-on-demand-2026-05"  # the profile used when a scenario or plan names none


@dataclass(frozen=True)
class Pricing:
    """A pricing profile; the owned-only fields keep their neutral defaults for a cloud profile."""

    id: str
    name: str
    kind: str  # cloud | owned
    date: str
    usd_per_hour: dict  # cloud: device id -> USD per accelerator-hour
    purchase_usd: dict  # owned: device id -> USD
    sources: dict
    amortization_s: float = 0.0
    utilization: float = 1.0
    pue: float = 1.0
    electricity_usd_per_j: float = 0.0
    host_usd_per_device: float = 0.0
    host_power_w_per_device: float = 0.0

    def priced(self) -> list[str]:
        """The device ids this profile has a price for, sorted."""
        return sorted(self.usd_per_hour or self.purchase_usd)

    def describe(self) -> str:
        return f"{self.name} ({self.id}, {self.date})"
