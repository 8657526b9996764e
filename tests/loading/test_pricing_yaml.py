"""Pricing profiles: cloud rates, and the owned-hardware costs converted to SI."""
import pytest

from hwsim.base.errors import InputError, UnknownIdError
from hwsim.loading import pricing_yaml

CLOUD = """
id: test-cloud
name: test cloud
kind: cloud
date: 2026-01
devices:
  h100-sxm: {usd_per_hour: 4.0, source: a quote}
  l4: {usd_per_hour: 0.8, source: another quote}
"""

OWNED = """
id: test-owned
name: test owned
kind: owned
date: 2026-01
devices:
  h100-sxm: {purchase_usd: 30000, source: a quote}
amortization_years: 3
utilization: 0.5
electricity_usd_per_kwh: 0.12
pue: 1.2
sources: {electricity: a utility bill}
"""


def load(tmp_path, text: str, name: str = "prices.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return pricing_yaml.pricing(str(path))


def test_a_cloud_profile_prices_each_device_by_the_hour(tmp_path):
    prices = load(tmp_path, CLOUD)
    assert prices.usd_per_hour == {"h100-sxm": 4.0, "l4": 0.8}
    assert prices.priced() == ["h100-sxm", "l4"]
    assert (prices.utilization, prices.pue, prices.amortization_s) == (1.0, 1.0, 0.0)
    assert prices.describe() == "test cloud (test-cloud, 2026-01)"


def test_an_owned_profile_converts_years_and_kilowatt_hours_to_seconds_and_joules(tmp_path):
    prices = load(tmp_path, OWNED)
    assert prices.purchase_usd == {"h100-sxm": 30000.0}
    assert prices.amortization_s == pytest.approx(3 * 365.25 * 24 * 3600)
    assert prices.electricity_usd_per_j == pytest.approx(0.12 / 3.6e6)
    assert (prices.utilization, prices.pue) == (0.5, 1.2)
    assert prices.sources == {"h100-sxm": "a quote", "electricity": "a utility bill"}


def test_an_owned_profile_needs_its_amortization(tmp_path):
    with pytest.raises(InputError, match="amortization_years: missing required field"):
        load(tmp_path, OWNED.replace("amortization_years: 3\n", ""))


def test_a_cloud_device_without_an_hourly_rate_is_named(tmp_path):
    with pytest.raises(InputError, match="devices.l4.usd_per_hour: missing required field"):
        load(tmp_path, CLOUD.replace("usd_per_hour: 0.8, ", ""))


def test_shipped_profiles_are_found_by_id_and_unknown_ids_listed():
    assert "cloud-on-demand-2026-05" in pricing_yaml.pricing_files()
    with pytest.raises(UnknownIdError, match="unknown pricing 'nope'"):
        pricing_yaml.pricing("nope")
