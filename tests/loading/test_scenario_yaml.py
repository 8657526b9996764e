"""Scenario YAML: hardware and model from the catalog, engine settings and SLOs with their units,
placement, the MoE block, techniques and pricing; a bad field is named before anything runs."""
import pytest

from hwsim.base.errors import InputError
from hwsim.loading import scenario_yaml
from hwsim.serving.simulate import simulate
from hwsim.specs.pricing import DEFAULT_PRICING
from hwsim.specs.scenario import EngineConfig

WORKLOAD = ("workload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 40\n"
            "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 30}\n")


def load(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return scenario_yaml.load_scenario(path)


def test_scenario_moe_block_runs_in_the_simulator(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("hardware: h200-sxm\ncount: 2\nmodel: mixtral-8x7b\nmoe: {routing: 'zipf:1.2', "
                    "expert_parallel: true}\nworkload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 40\n"
                    "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 30}\n")
    result = simulate(scenario_yaml.load_scenario(path))
    assert result.summary["requests"] == 40


def test_a_minimal_scenario_takes_the_engine_defaults_and_the_default_pricing(tmp_path):
    scenario = load(tmp_path, "hardware: h100-sxm\nmodel: llama-3-8b\n" + WORKLOAD, "chat-on-h100.yaml")
    assert scenario.name == "chat-on-h100"
    assert (scenario.system.id, scenario.tp, scenario.replicas) == ("h100-sxm", 1, 1)
    assert scenario.precision.dtype == "bf16" and scenario.placement.on_device
    assert scenario.engine == EngineConfig()
    assert scenario.pricing.id == DEFAULT_PRICING
    assert scenario.experts is None and scenario.techniques.is_identity


def test_engine_and_slo_quantities_are_read_with_their_units(tmp_path):
    scenario = load(tmp_path, "hardware: h100-sxm\nmodel: llama-3-8b\n" + WORKLOAD +
                    "engine: {max_num_seqs: 32, swap_space: 4 GiB, step_overhead: 0 s}\nslo: {ttft: 500 ms, tpot: 40 ms}\n")
    assert scenario.engine.max_num_seqs == 32 and scenario.engine.swap_space_bytes == 4 * 2**30
    assert scenario.engine.step_overhead_s == 0.0
    assert (scenario.slo.ttft_s, scenario.slo.tpot_s) == pytest.approx((0.5, 0.04))


def test_a_histogram_routing_is_found_beside_the_scenario_file(tmp_path):
    (tmp_path / "hist.csv").write_text("layer,expert,count\n" + "".join(f"0,{e},{e + 1}\n" for e in range(8)))
    scenario = load(tmp_path, "hardware: h200-sxm\nmodel: mixtral-8x7b\nmoe: {routing: hist.csv, cache: lru, "
                              "prefetch: 2}\n" + WORKLOAD)
    assert scenario.experts.routing.kind == "empirical"
    assert scenario.experts.routing.shares[0][7] == pytest.approx(8 / 36)
    assert (scenario.offload.expert_cache, scenario.offload.prefetch_experts) == ("lru", 2)


def test_disaggregated_pools_hand_over_on_the_peer_link_unless_told(tmp_path):
    scenario = load(tmp_path, "hardware: h100-sxm\nmodel: llama-3-8b\n" + WORKLOAD +
                    "disaggregation: {prefill_replicas: 1, decode_replicas: 2}\n")
    pools = scenario.disaggregation
    assert (pools.prefill_replicas, pools.decode_replicas) == (1, 2)
    assert pools.link == scenario.system.accelerator.peer_link


@pytest.mark.parametrize("text, expected", [
    ("hardware: h100-sxm\nmodel: mixtral-8x7b\nmoe: {routing: 'zipf:x'}\n", "s.yaml: moe.routing: routing 'zipf:x'"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\ndtype: fp6\n", "s.yaml: dtype: unknown dtype 'fp6'"),
    ("hardware: h100-sxm\nmodel: llama-3-9b\n", "s.yaml: model: unknown model 'llama-3-9b'"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\nplacement: weights=gpu\n", "s.yaml: placement: placement weights: unknown tier"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\npricing: nope\n", "s.yaml: pricing: unknown pricing 'nope'"),
    ("hardware: h100-sxm\nmodel: llama-3-8b\ntechniques: {sparsity: 1.5}\n",
     r"s.yaml: techniques: sparsity must be in \[0, 1\); got 1.5"),
])
def test_a_bad_scenario_names_the_field(tmp_path, text, expected):
    with pytest.raises(InputError, match=expected):
        load(tmp_path, text + WORKLOAD)


def test_a_moe_block_for_a_dense_model_is_refused(tmp_path):
    with pytest.raises(InputError, match="s.yaml: moe: llama-3-8b has no experts"):
        load(tmp_path, "hardware: h100-sxm\nmodel: llama-3-8b\nmoe: {routing: uniform}\n" + WORKLOAD)
