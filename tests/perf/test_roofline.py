"""The roofline: limits it must reach and the fixed costs around it."""
from dataclasses import replace

import pytest

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.perf import roofline
from hwsim.perf.ops import Op

H200 = catalog.system("h200-sxm").compute


def test_memory_bound_op_takes_bytes_over_achieved_bandwidth():
    op = Op("stream", "gemm", "bf16", flops=1e6, weight_bytes=4e9)
    cost = roofline.op_cost(op, H200, "graph")
    bandwidth = H200.memory_bandwidth_bytes_per_s * H200.performance.gemm_memory_efficiency
    assert cost.bound == "memory"
    assert cost.time_s == pytest.approx(4e9 / bandwidth, rel=0.01)


def test_compute_bound_op_takes_flops_over_achieved_rate():
    op = Op("big", "gemm", "bf16", flops=1e15, weight_bytes=1e8)
    cost = roofline.op_cost(op, H200, "graph")
    assert cost.bound == "compute"
    assert cost.time_s == pytest.approx(1e15 / (989.4e12 * H200.performance.gemm_efficiency["bf16"]), rel=0.01)


def test_near_the_ridge_both_limits_show():
    perf = H200.performance
    rate = 989.4e12 * perf.gemm_efficiency["bf16"]
    bandwidth = H200.memory_bandwidth_bytes_per_s * perf.gemm_memory_efficiency
    op = Op("ridge", "gemm", "bf16", flops=rate * 1e-3, weight_bytes=bandwidth * 1e-3)
    busy = roofline.op_cost(op, H200, "graph").time_s - perf.kernel_overhead_s
    assert 1e-3 < busy < 2e-3


def test_smooth_max_is_bounded_by_max_and_sum():
    for a, b in [(1.0, 1.0), (1.0, 0.1), (3.0, 2.0)]:
        value = roofline.smooth_max(a, b, 3.0)
        assert max(a, b) <= value <= a + b
    assert roofline.smooth_max(1.0, 1e-9, 3.0) == pytest.approx(1.0)


def test_eager_launch_puts_a_floor_under_small_kernels():
    tiny = Op("tiny", "elementwise", "bf16", act_bytes=1024)
    graph = roofline.op_cost(tiny, H200, "graph")
    eager = roofline.op_cost(tiny, H200, "eager")
    assert graph.time_s == pytest.approx(H200.performance.kernel_overhead_s, rel=0.01)
    assert eager.time_s == pytest.approx(H200.performance.eager_dispatch_s)
    assert eager.bound == "launch"


def test_missing_dtype_is_an_error_not_a_guess():
    t4 = catalog.system("t4").compute
    with pytest.raises(Exception, match="fp8"):
        roofline.op_cost(Op("x", "gemm", "fp8", flops=1e9, weight_bytes=1e6), t4)


def test_many_small_copies_are_slower_than_one_large_copy():
    link = catalog.link("pcie5-x16")
    one = roofline.transfer_s(512 * 2**20, link)
    chunked = roofline.transfer_s(512 * 2**20, link, chunk_bytes=16 * 2**10, issue_s=9e-6)
    assert one == pytest.approx(link.latency_s + 512 * 2**20 / (63e9 * link.efficiency))
    assert chunked > 10 * one


def test_pageable_copies_use_the_pageable_bandwidth():
    link = catalog.link("pcie5-x16")
    assert roofline.transfer_s(1e9, link, pageable=True) > 2 * roofline.transfer_s(1e9, link)


def test_allreduce_cost():
    link = catalog.link("nvlink4")
    assert roofline.allreduce_s(1e9, 1, link) == 0.0
    eight = roofline.allreduce_s(1e9, 8, link)
    assert eight == pytest.approx(6 * link.latency_s + 14 / 8 * 1e9 / link.achieved_bytes_per_s)
    tiny = roofline.allreduce_s(1e3, 8, link)
    assert tiny == pytest.approx(6 * link.latency_s, rel=0.01)  # small messages: latency-bound tree


def test_device_copy_from_l2_when_it_fits():
    small = roofline.device_copy_s(8 * 2**20, H200)
    no_l2 = roofline.device_copy_s(8 * 2**20, replace(H200, performance=replace(H200.performance,
                                                                                 l2_bandwidth_bytes_per_s=None)))
    assert small < no_l2


def _quantized_gemm(m: int, n: int = 4096, k: int = 4096, fmt: str = "int4-tinygemm") -> Op:
    return Op("gemm", "gemm", "bf16", flops=2.0 * m * n * k, weight_bytes=n * k * 4.25 / 8,
              act_bytes=(m * k + m * n) * 2, m=m, n=n, k=k, weight_format=fmt)


def test_a_quantized_gemm_costs_its_kernel_by_hand():
    """compute = FLOPs at the bf16 rate + every row's unpacking at the fp32 rate; memory = bytes at
    the kernel's share of bandwidth; joined with the kernel's own sharpness, plus its fixed cost."""
    kernel = H200.kernel("int4-tinygemm")
    op = _quantized_gemm(32)
    compute_s = (op.flops / (989.4e12 * H200.performance.gemm_efficiency["bf16"])
                 + 32 * 4096 * 4096 * kernel.dequant_ops_per_weight / 67e12)
    memory_s = op.bytes / (4.8e12 * kernel.memory_efficiency.at(32))
    expected = kernel.call_overhead_s + roofline.smooth_max(compute_s, memory_s, kernel.roofline_sharpness)
    cost = roofline.op_cost(op, H200, "graph")
    assert cost.compute_s == pytest.approx(compute_s) and cost.memory_s == pytest.approx(memory_s)
    assert cost.time_s == pytest.approx(expected)


def test_tinygemm_grows_with_rows_far_faster_than_a_bf16_gemm():
    bf16 = [roofline.op_cost(replace(_quantized_gemm(m), weight_format=None, weight_bytes=4096 * 4096 * 2.0),
                             H200).time_s for m in (1, 64)]
    int4 = [roofline.op_cost(_quantized_gemm(m), H200).time_s for m in (1, 64)]
    assert int4[1] / int4[0] > 4 * bf16[1] / bf16[0]


def test_a_format_without_a_kernel_on_the_device_is_refused():
    cpu = catalog.system("ryzen-7950x").compute
    with pytest.raises(HwsimError, match="no int4-marlin GEMM kernel on this cpu device"):
        roofline.op_cost(_quantized_gemm(1, fmt="int4-marlin"), cpu)


def test_a_cpu_kernel_computes_with_the_first_instruction_set_the_cpu_has():
    cpu = catalog.system("ryzen-7950x").compute  # Zen 4: AVX-512 (VNNI) but no AMX
    kernel = cpu.kernel("q4_0")
    assert cpu.kernel_peak(kernel, "int8") == cpu.isa_peaks["avx512"]["int8"]
    amx_only = replace(kernel, isa=("amx",))
    with pytest.raises(HwsimError, match="computes int8 with amx; this CPU has"):
        cpu.kernel_peak(amx_only, "int8")


def test_pageable_copies_pay_the_staging_cost_and_rate():
    link = catalog.link("pcie5-x16")
    size = 64 * 2**20
    assert roofline.transfer_s(size, link, pageable=True) == pytest.approx(
        link.latency_s + link.pageable_latency_s + size / link.pageable_bandwidth_bytes_per_s)
    with pytest.raises(HwsimError, match="no pageable_bandwidth"):
        roofline.transfer_s(size, catalog.link("nvlink4"), pageable=True)
