"""Reading pricing profiles (`pricing/*.yaml`): what an accelerator-hour costs, rented or owned.

A cloud profile gives an hourly rate per device; an owned profile gives purchase prices and
what turns them into an hourly cost (amortization, utilization, power and its price). Each
price cites its source. Profiles are found by id among the shipped ones or by a YAML path.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from hwsim.base.errors import UnknownIdError, brief
from hwsim.loading.catalog import data_dir, ids_in
from hwsim.loading.fields import Fields, load_yaml, text_of
from hwsim.perf.cost import SECONDS_PER_YEAR
from hwsim.specs.pricing import Pricing

JOULES_PER_KWH = 3.6e6


@functools.cache
def pricing_files() -> dict[str, Path]:
    """Shipped pricing profiles: id -> path."""
    return ids_in(data_dir("pricing"))


# ceilings far above any real price, so that a typo is an error rather than a cost of 1e300 dollars
MAX_USD_PER_HOUR = 1e6
MAX_PURCHASE_USD = 1e9
MAX_AMORTIZATION_YEARS = 100.0
MAX_USD_PER_KWH = 100.0
MAX_HOST_POWER_W = 1e6


def _owned_costs(fields: Fields) -> dict[str, Any]:
    """What turns an owned device's purchase price into a cost per hour, as Pricing fields."""
    return {
        "amortization_s": fields.number("amortization_years", low=0.1, high=MAX_AMORTIZATION_YEARS)
        * SECONDS_PER_YEAR,
        "utilization": fields.number("utilization", low=0.01, high=1.0),
        "pue": fields.number("pue", 1.0, low=1.0, high=3.0),
        "electricity_usd_per_j": fields.number("electricity_usd_per_kwh", low=0.0, high=MAX_USD_PER_KWH)
        / JOULES_PER_KWH,
        "host_usd_per_device": fields.number("host_usd_per_device", 0.0, low=0.0, high=MAX_PURCHASE_USD),
        "host_power_w_per_device": fields.number("host_power_w_per_device", 0.0, low=0.0, high=MAX_HOST_POWER_W),
    }


def _date(fields: Fields) -> str:
    """When the prices were taken, as text (YAML reads 2026-05-01 as a date, 2026 as a number: both are fine)."""
    value = fields.raw("date")
    text = text_of(value)
    if text is None:
        raise fields.error("date", f"expected a date; got {brief(value)}")
    return text


def load_pricing(fields: Fields) -> Pricing:
    """A pricing profile of kind `cloud` (USD per hour) or `owned` (purchase USD and running costs)."""
    kind = fields.string("kind", choices=("cloud", "owned"))
    devices = fields.section("devices")
    rates: dict[str, float] = {}
    purchases: dict[str, float] = {}
    sources: dict[str, str] = {}
    for device_id in devices:
        if not isinstance(device_id, str):
            raise devices.error(str(device_id), f"expected a device id as text; got {brief(device_id)}")
        entry = devices.section(device_id)
        if kind == "cloud":
            rates[device_id] = entry.number("usd_per_hour", low=0.0, high=MAX_USD_PER_HOUR)
        else:
            purchases[device_id] = entry.number("purchase_usd", low=0.0, high=MAX_PURCHASE_USD)
        sources[device_id] = entry.string("source")
        entry.finish()
    devices.finish()
    pricing = Pricing(
        id=fields.string("id"),
        name=fields.string("name"),
        kind=kind,
        date=_date(fields),
        usd_per_hour=rates,
        purchase_usd=purchases,
        sources={**sources, **fields.notes("sources")},
        **(_owned_costs(fields) if kind == "owned" else {}),
    )
    fields.finish()
    return pricing


@functools.cache
def pricing(name: str) -> Pricing:
    """A pricing profile by shipped id or by YAML path."""
    if name.endswith((".yaml", ".yml")):
        return load_pricing(load_yaml(Path(name)))
    files = pricing_files()
    if name not in files:
        raise UnknownIdError("pricing", name, list(files))
    return load_pricing(load_yaml(files[name]))
