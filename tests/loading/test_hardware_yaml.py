"""Hardware profile YAML: strict fields with units, defaults for the calibration block, and a
record of every datasheet figure read without a source."""
import pytest

from hwsim.base.errors import InputError
from hwsim.loading import catalog, hardware_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.specs.hardware import DEFAULT_PERFORMANCE

LINK = {"id": "test-link", "kind": "link", "name": "a test link", "bandwidth": "32 GB/s", "efficiency": 0.8,
        "latency": "2 us", "sources": {"bandwidth": "a datasheet"}}


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


def test_a_link_profile_reads_its_quantities_in_si_units():
    link = hardware_yaml.load_link(Fields(dict(LINK), "link.yaml"))
    assert link.bandwidth_bytes_per_s == 32e9 and link.latency_s == pytest.approx(2e-6)
    assert link.achieved_bytes_per_s == pytest.approx(0.8 * 32e9)
    assert link.pageable_bandwidth_bytes_per_s is None and link.full_duplex
    assert link.missing_sources == ()


def test_a_datasheet_figure_without_a_source_is_recorded_unless_its_section_has_one():
    link = hardware_yaml.load_link(Fields({**LINK, "pageable_bandwidth": "10 GB/s"}, "link.yaml"))
    assert link.missing_sources == ("pageable_bandwidth",)
    accelerator = catalog.accelerator("l4")  # `memory:` cites the datasheet for capacity, bandwidth and L2
    assert not any(path.startswith("memory.") for path in accelerator.missing_sources)


def test_an_absent_performance_block_takes_the_defaults_for_every_dtype():
    perf = hardware_yaml.load_performance(Fields({}, "gpu.yaml", "performance"))
    assert set(perf.gemm_efficiency.values()) == {DEFAULT_PERFORMANCE["gemm_efficiency"]}
    assert perf.kernel_overhead_s == DEFAULT_PERFORMANCE["kernel_overhead_s"]
    assert perf.l2_bandwidth_bytes_per_s is None


def test_a_performance_block_overrides_only_what_it_gives():
    base = hardware_yaml.load_performance(Fields({}, "gpu.yaml", "performance"))
    perf = hardware_yaml.load_performance(Fields({"gemm_efficiency": {"fp8": 0.5}, "kernel_overhead": "4 us"},
                                                 "gpu.yaml", "performance"), base)
    assert perf.gemm_efficiency == {**base.gemm_efficiency, "fp8": 0.5}
    assert perf.kernel_overhead_s == pytest.approx(4e-6)
    assert perf.memory_efficiency == base.memory_efficiency


def test_a_gemm_efficiency_for_an_unknown_dtype_lists_the_known_ones():
    with pytest.raises(InputError, match=r"performance.gemm_efficiency.fp6: unknown dtype; expected one of fp32, tf32"):
        hardware_yaml.load_performance(Fields({"gemm_efficiency": {"fp6": 0.5}}, "gpu.yaml", "performance"))


def test_an_unknown_link_name_lists_the_known_links(tmp_path):
    path = _write_gpu(tmp_path, lambda s: s.replace("host_link: pcie4-x16", "host_link: pcie9-x16"))
    with pytest.raises(InputError, match=r"host_link: unknown link 'pcie9-x16'; expected one of .*pcie4-x16"):
        hardware_yaml.load_accelerator(load_yaml(path), catalog.links())


def test_a_cpu_gives_its_rates_per_instruction_set_or_as_peak_not_both(tmp_path):
    source = catalog.hardware_files("cpus")["ryzen-7950x"].read_text()
    fields = load_yaml(_written(tmp_path, source.replace("isa:", "peak: {fp32: 1 TFLOP/s}\nisa:", 1)))
    with pytest.raises(InputError, match="either per instruction set"):
        hardware_yaml.load_cpu(fields)
    cpu = hardware_yaml.load_cpu(load_yaml(_written(tmp_path, source)))
    assert cpu.compute.peak_flops_per_s["int8"] == max(r.get("int8", 0) for r in cpu.compute.isa_peaks.values())


def test_a_unified_memory_gpu_has_no_host_link(tmp_path):
    source = catalog.hardware_files("gpus")["apple-m1-max-gpu"].read_text()
    with pytest.raises(InputError, match="a unified-memory device has no host link"):
        hardware_yaml.load_accelerator(load_yaml(_written(tmp_path, source + "host_link: pcie4-x16\n")),
                                       catalog.links())
    assert hardware_yaml.load_accelerator(load_yaml(_written(tmp_path, source)), catalog.links()).host_link is None


def test_a_kernel_curve_is_a_fraction_or_fractions_by_rows(tmp_path):
    source = catalog.hardware_files("gpus")["l4"].read_text()
    block = "\n  kernels:\n    int4-marlin: {compute: fp16, memory_efficiency: {1: 0.5, 64: 0.8}, source: a test}\n"
    text = source.replace("performance:", "performance:" + block.rstrip("\n"), 1)
    device = hardware_yaml.load_accelerator(load_yaml(_written(tmp_path, text)), catalog.links(),
                                            catalog.backend_kernels())
    assert device.compute.kernel("int4-marlin").memory_efficiency.at(8) == pytest.approx(0.65)
    assert "q4_0" in device.compute.performance.kernels  # the backend's defaults stay beside it
    bad = text.replace("{1: 0.5, 64: 0.8}", "{one: 0.5}")
    with pytest.raises(InputError, match="expected a row count M"):
        hardware_yaml.load_accelerator(load_yaml(_written(tmp_path, bad)), catalog.links())


def _written(tmp_path, text: str):
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return path
