"""Honest error bars: each prediction's regime, error bands fitted split-conformal style on the
validation corpus, and the broader regime used when a narrow one has too few rows."""
import numpy as np
import pytest

from hwsim.loading import intervals_yaml
from hwsim.loading.measurements import Row
from hwsim.specs.intervals import Band
from hwsim.studies import intervals, regimes


def row(**cells):
    return Row({"id": "x", "metric": "seconds", **cells}, "x.csv")


@pytest.mark.parametrize("cells, expected", [
    ({"kind": "gemm", "hardware": "h200-sxm"}, ("kernel", "time", "on-device", "calibrated", "16-bit")),
    ({"kind": "serving", "hardware": "h100-sxm", "dtype": "fp8", "metric": "output_tokens_per_s"},
     ("serving", "throughput", "on-device", "datasheet", "fp8")),
    ({"kind": "serving", "hardware": "rtx-4090", "metric": "ttft_median_s"},
     ("serving", "ttft", "on-device", "datasheet", "16-bit")),
    ({"kind": "serving", "hardware": "flexgen-t4", "placement": "weights=host;kv=host", "metric": "itl_mean_s"},
     ("serving", "inter-token", "offloaded", "datasheet", "16-bit")),
    ({"kind": "step", "hardware": "ktransformers-4090", "placement": "experts=host;experts_compute=host",
      "weight_format": "q4_k_m"}, ("step", "time", "experts-on-host", "datasheet", "quantized")),
    ({"kind": "step", "hardware": "m2-ultra-studio"}, ("step", "time", "unified", "datasheet", "16-bit")),
])
def test_a_rows_regime_names_what_drives_its_error(cells, expected):
    assert regimes.regime(row(**cells)) == expected


def test_a_regime_falls_back_finest_first():
    assert regimes.chain(("serving", "ttft", "on-device", "datasheet", "fp8")) == [
        "serving/ttft/on-device/datasheet/fp8", "serving/ttft/on-device/datasheet", "serving/ttft/on-device",
        "serving/ttft", "serving", "all"]


def test_the_band_holds_the_middle_ninety_percent_with_the_conformal_correction():
    errors = np.arange(-50, 50) / 100.0  # 100 errors from -0.50 to +0.49
    low, high = intervals.conformal_quantiles(errors, 0.9)
    assert (low, high) == (-0.46, 0.45)  # k = floor(101 * 0.05) = 5: the 5th smallest and largest


def test_a_band_is_read_as_what_would_be_measured():
    band = Band("r", 20, error_low=-0.2, error_high=0.25)  # predictions 20% low to 25% high
    assert band.around(100.0) == pytest.approx((80.0, 125.0))


def test_a_regime_with_too_few_rows_uses_its_parent():
    import pandas as pd

    errors = pd.DataFrame({"regimes": [regimes.chain(("step", "time", "unified", "datasheet", "quantized"))] * 3
                           + [regimes.chain(("step", "time", "unified", "datasheet", "16-bit"))] * 9,
                           "error": [0.1] * 3 + [0.0] * 9})
    bands = intervals.fit_bands(errors, min_rows=8)
    assert "step/time/unified/datasheet/quantized" not in bands
    chosen = intervals.band_for(regimes.chain(("step", "time", "unified", "datasheet", "quantized")), bands)
    assert chosen.regime == "step/time/unified/datasheet" and chosen.rows == 12


def test_the_shipped_bands_cover_every_kind_the_corpus_has():
    bands = intervals_yaml.bands()
    assert {"all", "serving/throughput", "serving/ttft", "step/time"} <= set(bands)
    assert all(b.error_low <= 0 <= b.error_high or b.rows < 8 for b in bands.values() if b.regime == "all")


def test_a_cost_per_token_moves_inversely_with_the_throughput_band():
    summary = {"usd_per_1m_output_tokens": 1.0, "output_tokens_per_s": 1000.0}
    found = intervals.cost_interval(summary, {"output_tokens_per_s_low": 800.0, "output_tokens_per_s_high": 1250.0})
    assert found == {"usd_per_1m_output_tokens_low": 0.8, "usd_per_1m_output_tokens_high": 1.25}
    assert intervals.cost_interval({"output_tokens_per_s": 1000.0}, {"output_tokens_per_s_low": 800.0}) == {}
