"""Weights on flash with a DRAM neuron cache (LLM in a flash)."""
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.flash import FlashOptions, flash_token, naive_token
from hwsim.specs import deployment

OPT = catalog.model("opt-6.7b")
LAPTOP = catalog.system("m1-max-laptop")


def test_paper_setting_splits_into_loading_management_and_compute():
    """OPT-6.7B fp32, window 5 (2.4% of FFN neurons loaded per token), 32 KiB bundles, M1 Max.
    The drive's small-read rate and the copy cost are set from this very figure (125 ms + 65 ms),
    so this checks the arithmetic of the split, not an independent prediction."""
    token = flash_token(OPT, LAPTOP, 512, deployment.Precision("fp32"))
    assert token.request_bytes == 2 * 4096 * 4  # one up row and one down column
    assert token.bytes_read == pytest.approx(32 * 16384 * 0.024 * 32768)
    assert token.flash_load_s == pytest.approx(0.125, rel=0.05)
    assert token.memory_management_s == pytest.approx(0.065, rel=0.05)
    assert token.total_s == pytest.approx(token.flash_load_s + token.memory_management_s + token.compute_s)


def test_bundling_doubles_the_read_size_and_halves_the_loading_when_reads_are_request_bound():
    bundled = flash_token(OPT, LAPTOP, 512, deployment.Precision("fp32"), FlashOptions(bundle=True))
    separate = flash_token(OPT, LAPTOP, 512, deployment.Precision("fp32"), FlashOptions(bundle=False))
    assert separate.request_bytes == bundled.request_bytes / 2
    assert separate.flash_load_s == pytest.approx(2 * bundled.flash_load_s, rel=0.02)


def test_windowing_loads_fewer_bytes():
    windowed = flash_token(OPT, LAPTOP, 512, deployment.Precision("fp32"), FlashOptions(new_fraction=0.024))
    every_active = flash_token(OPT, LAPTOP, 512, deployment.Precision("fp32"), FlashOptions(new_fraction=0.10))
    assert every_active.bytes_read == pytest.approx(windowed.bytes_read * 0.10 / 0.024)
    assert every_active.total_s > 3 * windowed.total_s * 0.8


def test_naive_loading_reads_the_whole_ffn_at_sequential_speed():
    naive = naive_token(OPT, LAPTOP, 512, deployment.Precision("fp32"))
    assert naive.bytes_read == pytest.approx(32 * 2 * 4096 * 16384 * 4)
    assert naive.read_bytes_per_s == pytest.approx(LAPTOP.storage[0][0].read_bandwidth_bytes_per_s)
    assert naive.total_s > 5 * flash_token(OPT, LAPTOP, 512, deployment.Precision("fp32")).total_s


@pytest.mark.parametrize("kwargs, expected", [
    ({"active_fraction": 0.0}, "active_fraction"),
    ({"active_fraction": 0.05, "new_fraction": 0.1}, "cannot exceed"),
    ({"reader_threads": 0}, "reader_threads"),
])
def test_bad_flash_options(kwargs, expected):
    with pytest.raises(HwsimError, match=expected):
        FlashOptions(**kwargs)


def test_flash_needs_storage_and_a_dense_model():
    with pytest.raises(HwsimError, match="dense model"):
        flash_token(catalog.model("mixtral-8x7b"), LAPTOP, 10)
