"""Pricing profiles as data: which devices they price and how they are named."""
from hwsim.specs.pricing import Pricing


def test_a_cloud_profile_prices_the_devices_it_rents_by_the_hour():
    cloud = Pricing("c", "some cloud", "cloud", "2026-05", {"l4": 0.8, "h100-sxm": 4.0}, {}, {})
    assert cloud.priced() == ["h100-sxm", "l4"]
    assert cloud.describe() == "some cloud (c, 2026-05)"


def test_an_owned_profile_prices_the_devices_it_buys_and_keeps_neutral_defaults():
    owned = Pricing("o", "bought", "owned", "2026", {}, {"mi300x": 15000.0, "h200-sxm": 35000.0}, {})
    assert owned.priced() == ["h200-sxm", "mi300x"]
    assert (owned.utilization, owned.pue, owned.electricity_usd_per_j, owned.host_usd_per_device) == (1.0, 1.0, 0.0, 0.0)
