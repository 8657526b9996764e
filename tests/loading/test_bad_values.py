"""Bad values in input files: each is one InputError naming the file, the field, the value and what
was expected, never another exception, a silent default or a computation that would not finish."""
import pickle
from pathlib import Path

import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, hardware_yaml, scenario_yaml, workload_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.loading.hf_config import from_hf_config
from hwsim.loading.model_yaml import load_model
from hwsim.loading.plan_yaml import load_plan
from hwsim.loading.techniques_yaml import load_techniques
from hwsim.loading.whatif import load_whatif
from hwsim.studies import calibrate

WHATIF = Path(__file__).parents[1] / "data" / "whatif"
LENGTHS = "prompt_tokens: {kind: fixed, value: 100}\noutput_tokens: {kind: fixed, value: 10}\n"
PLAN_HEAD = ("model: llama-3-8b\nworkload:\n  arrival: {kind: poisson, rate: 1}\n"
             "  prompt_tokens: {kind: fixed, value: 100}\n  output_tokens: {kind: fixed, value: 10}\n"
             "  requests: 10\n")


def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def shipped(kind: str, item: str) -> str:
    return catalog.hardware_files(kind)[item].read_text()


# --- hardware profiles and calibration overlays -----------------------------------------------

def test_a_nan_efficiency_in_a_gpu_profile_names_the_field_and_the_value(tmp_path):
    text = shipped("gpus", "h100-sxm").replace("attention_efficiency: 0.62", "attention_efficiency: .nan")
    path = write(tmp_path, "gpu.yaml", text)
    with pytest.raises(InputError, match=r"gpu.yaml: performance.attention_efficiency: expected a finite number; "
                                         r"got nan$"):
        hardware_yaml.load_accelerator(load_yaml(path), catalog.links())


def test_a_nan_gemm_efficiency_in_a_calibration_overlay_is_refused(tmp_path):
    overlay = write(tmp_path, "overlay.yaml", "hardware: h200-sxm\nperformance: {gemm_efficiency: {bf16: .nan}}\n")
    with pytest.raises(InputError, match=r"overlay.yaml: performance.gemm_efficiency.bf16: expected a finite number; "
                                         r"got nan$"):
        calibrate.load_overlay(overlay)


@pytest.mark.parametrize("old, new, expected", [
    ("capacity: 80 GiB", "capacity: 1e400 GiB", r"memory.capacity: expected a finite quantity"),
    ("capacity: 80 GiB", "capacity: 1e30 GiB", r"memory.capacity: '1e30 GiB' is beyond any real hardware"),
    ("kernel_overhead: 3 us", "kernel_overhead: -3 us", r"performance.kernel_overhead: must not be negative"),
    ("sm_count: 132", "sm_count: .inf", r"sm_count: expected a whole number; got inf"),
    ("sockets: 2", "sockets: 100000", r"server.sockets: must be at most 64; got 100000"),
])
def test_out_of_range_hardware_figures_are_refused(tmp_path, old, new, expected):
    path = write(tmp_path, "gpu.yaml", shipped("gpus", "h100-sxm").replace(old, new))
    with pytest.raises(InputError, match=expected):
        hardware_yaml.load_accelerator(load_yaml(path), catalog.links())


def test_units_are_read_in_any_single_case(tmp_path):
    path = write(tmp_path, "gpu.yaml", shipped("gpus", "h100-sxm").replace("capacity: 80 GiB", "capacity: 80 gib"))
    device = hardware_yaml.load_accelerator(load_yaml(path), catalog.links())
    assert device.compute.memory_bytes == 80 * 2**30


def test_sources_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "link.yaml", shipped("links", "nvlink4").split("sources:")[0] + "sources: [a, b]\n")
    with pytest.raises(InputError, match=r"link.yaml: sources: expected a mapping of names to text"):
        hardware_yaml.load_link(load_yaml(path))


# --- model profiles and HuggingFace configs ---------------------------------------------------

DENSE = {"id": "tiny", "name": "tiny", "hidden_size": 64, "num_layers": 2, "num_heads": 8, "intermediate_size": 128,
         "vocab_size": 1000, "max_positions": 512}


@pytest.mark.parametrize("changes, expected", [
    ({"num_layers": 1_000_000_000}, r"tiny.yaml: num_layers: must be at most 10,000; got 1000000000$"),
    ({"num_layers": 1.6e13}, r"tiny.yaml: num_layers: expected a whole number; got 16000000000000.0$"),
    ({"num_layers": "1e9"}, r"tiny.yaml: num_layers: expected a whole number; got '1e9'$"),
    ({"num_heads": 100}, r"tiny.yaml: num_heads: must not exceed hidden_size \(64\) unless head_dim is given"),
    ({"moe": {"experts": 4, "top_k": 2, "expert_intermediate_size": 32, "dense_layers": 3}},
     r"tiny.yaml: moe.dense_layers: must not exceed num_layers \(2\); got 3$"),
    ({"published_parameters": float("nan")}, r"published_parameters: expected a finite number; got nan"),
])
def test_impossible_or_endless_model_shapes_are_refused(changes, expected):
    with pytest.raises(InputError, match=expected):
        load_model(Fields({**DENSE, **changes}, "tiny.yaml"))


LLAMA_CONFIG = ('{"hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 2, "intermediate_size": 128, '
                '"vocab_size": 1000, "max_position_embeddings": 512')


@pytest.mark.parametrize("text, expected", [
    (LLAMA_CONFIG + ', "num_key_value_heads": 7}', r"config.json: num_key_value_heads: must divide num_heads \(32\); "
                                                   r"got 7$"),
    (LLAMA_CONFIG.replace('"num_attention_heads": 32', '"num_attention_heads": 0') + "}",
     r"config.json: num_attention_heads: must be at least 1; got 0$"),
    ("[1, 2]", r"config.json: expected a JSON object \(a HuggingFace config.json\); got a list$"),
    (LLAMA_CONFIG + ', "num_local_experts": 8, "num_experts_per_tok": NaN}',
     r"config.json: num_experts_per_tok: expected a whole number; got nan$"),
    (LLAMA_CONFIG.replace('"num_hidden_layers": 2', '"num_hidden_layers": 1000000000') + "}",
     r"config.json: num_hidden_layers: must be at most 10,000; got 1000000000$"),
    (LLAMA_CONFIG + ', "tie_word_embeddings": "yes"}', r"config.json: tie_word_embeddings: expected true or false"),
    ("", r"config.json: the file is empty; expected a HuggingFace config.json$"),
])
def test_bad_hf_configs_name_the_key_they_spell(tmp_path, text, expected):
    with pytest.raises(InputError, match=expected):
        from_hf_config(write(tmp_path, "config.json", text))


# --- workloads and traces ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("arrival: {kind: poisson, rate: 1}\nrequests: 5\n"
     "prompt_tokens: {kind: lognormal, median: .nan, sigma: 1, max: 100}\noutput_tokens: {kind: fixed, value: 1}\n",
     r"w.yaml: prompt_tokens.median: expected a finite number; got nan$"),
    ("arrival: {kind: poisson, rate: 1}\nrequests: 5\nprompt_tokens: {kind: fixed, value: 1}\n"
     "output_tokens: {kind: lognormal, median: .nan, sigma: 1, max: 100}\n",
     r"w.yaml: output_tokens.median: expected a finite number; got nan$"),
    ("arrival: {kind: poisson, rate: 1}\nrequests: 5\n"
     "prompt_tokens: {kind: lognormal, median: 400, sigma: 1, min: 5000, max: 100}\n"
     "output_tokens: {kind: fixed, value: 1}\n",
     r"w.yaml: prompt_tokens.max: must be at least min \(5000\); got 100$"),
    ("arrival: {kind: poisson, rate: 1}\nrequests: 5\nprompt_tokens: {kind: fixed, value: 1}\n"
     "output_tokens: {kind: lognormal, median: 21000, sigma: 0.8, min: 8, max: 2048}\n",
     r"w.yaml: output_tokens.median: must be between min \(8\) and max \(2048\); got 21000$"),
    ("arrival: {kind: poisson, rate: .inf}\nrequests: 5\n" + LENGTHS,
     r"w.yaml: arrival.rate: expected a finite number; got inf$"),
    ("arrival: {kind: poisson, rate: 1}\nrequests: 1000000000000\n" + LENGTHS,
     r"w.yaml: requests: must be at most 10,000,000; got 1000000000000$"),
    ("arrival: {kind: poisson, rate: 1000}\nduration: 1e6 s\n" + LENGTHS,
     r"w.yaml: duration: 1e\+06 s at 1000 requests/s is about 1,000,000,000 requests; at most 10,000,000"),
    ("arrival: {kind: offline}\nrequests: 5\nprompt_tokens: {kind: fixed, value: 20000000}\n"
     "output_tokens: {kind: fixed, value: 1}\n",
     r"w.yaml: prompt_tokens.value: must be at most 10,000,000; got 20000000$"),
    ("arrival: {kind: gamma, rate: 1, cv: 1e9}\nrequests: 5\n" + LENGTHS,
     r"w.yaml: arrival.cv: must be at most 100.0; got 1000000000.0$"),
])
def test_bad_workload_values_name_the_field(tmp_path, text, expected):
    with pytest.raises(InputError, match=expected):
        workload_yaml.load_workload(write(tmp_path, "w.yaml", text))


SKIP = r"\(on_bad_row: skip leaves such rows out\)$"


@pytest.mark.parametrize("rows, expected", [
    ("-1,10,5\n2,10,5\n", r"t.csv: timestamp_s: row 1: expected a time in seconds, finite and not negative, got -1 "
                        + SKIP),
    ("2,10,5\n1,10,5\n", r"t.csv: timestamp_s: row 2: expected times in order \(no earlier than the row before\), "
                         r"got 1 \(sort: true sorts them\)$"),
    ("nan,10,5\n", r"t.csv: timestamp_s: row 1: expected a time in seconds, finite and not negative, got nan " + SKIP),
    ("0,10.5,5\n", r"t.csv: prompt_tokens: row 1: expected a whole token count from 1 to 10,000,000, got 10.5 " + SKIP),
    ("0,10,0\n", r"t.csv: output_tokens: row 1: expected a whole token count from 1 to 10,000,000, got 0 " + SKIP),
    ("0,10,abc\n", r"t.csv: output_tokens: row 1: expected a whole token count from 1 to 10,000,000, got 'abc' " + SKIP),
    ("", r"t.csv: the trace has no requests; expected one row per request$"),
])
def test_bad_trace_rows_are_errors_naming_the_row_never_dropped(tmp_path, rows, expected):
    write(tmp_path, "t.csv", "timestamp_s,prompt_tokens,output_tokens\n" + rows)
    with pytest.raises(InputError, match=expected):
        workload_yaml.load_workload(write(tmp_path, "w.yaml", "arrival: {kind: trace, file: t.csv}\n"))


@pytest.mark.parametrize("lines, expected", [
    ('{"timestamp_s": 0, "prompt_tokens": 3.5, "output_tokens": 1}\n', r"prompt_tokens: row 1: expected a whole"),
    ('{"timestamp_s": 1, "prompt_tokens": 3, "output_tokens": 1}\n{"timestamp_s": 0, "prompt_tokens": 3, '
     '"output_tokens": 1}\n', r"timestamp_s: row 2: expected times in order"),
    ('[1, 2, 3]\n', r"t.jsonl: line 1: expected a JSON object with timestamp_s, prompt_tokens, output_tokens; got list"),
    ('{"timestamp_s": true, "prompt_tokens": 3, "output_tokens": 1}\n', r"timestamp_s: row 1: expected a time"),
])
def test_bad_json_lines_traces_name_the_row(tmp_path, lines, expected):
    write(tmp_path, "t.jsonl", lines)
    with pytest.raises(InputError, match=expected):
        workload_yaml.load_workload(write(tmp_path, "w.yaml", "arrival: {kind: trace, file: t.jsonl}\n"))


def test_a_fractional_empirical_length_is_an_error_not_truncated(tmp_path):
    write(tmp_path, "lengths.txt", "10\n20.5\n")
    text = "arrival: {kind: offline}\nrequests: 5\nprompt_tokens: {kind: empirical, file: lengths.txt}\n" \
           "output_tokens: {kind: fixed, value: 1}\n"
    with pytest.raises(InputError, match=r"lengths.txt: line 2: expected a whole token count from 1 to 10,000,000, "
                                         r"got '20.5'$"):
        workload_yaml.load_workload(write(tmp_path, "w.yaml", text))


# --- scenarios, plans, what-ifs and techniques -------------------------------------------------

@pytest.mark.parametrize("extra, expected", [
    ("placement: experts=host\n", r"s.yaml: placement: placement experts=host: llama-3-8b is a dense model with no "
                                  r"routed experts to place$"),
    ("placement: kv=host;kv=device\n", r"s.yaml: placement: placement: kv is named twice in 'kv=host;kv=device'; "
                                       r"give each class once$"),
    ("replicas: 1000000000\n", r"s.yaml: replicas: must be at most 4,096; got 1000000000$"),
    ("count: 1000000\n", r"s.yaml: count: must be at most 4,096; got 1000000$"),
    ("engine: {gpu_memory_utilization: .nan}\n", r"s.yaml: engine.gpu_memory_utilization: expected a finite number"),
    ("disaggregation: {prefill_replicas: 1, decode_replicas: 1, link: nvlink9}\n",
     r"s.yaml: disaggregation.link: unknown link 'nvlink9'"),
    ("techniques: {kernel_speedup: {atention: 3}}\n",
     r"s.yaml: techniques.kernel_speedup.atention: names no operator kind or role; did you mean attention"),
    ("techniques: {kv_kept: .nan}\n", r"s.yaml: techniques.kv_kept: expected a finite number; got nan$"),
])
def test_bad_scenario_values_name_the_field(tmp_path, extra, expected):
    text = "hardware: h100-sxm\nmodel: llama-3-8b\nworkload: {arrival: {kind: offline}, requests: 2, " \
           "prompt_tokens: {kind: fixed, value: 8}, output_tokens: {kind: fixed, value: 2}}\n" + extra
    with pytest.raises(InputError, match=expected):
        scenario_yaml.load_scenario(write(tmp_path, "s.yaml", text))


def test_a_routing_exponent_that_is_not_finite_is_refused(tmp_path):
    text = "hardware: h100-sxm\nmodel: mixtral-8x7b\nmoe: {routing: 'zipf:nan'}\nworkload: chat\n"
    with pytest.raises(InputError, match=r"s.yaml: moe.routing: routing 'zipf:nan': the exponent must be a number"):
        scenario_yaml.load_scenario(write(tmp_path, "s.yaml", text))


@pytest.mark.parametrize("body, expected", [
    ("slo: {tpot: 50 ms, percentile: .nan}\nsearch: {hardware: [h100-sxm]}\n",
     r"plan.yaml: slo.percentile: expected a finite number; got nan$"),
    ("slo: {tpot: 50 ms, percentile: 99.9}\nsearch: {hardware: [h100-sxm]}\n",
     r"plan.yaml: slo.percentile: expected one of 50, 90, 99; got 99.9$"),
    ("slo: {tpot: 50 ms}\nsearch: {hardware: [h100-sxm], tensor_parallel: [.nan]}\n",
     r"plan.yaml: search.tensor_parallel: expected whole numbers; got nan$"),
    ("slo: {tpot: 50 ms}\nsearch: {hardware: [h100-sxm], replicas: [0]}\n",
     r"plan.yaml: search.replicas: expected whole numbers from 1 to 4,096; got 0$"),
    ("slo: {tpot: 50 ms}\nsearch: {hardware: [h100-sxm], max_num_seqs: [0]}\n",
     r"plan.yaml: search.max_num_seqs: expected whole numbers from 1 to 1,000,000; got 0$"),
    ("slo: {tpot: 50 ms}\nsearch: {hardware: [h100-sxm], placement: [experts=host]}\n",
     r"plan.yaml: search.placement: placement experts=host: llama-3-8b is a dense model"),
    ("slo: {tpot: 50 ms}\nsearch: {hardware: [h100-sxm], replicas: [" + ", ".join(map(str, range(1, 4001)))
     + "], max_num_seqs: [1, 2, 3]}\n", r"plan.yaml: search: the search space has 12,000 candidates; at most 10,000"),
])
def test_bad_plan_values_name_the_field(tmp_path, body, expected):
    with pytest.raises(InputError, match=expected):
        load_plan(write(tmp_path, "plan.yaml", PLAN_HEAD + body))


def test_an_infinite_arrival_rate_in_a_plan_names_the_workload_field(tmp_path):
    head = PLAN_HEAD.replace("rate: 1}", "rate: .inf}")
    with pytest.raises(InputError, match=r"plan.yaml: workload.arrival.rate: expected a finite number; got inf$"):
        load_plan(write(tmp_path, "plan.yaml", head + "slo: {tpot: 50 ms}\nsearch: {hardware: [h100-sxm]}\n"))


@pytest.fixture(scope="module")
def baseline():
    return scenario_yaml.load_scenario(WHATIF / "baseline.yaml")


def test_an_unknown_draft_model_in_a_what_if_is_one_error_that_survives_a_process_pool(tmp_path, baseline):
    path = write(tmp_path, "w.yaml", "changes:\n  techniques: {speculative: {draft_model: nope}}\n")
    with pytest.raises(InputError, match=r"w.yaml: changes.techniques.speculative.draft_model: unknown model 'nope'") \
            as error:
        load_whatif(path, baseline)
    copied = pickle.loads(pickle.dumps(error.value))
    assert str(copied) == str(error.value) and isinstance(copied, InputError)


def test_a_what_if_cannot_place_experts_of_a_dense_model(tmp_path, baseline):
    path = write(tmp_path, "w.yaml", "changes: {placement: experts=host}\n")
    with pytest.raises(InputError, match=r"w.yaml: changes: placement experts=host: llama-3-8b is a dense model"):
        load_whatif(path, baseline)


def test_kernel_speedups_may_name_kinds_and_roles_but_nothing_else():
    read = load_techniques(Fields({"kernel_speedup": {"attention": 2.0, "qkv_proj": 1.5}}, "s.yaml", "techniques"))
    assert read.kernel_speedup == (("attention", 2.0), ("qkv_proj", 1.5))
    with pytest.raises(InputError, match=r"s.yaml: techniques.kernel_speedup.atention: names no operator"):
        load_techniques(Fields({"kernel_speedup": {"atention": 3}}, "s.yaml", "techniques"))
    with pytest.raises(InputError, match=r"techniques.kernel_speedup.fast: names no operator kind or role; expected "
                                         r"one of gemm, attention, elementwise, collective, embedding"):
        load_techniques(Fields({"kernel_speedup": {"fast": 3}}, "s.yaml", "techniques"))
    with pytest.raises(HwsimError, match=r"kernel_speedup.gemm must be greater than zero; got 0.0"):
        load_techniques(Fields({"kernel_speedup": {"gemm": 0}}, "s.yaml", "techniques"))
