"""Early verdicts: a candidate's simulation stops once a latency SLO is certainly missed, and the
plan's verdicts, winner and the figures of every candidate simulated to the end stay what they were."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwsim.loading import catalog, plan_yaml
from hwsim.serving.engine import Seq
from hwsim.serving.simulate import SimulationStopped, simulate
from hwsim.specs import deployment
from hwsim.specs.plan import PlanSlo
from hwsim.specs.scenario import Disaggregation, EngineConfig, Scenario
from hwsim.specs.workload import Lengths, Workload
from hwsim.studies import plan

from .test_plan import write_plan

ROOT = Path(__file__).resolve().parents[2]

# --- the count that settles a percentile --------------------------------------------------------


def lowest_percentile(requests: int, over: int, percentile: float, limit: float = 1.0) -> float:
    """The lowest p-th percentile numpy can give for `requests` values of which `over` exceed `limit`:
    the percentile never falls when a value rises, so the others at zero and those over just above
    the limit give the lowest of every such set of values."""
    just_over = float(np.nextafter(limit, np.inf))
    return float(np.percentile([0.0] * (requests - over) + [just_over] * over, percentile))


@pytest.mark.parametrize("percentile", [99, 90, 50, 95, 75, 1, 0, 100])
def test_the_count_is_the_fewest_values_over_the_limit_that_put_numpys_percentile_over_it(percentile):
    for requests in range(1, 402):
        settled = [over for over in range(requests + 1) if lowest_percentile(requests, over, percentile) > 1.0]
        assert plan.over_count_that_misses(requests, percentile) == settled[0], requests


def test_the_count_holds_for_random_values_including_ties_at_the_limit():
    rng = np.random.default_rng(5)
    for _ in range(3000):
        requests = int(rng.integers(1, 300))
        values = rng.choice([0.5, 1.0, 1.0 + 1e-12, 3.0], size=requests) * rng.uniform(0.99, 1.01, size=requests)
        values[rng.random(requests) < 0.3] = 1.0  # exactly at the limit: not over it
        for percentile in (50, 90, 99):
            if (values > 1.0).sum() >= plan.over_count_that_misses(requests, percentile):
                assert np.percentile(values, percentile) > 1.0


def test_one_more_than_the_share_the_percentile_allows_is_not_always_enough():
    # 150 requests: 1% is 1.5, yet two over the limit can leave the p99 under it
    assert plan.over_count_that_misses(150, 99) == 3
    assert lowest_percentile(150, 2, 99) < 1.0
    assert plan.over_count_that_misses(2000, 99) == 21 and plan.over_count_that_misses(0, 99) is None


# --- the rule, request by request ----------------------------------------------------------------


def requests_table(count: int, output: int = 10) -> pd.DataFrame:
    return pd.DataFrame({"request": range(count), "arrival_s": 0.0, "prompt_tokens": 100, "output_tokens": output})


def seq(request: int, first_s: float, completion_s: float | None = None, output: int = 10) -> Seq:
    done = Seq(request, 0.0, 100, output)
    done.first_token_s, done.completion_s = first_s, completion_s
    return done


def test_a_ttft_miss_is_settled_at_the_first_token_that_makes_it_certain():
    verdict = plan.EarlyVerdict(PlanSlo(ttft_s=1.0, percentile=99), requests_table(200), warmup=0)
    assert verdict(seq(0, 1.0)) is None  # at the limit is within it
    assert verdict(seq(1, 2.0)) is None and verdict(seq(2, 1.5)) is None
    reason = verdict(seq(3, 1.2))
    assert reason is not None and reason.startswith("TTFT p99 >= 1,200.0 ms > 1,000.0 ms (at least +20%: 3 of 200")


def test_a_tpot_is_judged_when_the_request_ends_and_warmup_and_one_token_answers_do_not_count():
    table = pd.concat([requests_table(50), requests_table(150, output=1).assign(request=range(50, 200))])
    verdict = plan.EarlyVerdict(PlanSlo(tpot_s=0.05, percentile=99), table, warmup=5)
    assert verdict.tpot is not None and (verdict.tpot.requests, verdict.tpot.needed) == (45, 2)
    assert verdict(seq(3, 0.1, completion_s=9.0)) is None  # warm-up
    assert verdict(seq(60, 0.1, completion_s=9.0, output=1)) is None  # one token: no TPOT
    assert verdict(seq(7, 0.1)) is None  # its first token says nothing of its TPOT
    assert verdict(seq(7, 0.1, completion_s=2.0)) is None  # one over: not yet certain
    assert verdict(seq(8, 0.1, completion_s=1.0)).startswith("TPOT p99 >= 100.0 ms > 50.0 ms (at least +100%: 2 of 45")


# --- the simulation's stop hook ---------------------------------------------------------------------


def scenario(workload: Workload, **kwargs) -> Scenario:
    """Llama-3-8B on one H100 without host overheads."""
    return Scenario("test", catalog.system("h100-sxm"), catalog.model("llama-3-8b"), deployment.Precision(), workload,
                    engine=EngineConfig(step_overhead_s=0.0, request_overhead_s=0.0), **kwargs)


def fixed(count: int, rate_per_s: float) -> Workload:
    return Workload("w", "poisson", count=count, rate_per_s=rate_per_s, prompt=Lengths("fixed", 300),
                    output=Lengths("fixed", 40), seed=3)


def test_a_stop_that_never_fires_leaves_the_run_as_it_was_and_sees_each_request_twice():
    run = scenario(fixed(count=120, rate_per_s=20.0))
    asked: list[tuple[int, bool]] = []
    with_stop = simulate(run, stop=lambda s: asked.append((s.request, s.completion_s is None)))
    alone = simulate(run)
    assert with_stop.requests.equals(alone.requests) and with_stop.steps.equals(alone.steps)
    assert with_stop.summary == alone.summary
    assert sorted(asked) == sorted([(r, True) for r in range(120)] + [(r, False) for r in range(120)])


@pytest.mark.parametrize("kind", ["open loop", "closed loop", "disaggregated"])
def test_a_stop_ends_the_run_at_the_request_that_gave_the_reason(kind):
    workload = fixed(count=100, rate_per_s=20.0)
    extra = {}
    if kind == "closed loop":
        workload = Workload("users", "closed_loop", concurrency=4, count=100, prompt=Lengths("fixed", 300),
                            output=Lengths("fixed", 40))
    elif kind == "disaggregated":
        extra = {"disaggregation": Disaggregation(1, 1, catalog.link("infiniband-hdr"))}
    ended: list[float] = []

    def stop(s: Seq) -> str | None:
        if s.completion_s is not None:
            ended.append(s.completion_s)
        return "enough" if len(ended) == 10 else None

    with pytest.raises(SimulationStopped, match="enough") as stopped:
        simulate(scenario(workload, **extra), stop=stop)
    # it stops at that request's end; others that ended in the same step have ended too
    assert len(ended) == 10 and stopped.value.at_s == ended[-1]
    assert 10 <= stopped.value.finished < 100 and stopped.value.first_tokens >= stopped.value.finished
    assert stopped.value.requests == 100


# --- the plan -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory) -> tuple[plan.PlanResult, plan.PlanResult]:
    """The test plan (150 requests, so a p99 miss needs 3 requests over) with early verdicts and shared
    step models, and with neither."""
    spec = plan_yaml.load_plan(write_plan(tmp_path_factory.mktemp("early")))
    return plan.run(spec, early=True), plan.run(spec, early=False, share_step_models=False)


def test_early_verdicts_keep_every_verdict_and_the_winner(both_ways):
    early, full = both_ways
    assert (early.outcomes["status"] == plan.STOPPED).any()  # the test means something
    assert list(early.outcomes["passes"]) == list(full.outcomes["passes"])
    assert early.winner == full.winner


def test_a_candidate_simulated_to_the_end_has_the_same_figures(both_ways):
    early, full = both_ways
    ended = early.outcomes["status"] != plan.STOPPED
    pd.testing.assert_frame_equal(early.outcomes[ended], full.outcomes[ended])
    assert (full.outcomes.loc[~ended, "status"] == "simulated").all()


def test_a_stopped_candidate_says_why_and_bounds_its_miss_from_below(both_ways):
    early, full = both_ways
    p = early.spec.slo.percentile
    stopped = early.outcomes[early.outcomes["status"] == plan.STOPPED]
    for index, row in stopped.iterrows():
        assert not row["passes"] and "stopped early at" in row["reasons"] and "requests finished" in row["reasons"]
        assert row[f"tpot_p{p}_s"] is None or np.isnan(row[f"tpot_p{p}_s"])  # partial, so not given
        name = "TTFT" if row["reasons"].startswith("TTFT") else "TPOT"
        assert row["reasons"].startswith(f"{name} p{p} >= ")
        assert f"{name} p{p}" in full.outcomes.loc[index, "reasons"]  # the miss the full run finds
        assert 0 < row["worst_miss"] <= full.outcomes.loc[index, "worst_miss"]


def test_the_frontier_and_the_closest_misses_leave_out_or_bound_the_stopped(both_ways):
    early, _ = both_ways
    assert (early.pareto["status"] == "simulated").all()
    assert set(early.closest()["status"]) <= {"simulated", plan.STOPPED}


def test_an_every_candidate_table_prints_a_stopped_one_without_figures(both_ways):
    from hwsim.output import tables

    early, _ = both_ways
    text = tables.plan_table(early.outcomes, early.spec.slo.percentile)
    stopped = [line for line in text.splitlines() if "stopped early at" in line]
    assert stopped and all(" - " in line and "FAIL: TPOT p99 >=" in line for line in stopped)


def test_processes_give_the_same_early_outcomes(both_ways):
    early, _ = both_ways
    assert plan.run(early.spec, workers=2).outcomes.equals(early.outcomes)


def test_a_deployment_gets_the_step_model_its_last_simulation_used():
    from dataclasses import replace

    from hwsim.perf.step_model import SHARED_MODELS, forget_step_models, step_model_for

    spec = plan_yaml.load_plan(ROOT / "tests" / "golden" / "tiny-plan.yaml")
    forget_step_models()
    deployments = [plan.scenario_for(c, spec).deployment for c in spec.candidates if c.replicas == 1]
    first = step_model_for(deployments[0])
    assert step_model_for(replace(deployments[0])) is first  # equal, though not the same object
    assert step_model_for(deployments[1]) is not first  # fp8
    distinct = deployments + [replace(d, launch="eager") for d in deployments]
    assert len(distinct) > SHARED_MODELS
    models = [step_model_for(d) for d in distinct]
    assert step_model_for(distinct[-1]) is models[-1]  # the latest are kept
    assert step_model_for(distinct[0]) is not models[0]  # the oldest was let go
    forget_step_models()
    assert step_model_for(distinct[-1]) is not models[-1]
