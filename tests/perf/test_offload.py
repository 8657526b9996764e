"""Memory tiers: offloaded step costs, experts copied to or computed on the host, capacities."""
import pytest

from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.loading import catalog
from hwsim.perf import moe
from hwsim.perf.offload import check_fit, storage_read_bytes_per_s
from hwsim.perf.step_model import StepModel
from hwsim.specs import deployment
from hwsim.specs.deployment import Deployment
from hwsim.specs.placement import parse
from hwsim.specs.shape import StepShape

LLAMA = catalog.model("llama-3-8b")
H200 = catalog.system("h200-sxm")
MIXTRAL = catalog.model("mixtral-8x7b")


def test_weights_streamed_over_pcie5_take_bytes_over_achieved_bandwidth():
    """Decode at batch 1 with every layer weight in host memory: the link, not compute, sets the pace.
    The LM head stays on the device, which reads it every step."""
    step = StepModel(Deployment(LLAMA, H200, precision=deployment.Precision(), placement=parse("weights=host"))).cost(StepShape.decode(1, 512))
    link = H200.host_link
    weight_bytes = sum(c.op.weight_bytes * c.op.repeat for c in
                       StepModel(Deployment(LLAMA, H200)).cost(StepShape.decode(1, 512)).costs
                       if c.op.kind == "gemm" and c.op.block != "head")
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
    # every byte read off the drive crosses the host link; the LM head stays on the device
    assert step.bytes_per_step["disk"] == pytest.approx(step.bytes_per_step["h2d"], rel=0.01)


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
    with pytest.raises(DoesNotFitError, match=r"host tier of flexgen-t4 is over capacity: needs 348 GB, has 208 GB"):
        check_fit(catalog.model("opt-175b"), catalog.system("flexgen-t4"), deployment.Precision("fp16"), parse("weights=host"),
                  1, 100)
    check_fit(catalog.model("opt-30b"), catalog.system("flexgen-t4"), deployment.Precision("fp16"),
              parse("weights=device:0.2,host:0.8;kv=host"), 144, 544)


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


def test_experts_in_host_memory_are_copied_before_they_run():
    h200 = catalog.system("h200-sxm")
    step = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=parse("experts=host")), active_experts=2.0).cost(StepShape.decode(1, 100))
    per_expert = 3 * 4096 * 14336 * 2
    assert step.bytes_per_step["h2d"] == pytest.approx(32 * 2 * per_expert, rel=0.01)


def test_resident_experts_cut_the_traffic_by_the_hit_rate():
    h200 = catalog.system("h200-sxm")
    routing = moe.zipf(8, 2, 1.2)
    setup = deployment.ExpertSetup(routing=routing)
    shape = StepShape.decode(1, 100)
    streamed = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=parse("experts=host"), experts=setup)).cost(shape)
    half = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=parse("experts=device:0.5,host:0.5"), offload=deployment.OffloadOptions(expert_cache="static"), experts=setup)).cost(shape)
    hit = moe.set_hit_rate(routing, moe.most_popular(routing, 4), tokens=1)
    assert half.bytes_per_step["h2d"] == pytest.approx(streamed.bytes_per_step["h2d"] * (1 - hit), rel=0.01)


def test_experts_computed_on_the_host_stay_there():
    system = catalog.system("ktransformers-4090")
    model = catalog.model("deepseek-v3")
    step = StepModel(Deployment(model, system, precision=deployment.Precision("int4", weight_bits=4.5), placement=parse("experts=host;experts_compute=host"))).cost(StepShape.decode(1, 1000))
    assert step.parts_s["host"] > 0
    assert step.bytes_per_step.get("h2d", 0.0) < 1e9  # no routed expert crosses PCIe


def test_prefetching_hides_misses_when_copies_do_not_overlap():
    h200 = catalog.system("h200-sxm")
    setup = deployment.ExpertSetup(routing=moe.zipf(8, 2, 1.2))
    shape = StepShape.decode(4, 100)
    where = parse("experts=device:0.5,host:0.5")
    plain = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=where, offload=deployment.OffloadOptions(overlap=False), experts=setup)).cost(shape)
    early = StepModel(Deployment(MIXTRAL, h200, precision=deployment.Precision(), placement=where, offload=deployment.OffloadOptions(overlap=False, prefetch_experts=2), experts=setup)).cost(shape)
    assert early.time_s < plain.time_s


def test_pageable_weights_cross_the_link_at_the_staging_rate_and_pinned_kv_at_the_link_rate():
    """FlexGen's --pin-weight 0: the weights' host memory is pageable, the KV cache's pinned."""
    pinned = parse("weights=host;kv=host;attention_compute=device")
    mixed = parse("weights=host;kv=host;attention_compute=device;pinned=weights:false")
    shape = StepShape.decode(8, 2048)
    fast = StepModel(Deployment(LLAMA, H200, placement=pinned)).cost(shape)
    slow = StepModel(Deployment(LLAMA, H200, placement=mixed)).cost(shape)
    assert fast.bytes_per_step == slow.bytes_per_step  # the same bytes move, only slower
    link = H200.host_link
    weights = sum(c.op.weight_bytes * c.op.repeat for c in StepModel(Deployment(LLAMA, H200)).cost(shape).costs
                  if c.op.kind == "gemm" and c.op.block != "head")
    staged_extra_s = weights / link.pageable_bandwidth_bytes_per_s - weights / link.achieved_bytes_per_s
    assert slow.time_s - fast.time_s == pytest.approx(staged_extra_s, rel=0.05)


def test_an_lm_head_in_host_memory_crosses_the_link_every_step():
    shape = StepShape.decode(1, 512)
    kept = StepModel(Deployment(LLAMA, H200, placement=parse("weights=host"))).cost(shape)
    moved = StepModel(Deployment(LLAMA, H200, placement=parse("weights=host;lm_head=host"))).cost(shape)
    head_bytes = LLAMA.lm_head_parameters() * 2.0
    assert moved.time_s - kept.time_s == pytest.approx(
        H200.host_link.latency_s + head_bytes / H200.host_link.achieved_bytes_per_s, rel=0.01)


def test_materialized_attention_runs_where_attention_runs():
    """HuggingFace eager attention with the cache in host memory (ZeRO-Inference's KV offload): the
    upcast, scores, softmax and values all run on the CPU, whose share of a layer is their sum."""
    from hwsim.perf import roofline
    from hwsim.perf.offload import MATERIALIZED_ATTENTION
    from hwsim.specs.deployment import UNFUSED_MATH

    llama70 = catalog.model("llama-2-70b")
    system = catalog.system("zero-inference-a6000")
    setup = Deployment(llama70, system, implementation=UNFUSED_MATH, placement=parse("weights=host;kv=host"))
    shape = StepShape.decode(16, 512)
    step = StepModel(setup).cost(shape)
    on_device = StepModel(Deployment(llama70, system, implementation=UNFUSED_MATH)).cost(shape)
    host_s = sum(roofline.op_cost(c.op, system.host_compute).time_s for c in on_device.costs
                 if c.op.role in MATERIALIZED_ATTENTION) / llama70.num_layers
    assert step.parts_s["host"] == pytest.approx(host_s)
