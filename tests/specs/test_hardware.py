"""Hardware as data: achieved link rates, peak rates with their stand-in dtypes, and what a system
computes with when it has accelerators and when it has only CPUs."""
from dataclasses import replace

import pytest

from hwsim.loading import catalog
from hwsim.specs.hardware import ComputeSpec, Link

H100 = catalog.system("h100-sxm")
LINK = Link("l", "a link", bandwidth_bytes_per_s=64e9, efficiency=0.75, latency_s=1e-6,
            pageable_bandwidth_bytes_per_s=None, full_duplex=True)


def compute(peaks: dict) -> ComputeSpec:
    return replace(H100.compute, peak_flops_per_s=peaks)


def test_a_link_achieves_its_efficiency_times_its_bandwidth():
    assert LINK.achieved_bytes_per_s == 48e9


def test_a_peak_rate_falls_back_to_the_dtype_that_runs_it():
    device = compute({"fp16": 100e12, "fp32": 10e12, "int8": 400e12})
    assert device.peak("fp16") == 100e12
    assert device.peak("bf16") is None  # an accelerator without bf16 math cannot run bf16
    assert device.peak("tf32") == 10e12
    assert device.peak("int4") == 400e12
    assert device.peak("fp8") is None  # no stand-in: a missing rate is not guessed


def test_an_accelerated_system_computes_on_its_accelerator():
    assert H100.compute is H100.accelerator.compute
    assert H100.device_name == H100.accelerator.name
    assert H100.with_count(4).accelerator_count == 4 and H100.accelerator_count == 1


def test_a_cpu_only_system_computes_on_all_its_sockets_out_of_dram():
    one = catalog.system("ryzen-7950x")
    two = replace(one, sockets=2, dram_bytes=2 * one.dram_bytes, numa="interleave")
    socket = two.cpu.compute
    assert two.dram_bandwidth_bytes_per_s == 2 * socket.memory_bandwidth_bytes_per_s  # no socket link: no cap
    assert replace(two, numa="local").dram_bandwidth_bytes_per_s == socket.memory_bandwidth_bytes_per_s
    assert two.compute.memory_bytes == two.dram_bytes
    assert two.compute.units == 2 * socket.units
    assert two.compute.peak("fp32") == pytest.approx(2 * socket.peak_flops_per_s["fp32"])
    assert two.device_name == f"2x {two.cpu.name}"


def test_a_missing_16_bit_rate_is_fp32_on_a_cpu_the_other_half_on_an_engine_and_absent_on_a_gpu():
    from hwsim.loading import catalog

    t4 = catalog.accelerator("t4").compute
    assert t4.peak("bf16") is None and t4.peak("fp16") == t4.peak_flops_per_s["fp16"]
    ryzen = catalog.cpu("ryzen-7950x").compute
    assert "fp16" not in ryzen.peak_flops_per_s and ryzen.peak("fp16") == ryzen.peak_flops_per_s["fp32"]
    drive = next(d for d, _ in catalog.system("instinfer-a6000").storage if d.compute is not None)
    assert drive.compute.peak("bf16") == drive.compute.peak("fp16")


def test_a_gpu_without_bf16_refuses_a_bf16_deployment(capsys):
    from hwsim.output.cli import main

    assert main(["estimate", "--hardware", "t4", "--model", "llama-3.2-1b", "--dtype", "bf16"]) == 2
    assert "no bf16 compute rate" in capsys.readouterr().err
