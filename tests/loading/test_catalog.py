"""Every shipped profile loads by its id and cites its sources; unknown ids list close matches."""
from dataclasses import replace

import pytest

from hwsim.base.errors import UnknownIdError
from hwsim.loading import catalog

REQUIRED_HARDWARE = [
    "a100-sxm-40gb", "a100-sxm-80gb", "a100-pcie-80gb", "h100-sxm", "h100-pcie", "h200-sxm", "gh200", "l40s",
    "l4", "a6000", "rtx-6000-ada", "rtx-4090", "rtx-3090", "t4", "mi300x",
    "flexgen-t4", "zero-inference-a6000", "ktransformers-4090", "ryzen-7950x", "m1-max-laptop",
]
REQUIRED_CPUS = ["xeon-8480", "xeon-6454s", "epyc-9654", "ryzen-7950x", "apple-m1-max", "apple-m2-ultra"]
REQUIRED_STORAGE = ["nvme-pcie4", "nvme-pcie5", "smartssd"]
REQUIRED_LINKS = ["pcie3-x16", "pcie4-x16", "pcie5-x16", "nvlink3", "nvlink4", "nvlink-c2c", "infiniband-hdr"]


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


def test_one_process_on_a_two_socket_host_reads_one_sockets_dram_unless_interleaved_or_replicated():
    ktrans = catalog.system("ktransformers-4090")
    assert ktrans.sockets == 2
    assert ktrans.numa == "replicate"  # ktransformers' dual-socket mode: a copy of the experts per socket
    assert ktrans.dram_bandwidth_bytes_per_s == pytest.approx(2 * 307.2e9)
    assert replace(ktrans, numa="local").dram_bandwidth_bytes_per_s == pytest.approx(307.2e9)
    # interleaved pages: both sockets' controllers, each socket's remote half over the socket link
    link = ktrans.cpu.socket_link_bandwidth_bytes_per_s
    interleaved = replace(ktrans, numa="interleave")
    assert interleaved.dram_bandwidth_bytes_per_s == pytest.approx(2 * min(307.2e9, 2 * link))


def test_cpu_only_system_computes_on_its_sockets():
    desktop = catalog.system("ryzen-7950x")
    assert desktop.accelerator is None
    assert desktop.compute.memory_bandwidth_bytes_per_s == pytest.approx(83.2e9)


def test_unknown_ids_list_close_matches():
    with pytest.raises(UnknownIdError, match="h100-sxm"):
        catalog.system("h100-sxn")
    with pytest.raises(UnknownIdError, match="llama-3-8b"):
        catalog.model("llama3-8b")
