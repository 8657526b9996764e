"""A round-robin fleet simulated in parts (in this process, on local processes, on a Dask cluster)
gives the single run's records and summary; what cannot be split runs in one process and says why.

Times may differ in the last bits of a float (a part reaches each arrival from a different previous
one), so numbers are compared to 1e-9 relative, not for equality."""
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.output.cli import main
from hwsim.serving import fleet
from hwsim.serving.simulate import SimulationResult, simulate
from hwsim.specs.scenario import Disaggregation, EngineConfig
from hwsim.specs.workload import Lengths, Prefix, Sessions, Workload

from .scenarios import NO_OVERHEAD, scenario

PER_REPLICA_PER_S = 18.0  # chat on Llama-3-8B / one H100: a little under what one replica serves


def chat(replicas: int, count: int, load: float = 1.0) -> Workload:
    return replace(catalog.workload("chat"), count=count, rate_per_s=load * replicas * PER_REPLICA_PER_S, seed=5)


FLEET = scenario(chat(8, 400), engine=EngineConfig(), replicas=8)  # default host overheads
CASES = {
    "chat on 8 replicas": FLEET,
    "swaps under memory pressure": scenario(chat(4, 200, load=1.5), replicas=4,
                                            engine=replace(EngineConfig(), preemption="swap",
                                                           gpu_memory_utilization=0.24)),
    "prefix caching with a host tier": scenario(
        Workload("shared", "poisson", rate_per_s=24.0, count=240, prompt=Lengths("uniform", low=100, high=300),
                 output=Lengths("fixed", 50), seed=1, prefix=Prefix(2000, 64)),
        replicas=3, engine=replace(NO_OVERHEAD, prefix_caching=True, gpu_memory_utilization=0.26,
                                   kv_offload_host_bytes=100e9)),
}


@pytest.fixture(scope="module")
def single() -> SimulationResult:
    return simulate(FLEET)


def assert_same_frames(merged: pd.DataFrame, single: pd.DataFrame) -> None:
    """Every column: numbers to 1e-9 relative (a zero may be a few ulps off zero), the rest equal."""
    assert list(merged.columns) == list(single.columns) and len(merged) == len(single)
    for column in single.columns:
        ours, theirs = merged[column].to_numpy(), single[column].to_numpy()
        if ours.dtype.kind in "iub":
            assert np.array_equal(ours, theirs), column
        elif ours.dtype.kind == "f":
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=column)
        else:
            assert list(ours) == list(theirs), column


def assert_same_summary(merged: object, single: object, key: str = "summary") -> None:
    if isinstance(single, dict):
        assert isinstance(merged, dict) and list(merged) == list(single), key
        for name in single:
            assert_same_summary(merged[name], single[name], f"{key}.{name}")
    elif isinstance(single, float):
        assert isinstance(merged, float) and math.isclose(merged, single, rel_tol=1e-9, abs_tol=1e-15), key
    else:
        assert merged == single, key


def assert_same_run(merged: SimulationResult, single: SimulationResult) -> None:
    assert_same_frames(merged.requests, single.requests)
    assert_same_frames(merged.steps, single.steps)
    assert_same_summary(merged.summary, single.summary)
    assert (merged.kv_blocks_total, merged.kv_blocks_free_at_end) == (single.kv_blocks_total,
                                                                      single.kv_blocks_free_at_end)
    assert merged.scenario == single.scenario


def test_round_robin_sends_the_ith_arrival_to_replica_i_mod_n(single):
    table = FLEET.workload.requests()
    expected = pd.Series(fleet.round_robin_replicas(table, 8), index=table["request"])
    assert (single.requests["replica"].to_numpy() == expected.loc[single.requests["request"]].to_numpy()).all()


@pytest.mark.parametrize("case", CASES)
def test_each_shard_simulated_alone_gives_the_single_runs_records(case):
    fleet_scenario = CASES[case]
    whole = simulate(fleet_scenario)
    table = fleet_scenario.workload.requests()
    parts = fleet.shards(fleet_scenario, table, 3)
    assert [p.first_replica for p in parts] == [0, *np.cumsum([p.scenario.replicas for p in parts])[:-1]]
    merged = fleet.merge(fleet_scenario, parts, [simulate(p.scenario, requests=p.requests) for p in parts])
    assert_same_run(merged, whole)
    if case == "swaps under memory pressure":
        assert whole.summary["swaps"] > 0
    if case == "prefix caching with a host tier":
        assert whole.summary["prefix_cache_reloaded_blocks"]["host"] > 0 and whole.summary["prefix_cache_evictions"]


def test_local_processes_give_the_single_runs_results(single):
    run = fleet.simulate_fleet(FLEET, workers=2)
    assert run.shards == 2 and run.not_sharded is None
    assert_same_run(run.result, single)


def test_a_dask_cluster_gives_the_single_runs_results(single):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run = fleet.simulate_fleet(FLEET, cluster=client)
        assert run.shards == 2 and run.not_sharded is None
        assert_same_run(run.result, single)
        by_address = fleet.simulate_fleet(FLEET, cluster=cluster.scheduler_address)
        assert_same_run(by_address.result, single)


def test_replicas_without_requests_idle_in_the_summary():
    few = scenario(chat(8, 5), replicas=8)
    run = fleet.simulate_fleet(few, workers=3)
    assert run.shards == 3 and set(run.result.requests["replica"]) == set(range(5))
    assert_same_run(run.result, simulate(few))  # energy counts eight replicas, three of them idle throughout


def test_a_stateful_router_runs_in_one_process_and_says_why():
    stateful = replace(FLEET, engine=replace(FLEET.engine, router="least_outstanding"))
    run = fleet.simulate_fleet(stateful, workers=2)
    assert run.shards == 1 and "least_outstanding router" in run.not_sharded
    assert_same_run(run.result, simulate(stateful))
    with pytest.raises(HwsimError, match="cannot be split: the prefix_affinity router"):
        fleet.shards(replace(FLEET, engine=replace(FLEET.engine, router="prefix_affinity")),
                     FLEET.workload.requests(), 2)


def test_what_couples_replicas_is_named():
    closed = replace(FLEET.workload, arrival="closed_loop", concurrency=8, rate_per_s=0.0)
    sessions = replace(FLEET.workload, sessions=Sessions(Lengths("fixed", 2), 1.0))
    link = catalog.link("infiniband-hdr")
    assert "closed-loop" in fleet.why_not_sharded(replace(FLEET, workload=closed))
    assert "sessions" in fleet.why_not_sharded(replace(FLEET, workload=sessions))
    assert "disaggregated" in fleet.why_not_sharded(replace(FLEET, disaggregation=Disaggregation(2, 2, link)))
    assert "one replica" in fleet.why_not_sharded(replace(FLEET, replicas=1))
    assert fleet.why_not_sharded(FLEET) is None
    one_process = fleet.simulate_fleet(replace(FLEET, workload=replace(FLEET.workload, count=40)))
    assert one_process.shards == 1 and one_process.not_sharded is None  # one worker asked for: nothing to say


FLEET_YAML = """name: fleet
hardware: h100-sxm
replicas: 4
model: llama-3-8b
workload:
  arrival: {kind: poisson, rate: 60}
  requests: 200
  prompt_tokens: {kind: lognormal, median: 400, sigma: 0.9, min: 16, max: 4096}
  output_tokens: {kind: lognormal, median: 200, sigma: 0.8, min: 8, max: 2048}
engine: {router: ROUTER}
slo: {ttft: 500 ms, tpot: 50 ms}
"""


@pytest.mark.parametrize("router", ["round_robin", "least_outstanding"])
def test_simulate_workers_prints_the_same_summary(router, capsys, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET_YAML.replace("ROUTER", router))
    assert main(["simulate", str(path), "--no-progress"]) == 0
    alone, _ = capsys.readouterr()
    assert main(["simulate", str(path), "--no-progress", "--workers", "2"]) == 0
    sharded, said = capsys.readouterr()
    assert sharded == alone
    if router == "round_robin":
        assert said == ""
    else:
        assert said.count("\n") == 1 and said.startswith("simulated in one process: the least_outstanding router")
