"""Mixture-of-experts beyond the routing math: routing histograms, expert-parallel operators, experts
offloaded to the host, the residency planner, and MoE scenarios."""
import pytest

from hwsim.base.errors import DoesNotFitError, HwsimError, InputError
from hwsim.loading import catalog, scenario_yaml
from hwsim.loading.routing import routing_for
from hwsim.perf import moe
from hwsim.perf.ops import step_ops
from hwsim.perf.step_model import StepModel
from hwsim.specs import deployment
from hwsim.specs.deployment import Deployment
from hwsim.specs.placement import parse
from hwsim.specs.shape import StepShape
from hwsim.studies import expert_plan

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


def test_expert_parallel_ops_dispatch_and_combine_over_the_peer_link():
    ops = step_ops(MIXTRAL, StepShape.decode(32, 500), tp=4, experts=deployment.ExpertSetup(expert_parallel=True))
    names = [op.name for op in ops]
    assert "alltoall_dispatch" in names and "alltoall_combine" in names and "mlp_allreduce" not in names
    gate_up = next(op for op in ops if op.name == "experts_gate_up")
    assert gate_up.shape.startswith("m=16 ")  # 32 tokens x top-2 over 4 devices, uniform


def test_active_experts_given_ahead_override_the_routing():
    fixed = StepModel(Deployment(MIXTRAL, catalog.system("h200-sxm")), active_experts=2.0).cost(StepShape.decode(8, 100))
    expected = StepModel(Deployment(MIXTRAL, catalog.system("h200-sxm"))).cost(StepShape.decode(8, 100))
    assert fixed.time_s < expected.time_s  # 2 experts instead of the ~7.2 uniform routing expects


def test_experts_in_host_memory_are_copied_before_they_run():
    h200 = catalog.system("h200-sxm")
    step = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=parse("experts=host")), active_experts=2.0).cost(StepShape.decode(1, 100))
    per_expert = 3 * 4096 * 14336 * 2
    assert step.bytes_per_step["h2d"] == pytest.approx(32 * 2 * per_expert, rel=0.01)


def test_resident_experts_cut_the_traffic_by_the_hit_rate():
    h200 = catalog.system("h200-sxm")
    routing = moe.zipf(8, 2, 1.2)
    setup = deployment.ExpertSetup(routing=routing)
    shape = StepShape.decode(1, 100)
    streamed = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=parse("experts=host"), experts=setup)).cost(shape)
    half = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=parse("experts=device:0.5,host:0.5"), offload=deployment.OffloadOptions(expert_cache="static"), experts=setup)).cost(shape)
    hit = moe.set_hit_rate(routing, moe.most_popular(routing, 4), tokens=1)
    assert half.bytes_per_step["h2d"] == pytest.approx(streamed.bytes_per_step["h2d"] * (1 - hit), rel=0.01)


def test_experts_computed_on_the_host_stay_there():
    system = catalog.system("ktransformers-4090")
    model = catalog.model("deepseek-v3")
    step = StepModel(Deployment(model, system, precision=deployment.Precision("int4", weight_bits=4.5), placement=parse("experts=host;experts_compute=host"))).cost(StepShape.decode(1, 1000))
    assert step.parts_s["host"] > 0
    assert step.bytes_per_step.get("h2d", 0.0) < 1e9  # no routed expert crosses PCIe


def test_prefetching_hides_misses_when_copies_do_not_overlap():
    h200 = catalog.system("h200-sxm")
    setup = deployment.ExpertSetup(routing=moe.zipf(8, 2, 1.2))
    shape = StepShape.decode(4, 100)
    where = parse("experts=device:0.5,host:0.5")
    plain = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=where, offload=deployment.OffloadOptions(overlap=False), experts=setup)).cost(shape)
    early = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=where, offload=deployment.OffloadOptions(overlap=False, prefetch_experts=2), experts=setup)).cost(shape)
    assert early.time_s < plain.time_s


def test_residency_optimizer_beats_naive_placements():
    result = expert_plan.plan(MIXTRAL, catalog.system("h100-sxm"), moe.zipf(8, 2, 1.2), deployment.Precision(), 4, 512, 128)
    chosen = result.options[0]
    assert 0 < result.resident < 8
    by_name = {o.name.split(" ")[0] + " " + o.name.split(" ")[1]: o for o in result.options}
    assert chosen.time_per_output_token_s <= min(o.time_per_output_token_s for o in result.options[1:])
    assert by_name["none resident"].hit_rate == 0.0


def test_residency_that_does_not_fit_is_rejected():
    with pytest.raises(DoesNotFitError, match="resident: 8 experts per layer need"):
        expert_plan.plan(MIXTRAL, catalog.system("h100-sxm"), moe.uniform(8, 2), deployment.Precision(), 4, 512, 128, resident=8)


def test_routing_needs_a_moe_model():
    with pytest.raises(HwsimError, match="not a mixture-of-experts"):
        routing_for(catalog.model("llama-3-8b"), "zipf:1.1")


def test_scenario_moe_block_runs_in_the_simulator(tmp_path):
    from hwsim.serving.simulate import simulate

    path = tmp_path / "s.yaml"
    path.write_text("hardware: h200-sxm\ncount: 2\nmodel: mixtral-8x7b\nmoe: {routing: 'zipf:1.2', "
                    "expert_parallel: true}\nworkload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 40\n"
                    "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 30}\n")
    result = simulate(scenario_yaml.load_scenario(path))
    assert result.summary["requests"] == 40
