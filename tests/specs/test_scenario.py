"""A scenario: what it deploys on one replica, and the combinations refused before a run."""
from dataclasses import replace

import pytest

from hwsim.base.errors import InputError
from hwsim.loading import catalog
from hwsim.specs.deployment import UNFUSED, ExpertSetup, OffloadOptions, Precision
from hwsim.specs.placement import parse
from hwsim.specs.scenario import Disaggregation, EngineConfig, Scenario, check
from hwsim.specs.techniques import Techniques
from hwsim.specs.workload import Workload

H100 = catalog.system("h100-sxm")
BASE = Scenario("s", H100, catalog.model("llama-3-8b"), Precision("fp8"), Workload("w", "offline", count=4))


def test_the_deployment_is_the_model_on_one_replica_in_graph_launch_with_the_engine_kernels():
    scenario = replace(BASE, system=catalog.system("h100-sxm", 2), engine=EngineConfig(kernels="unfused"),
                       placement=parse("kv=host"), offload=OffloadOptions(pinned=False))
    deployment = scenario.deployment
    assert (deployment.model, deployment.system, deployment.precision) == (scenario.model, scenario.system,
                                                                           Precision("fp8"))
    assert deployment.implementation == UNFUSED and deployment.launch == "graph"
    assert deployment.placement == parse("kv=host") and not deployment.offload.pinned
    assert deployment.tp == scenario.tp == 2


def test_techniques_reach_the_deployment_only_when_they_change_something():
    assert BASE.deployment.techniques is None
    sparse = replace(BASE, techniques=Techniques(sparsity=0.5))
    assert sparse.deployment.techniques == Techniques(sparsity=0.5)
    experts = ExpertSetup(expert_parallel=True)
    assert replace(BASE, experts=experts).deployment.experts == experts


def test_a_scenario_that_can_run_passes_the_check():
    check(BASE)


def test_static_batching_cannot_be_disaggregated():
    scenario = replace(BASE, engine=EngineConfig(batching="static"), disaggregation=Disaggregation(1, 1, H100.host_link))
    with pytest.raises(InputError, match="s.yaml: engine.batching: static batching cannot be disaggregated"):
        check(scenario, "s.yaml")


def test_a_token_budget_below_the_sequence_limit_would_starve_decodes():
    scenario = replace(BASE, engine=EngineConfig(max_num_seqs=64, max_num_batched_tokens=32))
    with pytest.raises(InputError, match=r"engine.max_num_batched_tokens: must be at least max_num_seqs \(64\) .*got 32"):
        check(scenario)
    check(replace(scenario, engine=replace(scenario.engine, batching="prefill_first")))
