"""What a token costs: rented hours or bought hardware with its electricity, over the tokens served."""
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.cost import cost_per_token, usd_per_s
from hwsim.specs.pricing import Pricing

H100 = catalog.system("h100-sxm")
CLOUD = Pricing("test-cloud", "test cloud", "cloud", "2026-05", {"h100-sxm": 4.0}, {}, {"h100-sxm": "a quote"})
YEAR_S = 365.25 * 24 * 3600
OWNED = Pricing("test-owned", "test owned", "owned", "2026", {}, {"h100-sxm": 30000.0}, {},
                amortization_s=3 * YEAR_S, utilization=0.5, pue=1.2, electricity_usd_per_j=0.12 / 3.6e6,
                host_usd_per_device=10000.0, host_power_w_per_device=200.0)


def test_a_rented_device_costs_its_hourly_price_whatever_it_draws():
    assert usd_per_s(CLOUD, H100, 2, 700.0) == {"rent": pytest.approx(2 * 4.0 / 3600)}
    assert usd_per_s(CLOUD, H100, 2, 0.0) == usd_per_s(CLOUD, H100, 2, 700.0)


def test_price_per_hour_over_tokens_per_second_gives_dollars_per_million_tokens():
    cost = cost_per_token(CLOUD, H100, 2, 500.0, output_tokens_per_s=1000.0, total_tokens_per_s=4000.0)
    assert cost["usd_per_hour"] == pytest.approx(8.0)
    assert cost["usd_per_1m_output_tokens"] == pytest.approx(8.0 / 3600 / 1000 * 1e6)  # $2.22
    assert cost["usd_per_1m_total_tokens"] == pytest.approx(8.0 / 3600 / 4000 * 1e6)
    assert cost["breakdown_usd_per_hour"] == {"rent": pytest.approx(8.0)}
    assert cost["pricing"] == "test cloud (test-cloud, 2026-05)" and cost["price_source"] == "a quote"


def test_owned_hardware_is_paid_off_over_the_hours_it_serves_plus_its_electricity():
    parts = usd_per_s(OWNED, H100, 2, 500.0)
    # device and host share bought for $40,000 each, paid off over the half of three years they serve
    assert parts["capital"] == pytest.approx(2 * 40000.0 / (3 * YEAR_S * 0.5))
    # 500 W device + 200 W host share, each doubled, times PUE 1.2, at $0.12/kWh
    assert parts["electricity"] == pytest.approx(2 * 700.0 * 1.2 * 0.12 / 3.6e6)


def test_a_device_without_a_price_or_a_system_without_a_device_cannot_be_priced():
    with pytest.raises(HwsimError, match="pricing test-cloud has no price for l4; priced: h100-sxm"):
        usd_per_s(CLOUD, catalog.system("l4"), 1, 70.0)
    with pytest.raises(HwsimError, match="pricing test-owned has no price for l4; priced: h100-sxm"):
        usd_per_s(OWNED, catalog.system("l4"), 1, 70.0)
    with pytest.raises(HwsimError, match="ryzen-7950x has no accelerator to price"):
        usd_per_s(CLOUD, catalog.system("ryzen-7950x"), 1, 100.0)
