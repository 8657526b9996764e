"""Memory tiers: placement syntax, offloaded step costs, capacities."""
import pytest

from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.loading import catalog
from hwsim.perf.offload import check_fit, storage_read_bytes_per_s
from hwsim.perf.step_model import StepModel
from hwsim.specs import deployment
from hwsim.specs.deployment import Deployment
from hwsim.specs.placement import Placement, parse
from hwsim.specs.shape import StepShape
from hwsim.studies import validate

LLAMA = catalog.model("llama-3-8b")
H200 = catalog.system("h200-sxm")


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


def test_weights_streamed_over_pcie5_take_bytes_over_achieved_bandwidth():
    """Decode at batch 1 with every weight in host memory: the link, not compute, sets the pace."""
    step = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"))).cost(StepShape.decode(1, 512))
    link = H200.host_link
    weight_bytes = sum(c.op.weight_bytes * c.op.repeat for c in
                       StepModel(Deployment(LLAMA, H200)).cost(StepShape.decode(1, 512)).costs if c.op.kind == "gemm")
    assert step.bytes_per_step["h2d"] == pytest.approx(weight_bytes, rel=0.01)
    assert step.time_s == pytest.approx(weight_bytes / link.achieved_bytes_per_s, rel=0.03)
    assert step.bound == "h2d"


def test_overlap_takes_the_max_and_copy_then_compute_the_sum():
    shape = StepShape.prefill(4, 2048)  # enough compute to matter next to the transfers
    overlapped = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"), offload=deployment.OffloadOptions(overlap=True))).cost(shape)
    serial = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"), offload=deployment.OffloadOptions(overlap=False))).cost(shape)
    parts = overlapped.parts_s
    assert overlapped.layer_s == pytest.approx(max(parts["device"], parts["h2d"]))
    assert serial.layer_s == pytest.approx(parts["device"] + parts["h2d"])
    assert serial.time_s > overlapped.time_s


def test_pageable_host_memory_is_slower_than_pinned():
    shape = StepShape.decode(1, 100)
    pinned = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"), offload=deployment.OffloadOptions(pinned=True))).cost(shape)
    pageable = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"), offload=deployment.OffloadOptions(pinned=False))).cost(shape)
    assert pageable.time_s > 3 * pinned.time_s


def test_host_attention_reads_dram_and_moves_only_queries_and_outputs():
    system = catalog.system("flexgen-t4")
    model = catalog.model("opt-30b")
    shape = StepShape.decode(144, 530)
    on_host = StepModel(Deployment(model, system, precision=deployment.Precision("fp16"), placement=parse("weights=device:0.2,host:0.8;kv=host"))).cost(shape)
    kv_to_device = StepModel(Deployment(model, system, precision=deployment.Precision("fp16"), placement=parse("weights=device:0.2,host:0.8;kv=host;attention_compute=device"))).cost(shape)
    assert on_host.parts_s["host"] > 0 and kv_to_device.parts_s["host"] == 0
    cache_bytes = 144 * 531 * model.num_layers * 2 * model.hidden_size * 2  # the KV read each step
    extra = kv_to_device.bytes_per_step["h2d"] - on_host.bytes_per_step["h2d"]
    assert extra == pytest.approx(cache_bytes, rel=0.02)


def test_gh200_streams_weights_over_nvlink_c2c_much_faster_than_pcie():
    shape = StepShape.decode(1, 512)
    c2c = StepModel(Deployment(LLAMA, catalog.system("gh200"), precision=deployment.Precision(), placement=parse("weights=host"))).cost(shape)
    pcie = StepModel(Deployment(LLAMA, catalog.system("h100-sxm"), precision=deployment.Precision(), placement=parse("weights=host"))).cost(shape)
    assert pcie.time_s > 5 * c2c.time_s


def test_disk_tier_reads_through_the_drive():
    step = StepModel(Deployment(LLAMA, catalog.system("zero-inference-a6000"), precision=deployment.Precision(), placement=parse("weights=device:0.5,disk:0.5"))).cost(StepShape.decode(1, 100))
    assert step.bound == "disk"
    assert step.bytes_per_step["disk"] == pytest.approx(step.bytes_per_step["h2d"] - 0.5 * 2 * LLAMA.vocab_size
                                                        * LLAMA.hidden_size, rel=0.05)


def test_small_random_flash_reads_are_latency_bound():
    ssd = catalog.storage("nvme-pcie4")
    small = storage_read_bytes_per_s(ssd, 4096, queue_depth=1)
    assert small == pytest.approx(4096 / (ssd.read_latency_s + 4096 / ssd.read_bandwidth_bytes_per_s))
    assert small < 0.15e9
    assert storage_read_bytes_per_s(ssd, 4 << 20, queue_depth=32) == pytest.approx(ssd.read_bandwidth_bytes_per_s)


def test_a_tier_the_system_lacks_is_an_error():
    with pytest.raises(HwsimError, match="has no storage"):
        StepModel(Deployment(LLAMA, catalog.system("h100-sxm").__class__(**{**catalog.system("h100-sxm").__dict__,
                                                                      "storage": ()}), precision=deployment.Precision(), placement=parse("weights=disk"))).cost(StepShape.decode(1, 10))
    with pytest.raises(HwsimError, match="no accelerator"):
        check_fit(LLAMA, catalog.system("ryzen-7950x"), deployment.Precision(), parse("weights=device:0.5,host:0.5"), 1, 100)


def test_capacity_exceeded_names_the_tier_and_bytes():
    with pytest.raises(DoesNotFitError, match=r"host tier of flexgen-t4 is over capacity: needs 349 GB, has 208 GB"):
        check_fit(catalog.model("opt-175b"), catalog.system("flexgen-t4"), deployment.Precision("fp16"), parse("weights=host"),
                  1, 100)
    check_fit(catalog.model("opt-30b"), catalog.system("flexgen-t4"), deployment.Precision("fp16"),
              parse("weights=device:0.2,host:0.8;kv=host"), 144, 544)


def test_offloaded_step_rows_are_predicted(tmp_path):

    path = tmp_path / "rows.csv"
    path.write_text("id,kind,hardware,model,dtype,phase,batch,context_len,placement,overlap,launch,metric,value\n"
                    "o-1,step,h200-sxm,llama-3-8b,bf16,decode,1,512,weights=host,true,graph,seconds,0.3\n"
                    "o-2,step,h200-sxm,llama-3-8b,bf16,decode,1,512,weights=host,false,graph,seconds,0.3\n"
                    "o-3,step,h200-sxm,llama-3-8b,bf16,decode,1,512,weights=moon,true,graph,seconds,0.3\n")
    rows = validate.validate([str(path)]).set_index("id")
    assert rows.loc["o-1", "predicted"] == pytest.approx(15.0e9 / 55.4e9 + 0.02, rel=0.1)
    assert rows.loc["o-2", "predicted"] > rows.loc["o-1", "predicted"]
    assert "unknown tier 'moon'" in rows.loc["o-3", "reason"]


def test_offloaded_serving_runs_and_keeps_kv_in_host_memory():
    from hwsim.serving.simulate import simulate
    from hwsim.specs.scenario import EngineConfig, Scenario
    from hwsim.specs.workload import Lengths, Workload

    workload = Workload("block", "offline", count=16, prompt=Lengths("fixed", 512), output=Lengths("fixed", 8))
    scenario = Scenario("off", catalog.system("flexgen-t4"), catalog.model("opt-30b"), deployment.Precision("fp16"), workload,
                        engine=EngineConfig(batching="static", max_num_seqs=16),
                        placement=parse("weights=device:0.2,host:0.8;kv=host;act=host"))
    result = simulate(scenario)
    assert result.kv_blocks_total > 16 * (520 // 16)  # host DRAM holds the cache, not the 16 GB T4
    assert result.summary["output_tokens_per_s"] > 0



def test_offload_plan_finds_feasible_policies_and_ranks_them():
    from hwsim.studies.offload_plan import search

    model, system = catalog.model("opt-30b"), catalog.system("flexgen-t4")
    ranked = search(model, system, 512, 32, deployment.Precision("fp16"))
    best = ranked[0]
    assert best.throughput == max(c.throughput for c in ranked)
    assert best.placement.share("weights", "device") < 1.0  # 60 GB of weights cannot live on a 16 GB T4
    assert best.batch >= 64  # a large batch amortizes each weight transfer
    for candidate in ranked:
        check_fit(model, system, deployment.Precision("fp16"), candidate.placement, candidate.batch, 544)
        assert "bound by" in candidate.why()


def test_offload_plan_prefers_the_device_when_everything_fits():
    from hwsim.studies.offload_plan import search

    ranked = search(LLAMA, catalog.system("h100-sxm"), 512, 64, batches=(1, 8, 64))
    assert ranked[0].placement.on_device and ranked[0].batch == 64


def test_in_storage_attention_beats_reading_the_kv_off_the_same_drives():
    """InstInfer: the drives attend over their own flash; only queries and outputs cross PCIe."""
    system = catalog.system("instinfer-a6000")
    model = catalog.model("llama-2-13b")
    shape = StepShape.decode(64, 1152)
    in_drive = StepModel(Deployment(model, system, precision=deployment.Precision("fp16"), placement=parse("kv=disk;attention_compute=storage"))).cost(shape)
    from_ssd = StepModel(Deployment(model, system, precision=deployment.Precision("fp16"), placement=parse("kv=disk"))).cost(shape)
    from_host = StepModel(Deployment(model, system, precision=deployment.Precision("fp16"), placement=parse("kv=host"))).cost(shape)
    assert in_drive.bound == "storage" and from_ssd.bound == "disk"
    assert from_ssd.time_s > 2 * in_drive.time_s
    assert "disk" not in in_drive.bytes_per_step  # the cache never leaves the drives
    assert in_drive.bytes_per_step["csd_link"] < 0.001 * from_ssd.bytes_per_step["disk"]
    assert from_host.time_s < in_drive.time_s  # DRAM is still the fastest place for the cache


def test_in_storage_attention_needs_computational_storage_and_kv_on_it():
    with pytest.raises(HwsimError, match="no computational storage"):
        StepModel(Deployment(LLAMA, catalog.system("h100-sxm"), precision=deployment.Precision(), placement=parse("kv=disk;attention_compute=storage"))).cost(StepShape.decode(1, 10))
    with pytest.raises(HwsimError, match="kv=disk"):
        StepModel(Deployment(LLAMA, catalog.system("instinfer-a6000"), precision=deployment.Precision(), placement=parse("kv=host;attention_compute=storage"))).cost(StepShape.decode(1, 10))


def test_remote_attention_pool_moves_queries_and_outputs_over_the_network():
    """Lamina-style: the KV cache lives in the memory-optimized pool; per layer only the new
    tokens' queries and attention outputs (and their new K/V) cross the network."""
    system = catalog.system("lamina-h100-h20")
    model = catalog.model("llama-3-70b")
    batch = 64
    step = StepModel(Deployment(model, system, precision=deployment.Precision("fp8"), placement=parse("kv=remote;attention_compute=remote"))).cost(StepShape.decode(batch, 2047))
    per_layer = batch * (model.q_width + model.attention_output_width) * 2 + batch * model.kv_elements_per_token_per_layer() * 2
    assert step.bytes_per_step["network"] == pytest.approx(per_layer * model.num_layers, rel=0.01)
    assert "h2d" not in step.bytes_per_step
    assert step.parts_s["remote"] > 0


def test_remote_pool_holds_a_cache_the_main_device_cannot():
    from hwsim.perf.estimate import estimate

    model, system = catalog.model("llama-3-70b"), catalog.system("lamina-h100-h20")
    with pytest.raises(DoesNotFitError):
        estimate(Deployment(model, catalog.system("h100-sxm"), deployment.Precision("fp8")), 128, 2048, 256)
    result = estimate(Deployment(model, system, deployment.Precision("fp8"), placement=parse("kv=remote;attention_compute=remote")), 128, 2048, 256)
    assert result.tier_needs["remote"] > 80e9 and result.output_tokens_per_s > 0


def test_remote_tier_needs_an_attention_pool():
    with pytest.raises(HwsimError, match="no attention pool"):
        StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("kv=remote;attention_compute=remote"))).cost(StepShape.decode(1, 10))


def test_small_transfer_chunks_slow_the_weight_stream():
    shape = StepShape.decode(1, 100)
    whole = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"))).cost(shape)
    chunked = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"), offload=deployment.OffloadOptions(chunk_bytes=64 << 10))).cost(shape)
    assert chunked.time_s > 3 * whole.time_s


def test_gpudirect_streams_drive_to_device_in_one_stage():
    system = catalog.system("zero-inference-a6000")
    shape = StepShape.decode(1, 100)
    where = parse("weights=device:0.5,disk:0.5")
    bounce = StepModel(Deployment(LLAMA, system, precision=deployment.Precision(), placement=where, offload=deployment.OffloadOptions(overlap=False))).cost(shape)
    direct = StepModel(Deployment(LLAMA, system, precision=deployment.Precision(), placement=where, offload=deployment.OffloadOptions(overlap=False, gpudirect=True))).cost(shape)
    assert direct.time_s < bounce.time_s
    assert direct.parts_s["disk"] == pytest.approx(bounce.parts_s["disk"])  # the drive stays the slow stage
