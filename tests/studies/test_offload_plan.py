"""The offload planner: every feasible placement at its best batch, ranked by throughput."""
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf.offload import check_fit
from hwsim.specs import deployment
from hwsim.studies.offload_plan import search

LLAMA = catalog.model("llama-3-8b")


def test_offload_plan_finds_feasible_policies_and_ranks_them():
    model, system = catalog.model("opt-30b"), catalog.system("flexgen-t4")
    ranked = search(model, system, 512, 32, deployment.Precision("fp16"))
    best = ranked[0]
    assert best.throughput == max(c.throughput for c in ranked)
    assert best.placement.share("weights", "device") < 1.0  # 60 GB of weights cannot live on a 16 GB T4
    assert best.batch >= 64  # a large batch amortizes each weight transfer
    for candidate in ranked:
        check_fit(model, system, deployment.Precision("fp16"), candidate.placement, candidate.batch, 544)
        assert "bound by" in candidate.why()


def test_offload_plan_prefers_the_device_when_everything_fits():
    ranked = search(LLAMA, catalog.system("h100-sxm"), 512, 64, batches=(1, 8, 64))
    assert ranked[0].placement.on_device and ranked[0].batch == 64


def test_offload_planning_needs_an_accelerator():
    with pytest.raises(HwsimError, match="offload planning needs an accelerator; ryzen-7950x has none"):
        search(LLAMA, catalog.system("ryzen-7950x"), 512, 32)
