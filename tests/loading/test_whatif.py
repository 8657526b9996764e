"""What-ifs change only what they name, and their errors point into the `changes` block."""
from dataclasses import replace
from pathlib import Path

import pytest

from hwsim.base.errors import InputError
from hwsim.loading import scenario_yaml
from hwsim.loading.whatif import load_whatif

WHATIF = Path(__file__).parents[1] / "data" / "whatif"


@pytest.fixture(scope="module")
def baseline():
    return scenario_yaml.load_scenario(WHATIF / "baseline.yaml")


def whatif(tmp_path, changes: str, baseline):
    path = tmp_path / "whatif.yaml"
    path.write_text(f"name: changed\nchanges: {changes}\n")
    return load_whatif(path, baseline)


def test_a_count_alone_keeps_the_hardware_and_the_rest(tmp_path, baseline):
    scenario = whatif(tmp_path, "{count: 2}", baseline)
    assert (scenario.system.id, scenario.system.accelerator_count) == (baseline.system.id, 2)
    assert replace(scenario, name=baseline.name, system=baseline.system) == baseline


def test_a_kv_dtype_alone_keeps_the_weight_dtype(tmp_path, baseline):
    scenario = whatif(tmp_path, "{kv_dtype: fp8}", baseline)
    assert (scenario.precision.dtype, scenario.precision.kv_dtype) == (baseline.precision.dtype, "fp8")


def test_a_partial_engine_block_keeps_every_other_baseline_setting(tmp_path, baseline):
    scenario = whatif(tmp_path, "{engine: {max_num_seqs: 7}}", baseline)
    assert scenario.engine == replace(baseline.engine, max_num_seqs=7)
    assert scenario.name == "changed"


@pytest.mark.parametrize("changes, expected", [
    ("{hardware: nope}", r"whatif.yaml: changes: unknown hardware 'nope'"),
    ("{placement: bogus}", r"whatif.yaml: changes: placement 'bogus'"),
    ("{count: x}", r"whatif.yaml: changes.count: expected a whole number; got 'x'"),
    ("{techniques: {speculative: {draft_model: llama-3.2-1b, acceptance: 2}}}",
     r"whatif.yaml: changes.techniques: .*acceptance"),
])
def test_errors_are_located_in_the_changes_block(tmp_path, baseline, changes, expected):
    with pytest.raises(InputError, match=expected):
        whatif(tmp_path, changes, baseline)


def test_changing_a_value_to_the_baselines_own_is_no_change(tmp_path, baseline):
    with pytest.raises(InputError, match="changes: the what-if changes nothing from the baseline"):
        whatif(tmp_path, f"{{hardware: {baseline.system.id}}}", baseline)
