"""Routing specs: `uniform`, `zipf:S`, or a CSV of measured per-layer expert histograms."""
import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog
from hwsim.loading.routing import routing_for

MIXTRAL = catalog.model("mixtral-8x7b")


def test_empirical_histograms_per_layer(tmp_path):
    rows = ["layer,expert,count"] + [f"{layer},{e},{(e + 1) * (layer + 1)}" for layer in range(2) for e in range(8)]
    path = tmp_path / "hist.csv"
    path.write_text("\n".join(rows) + "\n")
    routing = routing_for(MIXTRAL, str(path))
    assert len(routing.shares) == 2 and routing.shares[0][7] == pytest.approx(8 / 36)
    assert routing.expected_active(1, layer=0) == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize("rows, expected", [
    (["layer,expert,count"] + [f"0,{e},1" for e in range(7)], "7 experts listed, expected 8"),
    (["layer,expert,count"] + [f"0,{e},1" for e in range(7)] + ["0,9,1"], "expert 9 is outside 0..7"),
    (["layer,expert"] + [f"0,{e}" for e in range(8)], "count"),
])
def test_bad_histograms_name_the_problem(tmp_path, rows, expected):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=expected):
        routing_for(MIXTRAL, str(path))


def test_routing_needs_a_moe_model():
    with pytest.raises(HwsimError, match="not a mixture-of-experts"):
        routing_for(catalog.model("llama-3-8b"), "zipf:1.1")


def test_named_routings_take_the_model_experts_and_top_k():
    for spec in (None, "", "uniform"):
        routing = routing_for(MIXTRAL, spec)
        assert (routing.experts, routing.top_k, routing.kind) == (8, 2, "uniform")
        assert routing.shares[0] == pytest.approx((1 / 8,) * 8)
    skewed = routing_for(MIXTRAL, "zipf:1.2")
    assert (skewed.experts, skewed.top_k) == (8, 2)
    by_rank = sorted(skewed.shares[0], reverse=True)
    assert by_rank[0] / by_rank[1] == pytest.approx(2**1.2)  # the share of popularity rank r goes as 1 / r^S


def test_a_zipf_exponent_that_is_not_a_number_shows_the_syntax():
    with pytest.raises(HwsimError, match=r"routing 'zipf:steep': expected zipf:EXPONENT, e.g. zipf:1.2"):
        routing_for(MIXTRAL, "zipf:steep")


def test_a_histogram_whose_counts_add_up_to_zero_is_rejected(tmp_path):
    path = tmp_path / "zero.csv"
    path.write_text("layer,expert,count\n" + "".join(f"0,{e},0\n" for e in range(8)))
    with pytest.raises(InputError, match="layer 0: counts add up to zero"):
        routing_for(MIXTRAL, str(path))


def test_a_missing_histogram_file_is_named(tmp_path):
    with pytest.raises(InputError, match="missing.csv: file not found"):
        routing_for(MIXTRAL, str(tmp_path / "missing.csv"))
