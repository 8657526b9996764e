"""The placement syntax, what it defaults to, and which systems can hold a placement."""
from dataclasses import replace

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.specs.placement import Placement, check_tiers, parse, tier_capacity_bytes


def test_nothing_or_device_means_everything_on_the_accelerator():
    for text in (None, "", " device "):
        assert parse(text) == Placement()
    assert Placement().on_device
    assert Placement().describe() == "weights=device;kv=device;act=device"


def test_splits_shares_and_what_routed_experts_follow():
    placement = parse("weights=device:0.2,host:0.8; act=host")
    assert placement.weights == (("device", 0.2), ("host", 0.8))
    assert placement.share("weights", "host") == 0.8
    assert placement.share("experts", "host") == 0.8  # no experts= given: they follow the weights
    assert placement.share("kv", "disk") == 0.0
    assert placement.tiers_used() == {"device", "host"}
    assert not placement.on_device


def test_a_kv_cache_wholly_in_host_memory_moves_attention_to_the_host_unless_told_otherwise():
    assert parse("kv=host").attention_compute == "host"
    assert parse("kv=host;attention_compute=device").attention_compute == "device"
    assert parse("kv=device:0.5,host:0.5").attention_compute == "device"
    assert parse("kv=host").describe() == "weights=device;kv=host;act=device;attention_compute=host"


@pytest.mark.parametrize("text, expected", [
    ("weights", "placement 'weights': expected what=tier[:fraction],... (e.g. weights=device:0.2,host:0.8)"),
    ("cache=host", "placement: unknown class 'cache'; expected one of weights, kv, act, experts, lm_head, "
                   "attention_compute, experts_compute, pinned"),
    ("attention_compute=gpu", "placement attention_compute: expected one of device, host, storage, remote; "
                              "got 'gpu'"),
    ("kv=nvme", "placement kv: unknown tier 'nvme'; expected one of device, host, disk, remote"),
    ("kv=device:half", "placement kv: fraction 'half' of device is not a number"),
    ("kv=device,host", "placement kv: give a fraction for every tier when splitting ('device,host')"),
    ("kv=host:1.5", "placement kv: fraction of host must be between 0 and 1; got 1.5"),
    ("kv=device:0.5,host:0.4", "placement kv: fractions must add up to 1; 'device:0.5,host:0.4' adds up to 0.9"),
])
def test_errors_name_the_part_that_is_wrong(text, expected):
    with pytest.raises(HwsimError) as error:
        parse(text)
    assert str(error.value) == expected


def test_a_cpu_only_system_runs_everything_on_its_cpu_out_of_dram():
    cpu_only = catalog.system("ryzen-7950x")
    check_tiers(Placement(), cpu_only)  # the empty placement: everything on the host
    assert tier_capacity_bytes(cpu_only, "device") == cpu_only.dram_bytes
    check_tiers(parse("weights=host;kv=host;act=host;experts_compute=host"), cpu_only)
    with pytest.raises(HwsimError, match="both are its DRAM"):
        check_tiers(parse("weights=device:0.5,host:0.5"), cpu_only)


def test_a_unified_memory_gpu_has_no_host_tier_to_offload_to():
    mac = catalog.system("m1-max-laptop")
    check_tiers(parse("weights=device:0.5,disk:0.5"), mac)
    with pytest.raises(HwsimError, match="unified memory"):
        check_tiers(parse("kv=host"), mac)


def test_pinned_names_the_classes_whose_host_memory_is_pageable():
    assert parse("weights=host;pinned=false").pageable == ("weights", "kv", "act", "experts", "lm_head")
    assert parse("weights=host;kv=host;pinned=weights:false,kv:true").pageable == ("weights",)
    assert parse("weights=host;pinned=weights:false").describe() == "weights=host;kv=device;act=device;pinned=weights:false"
    with pytest.raises(HwsimError, match="weights is named twice"):
        parse("weights=host;pinned=weights:false,weights:true")
    with pytest.raises(HwsimError, match="placement pinned: expected"):
        parse("weights=host;pinned=weights:no")


@pytest.mark.parametrize("text, expected", [
    ("kv=disk;attention_compute=storage", "placement attention_compute=storage, but h100-sxm has no "
                                          "computational storage"),
    ("kv=host;attention_compute=remote", "placement attention_compute=remote, but h100-sxm has no attention pool"),
    ("experts_compute=remote", "placement experts_compute=remote is not modeled; expected device or host"),
])
def test_processors_must_exist_in_the_system(text, expected):
    with pytest.raises(HwsimError) as error:
        check_tiers(parse(text), catalog.system("h100-sxm"))
    assert str(error.value) == expected


def test_attention_off_the_device_needs_the_whole_kv_cache_beside_it():
    with pytest.raises(HwsimError, match=r"attention_compute=storage needs the KV cache on the drives \(kv=disk\)"):
        check_tiers(parse("kv=host;attention_compute=storage"), catalog.system("instinfer-a6000"))
    with pytest.raises(HwsimError, match=r"attention_compute=remote needs the KV cache in the pool \(kv=remote\)"):
        check_tiers(parse("kv=host;attention_compute=remote"), catalog.system("lamina-h100-h20"))


def test_a_disk_tier_needs_drives():
    without_drives = replace(catalog.system("h100-sxm"), storage=())
    with pytest.raises(HwsimError, match="placement uses disk, but h100-sxm has no storage"):
        check_tiers(parse("weights=device:0.5,disk:0.5"), without_drives)


def test_tier_capacities_count_every_drive_and_pool_device():
    system = catalog.system("h100-sxm")
    drive = system.storage[0][0]
    pool_device = catalog.accelerator("h20")
    system = replace(system, storage=((drive, 3),), attention_pool=(pool_device, 4, system.host_link))
    assert tier_capacity_bytes(system, "device") == 80 * 2**30  # one accelerator's memory
    assert tier_capacity_bytes(system, "host") == system.dram_bytes
    assert tier_capacity_bytes(system, "disk") == 3 * drive.capacity_bytes
    assert tier_capacity_bytes(system, "remote") == 4 * pool_device.compute.memory_bytes


def test_placement_syntax_of_the_measurement_schema():
    placement = parse("weights=device:0.2,host:0.8;kv=host;act=host")
    assert placement.share("weights", "host") == 0.8 and placement.share("weights", "device") == 0.2
    assert placement.share("kv", "host") == 1.0 and placement.share("act", "device") == 0.0
    assert placement.attention_compute == "host"  # KV wholly in host memory: the CPU attends
    assert parse("experts=host;experts_compute=host").experts_compute == "host"
    assert parse("kv=host;attention_compute=device").attention_compute == "device"
    assert parse("") == Placement() and parse("device").on_device


@pytest.mark.parametrize("text, expected", [
    ("weights=device:0.5,host:0.4", "add up to 1"),
    ("weights=gpu", "unknown tier 'gpu'"),
    ("cache=host", "unknown class 'cache'"),
    ("weights=device:x,host:0.5", "is not a number"),
    ("weights=device,host", "give a fraction for every tier"),
    ("attention_compute=fpga", "expected one of device, host"),
])
def test_bad_placements_name_the_problem(text, expected):
    with pytest.raises(HwsimError, match=expected):
        parse(text)
