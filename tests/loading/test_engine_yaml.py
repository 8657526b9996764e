"""Serving-engine profiles: every shipped one loads with a source per setting, a scenario starts from
one and overrides what it names, and bad engine input is one clear line."""
import pytest

from hwsim.base.errors import InputError, UnknownIdError
from hwsim.loading import catalog
from hwsim.loading.fields import Fields
from hwsim.loading.scenario_yaml import engine_settings


@pytest.mark.parametrize("name", ["vllm-0.6", "vllm-v1", "sglang", "tensorrt-llm", "tensorrt-llm-cpp", "llama.cpp-server"])
def test_every_shipped_engine_profile_loads_and_cites_each_setting(name):
    engine = catalog.engine(name)
    assert engine.profile == name
    sources = catalog.load_yaml(catalog.engine_files()[name]).data["sources"]
    for key in ("max_num_seqs", "max_num_batched_tokens", "block_size", "cuda_graph_sizes", "uncaptured",
                "prefix_caching"):
        assert key in sources, key


def test_a_scenario_engine_starts_from_its_profile_and_overrides_what_it_names():
    engine = engine_settings(Fields({"profile": "vllm-v1", "max_num_seqs": 64}, "s.yaml", "engine"))
    profile = catalog.engine("vllm-v1")
    assert engine.max_num_seqs == 64
    assert engine.cuda_graph_sizes == profile.cuda_graph_sizes and engine.graph_steps == "all"
    assert engine.sequence_overhead_s == profile.sequence_overhead_s and engine.profile == "vllm-v1"


@pytest.mark.parametrize("block, expected", [
    ({"profile": "vllm-v2"}, "s.yaml: engine.profile: unknown engine 'vllm-v2'"),
    ({"cuda_graph_sizes": [8, 4]}, "engine.cuda_graph_sizes: expected increasing batch sizes"),
    ({"cuda_graph_sizes": "all"}, "engine.cuda_graph_sizes: expected a list of whole batch sizes"),
    ({"graph_steps": "prefill"}, "engine.graph_steps: expected one of decode, all"),
    ({"max_num_seq": 8}, "engine.max_num_seq: unknown field"),
])
def test_bad_engine_settings_name_the_field(block, expected):
    with pytest.raises(InputError) as error:
        engine_settings(Fields(block, "s.yaml", "engine"))
    assert expected in str(error.value)


def test_an_unknown_engine_lists_close_matches():
    with pytest.raises(UnknownIdError, match="vllm-v1"):
        catalog.engine("vllm-v2")


@pytest.mark.parametrize("software, profile", [
    ("vllm-0.6.3", "vllm-0.6"), ("vllm-0.7.3", "vllm-0.6"), ("vllm-0.8.5", "vllm-v1"), ("vllm-0.11", "vllm-v1"),
    ("vllm", "vllm-v1"), ("sglang-0.4.6", "sglang"), ("tensorrt-llm-0.14.0", "tensorrt-llm-cpp"),
    ("tensorrt-llm-1.0", "tensorrt-llm"), ("nim-1.8.0", "tensorrt-llm-cpp"), ("llama.cpp-b2824", "llama.cpp-server"),
    ("flexgen", None), ("pytorch", None), ("deepspeed-zero-inference", None),
])
def test_a_measurement_engine_maps_to_its_nearest_profile(software, profile):
    assert catalog.nearest_engine(software) == profile
