"""Every shipped profile loads, cites its sources, and matches the published model sizes."""
import pytest

from hwsim.base.errors import HwsimError, InputError, UnknownIdError
from hwsim.loading import catalog, hardware_yaml
from hwsim.loading.fields import load_yaml

REQUIRED_HARDWARE = [
    "a100-sxm-40gb", "a100-sxm-80gb", "a100-pcie-80gb", "h100-sxm", "h100-pcie", "h200-sxm", "gh200", "l40s",
    "l4", "a6000", "rtx-6000-ada", "rtx-4090", "rtx-3090", "t4", "mi300x",
    "flexgen-t4", "zero-inference-a6000", "ktransformers-4090", "ryzen-7950x", "m1-max-laptop",
]
REQUIRED_CPUS = ["xeon-8480", "xeon-6454s", "epyc-9654", "ryzen-7950x", "apple-m1-max", "apple-m2-ultra"]
REQUIRED_STORAGE = ["nvme-pcie4", "nvme-pcie5", "smartssd"]
REQUIRED_LINKS = ["pcie3-x16", "pcie4-x16", "pcie5-x16", "nvlink3", "nvlink4", "nvlink-c2c", "infiniband-hdr"]
REQUIRED_MODELS = [
    "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-405b", "mistral-7b",
    "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-7b", "qwen2.5-72b", "qwen3-30b-a3b", "qwen3-235b-a22b",
    "deepseek-v3", "opt-6.7b", "opt-13b", "opt-30b", "opt-66b", "opt-175b", "yi-34b",
]


@pytest.mark.parametrize("hardware_id", REQUIRED_HARDWARE)
def test_every_hardware_id_loads_as_a_system(hardware_id):
    system = catalog.system(hardware_id)
    assert system.compute.memory_bytes > 0
    assert system.compute.memory_bandwidth_bytes_per_s > 0
    assert system.dram_bytes > 0


def test_component_ids_load():
    for cpu_id in REQUIRED_CPUS:
        assert catalog.cpu(cpu_id).cores > 0
    for storage_id in REQUIRED_STORAGE:
        assert catalog.storage(storage_id).read_bandwidth_bytes_per_s > 0
    for link_id in REQUIRED_LINKS:
        assert catalog.link(link_id).bandwidth_bytes_per_s > 0


def test_every_datasheet_figure_cites_a_source():
    loaders = {"gpus": catalog.accelerator, "cpus": catalog.cpu, "storage": catalog.storage, "links": catalog.link}
    unsourced = {}
    for kind, load in loaders.items():
        for item_id in catalog.hardware_files(kind):
            missing = load(item_id).missing_sources
            if missing:
                unsourced[item_id] = missing
    assert unsourced == {}


def test_h200_profile_holds_datasheet_figures():
    h200 = catalog.accelerator("h200-sxm")
    assert h200.compute.peak("bf16") == pytest.approx(989.4e12)
    assert h200.compute.peak("fp8") == pytest.approx(1978.9e12)
    assert h200.compute.memory_bandwidth_bytes_per_s == pytest.approx(4.8e12)
    assert h200.compute.units == 132
    assert h200.host_link.bandwidth_bytes_per_s == pytest.approx(63e9)


def test_gh200_reaches_grace_memory_over_nvlink_c2c():
    gh200 = catalog.system("gh200")
    assert gh200.cpu.id == "grace"
    assert gh200.host_link.id == "nvlink-c2c"
    assert gh200.dram_bytes == pytest.approx(480e9)


def test_cpu_only_system_computes_on_its_sockets():
    ktrans = catalog.system("ktransformers-4090")
    assert ktrans.sockets == 2
    assert ktrans.dram_bandwidth_bytes_per_s == pytest.approx(2 * 307.2e9)
    desktop = catalog.system("ryzen-7950x")
    assert desktop.accelerator is None
    assert desktop.compute.memory_bandwidth_bytes_per_s == pytest.approx(83.2e9)


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_parameter_counts_match_published(model_id):
    model = catalog.model(model_id)
    assert model.parameters() == pytest.approx(model.published_parameters, rel=0.01)
    if model.published_active_parameters:
        assert model.parameters(active_only=True) == pytest.approx(model.published_active_parameters, rel=0.03)


def test_llama_3_8b_has_8_03_billion_parameters():
    assert catalog.model("llama-3-8b").parameters() == pytest.approx(8.03e9, rel=0.001)


def test_unknown_ids_list_close_matches():
    with pytest.raises(UnknownIdError, match="h100-sxm"):
        catalog.system("h100-sxn")
    with pytest.raises(UnknownIdError, match="llama-3-8b"):
        catalog.model("llama3-8b")


def _write_gpu(tmp_path, text: str):
    path = tmp_path / "bad.yaml"
    source = catalog.hardware_files("gpus")["l4"].read_text()
    path.write_text(text(source))
    return path


def test_unknown_key_names_file_and_field(tmp_path):
    path = _write_gpu(tmp_path, lambda s: s.replace("sm_count: 58", "sm_count: 58\nsm_cuont: 58"))
    with pytest.raises(InputError) as info:
        hardware_yaml.load_accelerator(load_yaml(path), catalog.links())
    assert str(path) in str(info.value) and "sm_cuont" in str(info.value) and "unknown field" in str(info.value)


def test_value_without_unit_is_rejected_with_the_expectation(tmp_path):
    path = _write_gpu(tmp_path, lambda s: s.replace("bandwidth: 300 GB/s", "bandwidth: 300"))
    with pytest.raises(InputError) as info:
        hardware_yaml.load_accelerator(load_yaml(path), catalog.links())
    message = str(info.value)
    assert "memory.bandwidth" in message and "TB/s" in message and str(path) in message


def test_missing_field_is_named(tmp_path):
    path = _write_gpu(tmp_path, lambda s: s.replace("tdp: 72 W\n", ""))
    with pytest.raises(InputError, match="tdp: missing required field"):
        hardware_yaml.load_accelerator(load_yaml(path), catalog.links())


def test_hf_config_becomes_a_profile(data_dir):
    model = catalog.model(str(data_dir / "llama-3-8b-config.json"))
    assert model.parameters() == pytest.approx(8.03e9, rel=0.001)
    assert model.num_kv_heads == 8


def test_hf_moe_config_keeps_experts(data_dir):
    model = catalog.model(str(data_dir / "mixtral-config.json"))
    assert model.moe.experts == 8 and model.moe.top_k == 2
    assert model.parameters() == pytest.approx(46.7e9, rel=0.01)


def test_bad_model_profile_rejects_top_k_above_experts(tmp_path):
    source = catalog.model_files()["mixtral-8x7b"].read_text().replace("top_k: 2", "top_k: 9")
    path = tmp_path / "mixtral-8x7b.yaml"
    path.write_text(source)
    with pytest.raises(HwsimError, match="top_k"):
        catalog.model(str(path))
