"""What a token costs: pricing profiles (kept apart from hardware, since prices change monthly)
and the cost per second of a deployment.

Cloud: accelerator-hours at an on-demand price that includes the host. Owned: purchase prices
(accelerators and a host share per accelerator) spread over the amortization period, counted
only for the share of time the hardware serves (`utilization`), plus electricity for the
simulated power, host power, and the facility overhead (PUE).
"""
from __future__ import annotations

from hwsim.base.errors import HwsimError
from hwsim.specs.hardware import System
from hwsim.specs.pricing import Pricing

SECONDS_PER_YEAR = 365.25 * 24 * 3600


def priced_device(system: System) -> str:
    if system.accelerator is None:
        raise HwsimError(f"{system.id} has no accelerator to price")
    return system.accelerator.id


def usd_per_s(prices: Pricing, system: System, devices: int, device_power_w: float) -> dict:
    """Cost per second of `devices` accelerators drawing `device_power_w` on average, by part."""
    device_id = priced_device(system)
    if prices.kind == "cloud":
        if device_id not in prices.usd_per_hour:
            raise HwsimError(f"pricing {prices.id} has no price for {device_id}; priced: {', '.join(prices.priced())}")
        return {"rent": prices.usd_per_hour[device_id] * devices / 3600.0}
    if device_id not in prices.purchase_usd:
        raise HwsimError(f"pricing {prices.id} has no price for {device_id}; priced: {', '.join(prices.priced())}")
    capital = (prices.purchase_usd[device_id] + prices.host_usd_per_device) * devices
    watts = (device_power_w + prices.host_power_w_per_device) * devices * prices.pue
    return {
        "capital": capital / (prices.amortization_s * prices.utilization),
        "electricity": watts * prices.electricity_usd_per_j,
    }


def cost_per_token(prices: Pricing, system: System, devices: int, device_power_w: float,
                   output_tokens_per_s: float, total_tokens_per_s: float) -> dict:
    """$/1M output and total tokens at a sustained rate, with the breakdown and the assumption."""
    parts = usd_per_s(prices, system, devices, device_power_w)
    per_s = sum(parts.values())
    return {
        "usd_per_hour": per_s * 3600.0,
        "usd_per_1m_output_tokens": per_s / output_tokens_per_s * 1e6,
        "usd_per_1m_total_tokens": per_s / total_tokens_per_s * 1e6,
        "breakdown_usd_per_hour": {k: v * 3600.0 for k, v in parts.items()},
        "pricing": prices.describe(),
        "price_source": prices.sources.get(priced_device(system), ""),
    }
