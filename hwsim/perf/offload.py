"""Steps whose data does not all live on the accelerator: weights, KV cache and activations spread
over device memory, host DRAM and disk, attention or experts computed by the host CPU.

Per layer, each resource has its own busy time:
    device  the layer's kernels on the accelerator (less what the host computes)
    host    attention (and routed experts) computed by the CPU out of DRAM
    h2d     host-to-device bytes over the host link: offloaded weights, offloaded KV read by the
            device, activations kept on the host, the host's attention outputs
    d2h     device-to-host bytes (the link is full duplex): new KV, queries for host attention
    disk    bytes read from (and KV written to) storage; read bytes then also cross the host link
    storage attention computed inside computational storage drives at their internal flash
            bandwidth and on-card compute; only queries and outputs cross the drives' links
    remote  attention computed by a pool of memory-optimized devices that hold the KV cache, the
            queries and outputs crossing the network each layer (Lamina-style); a prefill's new
            KV is sent to the pool
Host-computed attention sits on the layer's critical path (its queries come from the device, its
outputs go back), so compute = device + host. With `overlap` (layer-by-layer prefetch, double
buffering) a layer takes the longest of compute and the transfers; without it, their sum. When
the host computes, the thread that computes also issues and waits for the host-link copies, so
those copies no longer hide behind compute (FlexGen's fitted cost model has the same structure:
a generation step costs weight loading plus compute). The step is every layer plus the
embedding and the LM head.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from hwsim.base.errors import HwsimError
from hwsim.perf import moe, roofline
from hwsim.perf.step import step_cost
from hwsim.specs.deployment import (
    FUSED,
    ExpertSetup,
    Implementation,
    OffloadOptions,
    Precision,
)
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.placement import Placement, check_capacity, check_tiers
from hwsim.specs.shape import StepShape

COPIES_PER_LAYER = 4  # one copy per weight tensor group of a layer: each pays the link latency


@dataclass(frozen=True)
class TierStep:
    time_s: float
    layer_s: float
    parts_s: dict  # one layer: device, host, h2d, d2h, disk
    bytes_per_step: dict  # h2d, d2h, disk
    bound: str


def offload_step(model: Model, system: System, shape: StepShape, precision: Precision, placement: Placement,
                 options: OffloadOptions = OffloadOptions(), launch: str = "graph",
                 implementation: Implementation = FUSED, layers: int | None = None,
                 active_experts: float | None = None, experts: ExpertSetup | None = None,
                 techniques=None) -> TierStep:
    check_tiers(placement, system)
    layers = model.num_layers if layers is None else layers
    cost = step_cost(model, system, shape, precision, launch, implementation, layers, active_experts, experts,
                     techniques)
    miss_share, prefetched_share = _expert_misses(model, shape, placement, options, experts)
    host = system.host_compute
    parts = {"device": 0.0, "host": 0.0, "storage": 0.0, "remote": 0.0, "h2d": 0.0, "d2h": 0.0, "disk": 0.0,
             "network": 0.0, "prefetch": 0.0}
    moved = {"h2d": 0.0, "d2h": 0.0, "disk": 0.0, "disk_write": 0.0, "csd_link": 0.0, "network": 0.0,
             "prefetch": 0.0}
    outside_s = 0.0  # embedding and head: on the device, their weights follow the weight placement
    outside_weights = 0.0
    a, tokens = precision.act_bytes, shape.tokens
    for c in cost.costs:
        op = c.op
        if op.block in ("embedding", "head"):
            outside_s += c.time_s
            outside_weights += op.weight_bytes * op.repeat
            continue
        share = layers / op.repeat if op.repeat else 0.0  # ops of only some layers (MoE), spread evenly
        per_layer = 1.0 / share if share else 0.0
        # host attention serves decode, where the cache is read; a prefill's KV is born on the device
        on_host = ((op.kind == "attention" and placement.attention_compute == "host" and shape.is_decode_only)
                   or (op.routed_experts and placement.experts_compute == "host"))
        in_drive = op.kind == "attention" and placement.attention_compute == "storage" and shape.is_decode_only
        if in_drive:
            parts["storage"] += in_storage_attention_s(op, system) / layers
            moved["csd_link"] += tokens * (model.q_width + model.attention_output_width) * a
            continue
        if op.kind == "attention" and placement.attention_compute == "remote" and shape.is_decode_only:
            pool, count, _ = system.attention_pool
            parts["remote"] += roofline.op_cost(op, pool.compute).time_s / layers / count
            moved["network"] += tokens * (model.q_width + model.attention_output_width) * a
            continue
        if on_host:
            parts["host"] += roofline.op_cost(op, host).time_s / layers
        else:
            parts["device"] += c.time_s / layers
        what = "experts" if op.routed_experts else "weights"
        offloaded = 1.0 - placement.share(what, "device")
        if op.weight_bytes and not on_host and what == "experts" and offloaded:
            # only cache misses move; the prefetched share of them hides behind compute
            missed = op.weight_bytes * miss_share * per_layer
            moved["prefetch"] += missed * prefetched_share
            moved["h2d"] += missed * (1.0 - prefetched_share)
            moved["disk"] += missed * placement.share(what, "disk") / offloaded
        elif op.weight_bytes and not on_host:
            moved["h2d"] += op.weight_bytes * offloaded * per_layer
            moved["disk"] += op.weight_bytes * placement.share(what, "disk") * per_layer
        if op.kind == "attention":
            kv_away = placement.share("kv", "host") + placement.share("kv", "disk")
            if on_host:  # queries and new K/V go to the host, outputs come back
                moved["d2h"] += tokens * model.q_width / max(1, system.accelerator_count) * a
                moved["h2d"] += tokens * model.attention_output_width * a
                moved["disk"] += op.kv_read_bytes * placement.share("kv", "disk") * per_layer
            elif not op.causal or any(g.kv_len > g.q_len for g in shape.groups):  # a cached prefix is read
                moved["h2d"] += op.kv_read_bytes * kv_away * per_layer
                moved["disk"] += op.kv_read_bytes * placement.share("kv", "disk") * per_layer
        if op.role == "kv_cache_write":
            over_host_link = placement.share("kv", "host") + placement.share("kv", "disk")
            moved["d2h"] += op.kv_write_bytes * over_host_link * per_layer
            moved["disk_write"] += op.kv_write_bytes * placement.share("kv", "disk") * per_layer
            moved["network"] += op.kv_write_bytes * placement.share("kv", "remote") * per_layer
    act_away = 1.0 - placement.share("act", "device")
    moved["h2d"] += tokens * model.hidden_size * a * act_away
    moved["d2h"] += tokens * model.hidden_size * a * act_away
    link = system.host_link
    if link is None and (moved["h2d"] or moved["d2h"]):
        raise HwsimError(f"{system.id} has no host link to move offloaded data over")
    issue_s = system.compute.performance.eager_copy_dispatch_s if options.chunk_bytes else 0.0
    for direction in ("h2d", "d2h", "prefetch"):
        if moved[direction]:
            parts[direction] = COPIES_PER_LAYER * roofline.transfer_s(
                moved[direction] / COPIES_PER_LAYER, link, chunk_bytes=options.chunk_bytes,
                pageable=not options.pinned, issue_s=issue_s)
    if moved["disk"] or moved["disk_write"]:
        parts["disk"] = (disk_read_s(system, moved["disk"]) if moved["disk"] else 0.0) + disk_write_s(
            system, moved["disk_write"])
        to_device = min(moved["disk"], moved["h2d"])  # bytes read from disk for the device
        if options.gpudirect and to_device:
            # the host-link leg of those bytes runs inside the drive-to-device stream
            link_leg = COPIES_PER_LAYER * roofline.transfer_s(to_device / COPIES_PER_LAYER, link)
            parts["disk"] = max(parts["disk"], link_leg)
            parts["h2d"] = max(0.0, parts["h2d"] - link_leg)
    if moved["csd_link"]:
        parts["storage"] += csd_link_s(system, moved["csd_link"])
    if moved["network"]:
        _, count, net = system.attention_pool
        network_s = net.latency_s + moved["network"] / (net.achieved_bytes_per_s * count)
        if parts["remote"]:
            parts["remote"] += network_s  # on the layer's critical path: queries out, outputs back
        else:
            parts["network"] = network_s  # a prefill streams its new KV to the pool behind compute
    # each waits for the other's result
    compute_s = parts["device"] + parts["host"] + parts["storage"] + parts["remote"]
    if not options.overlap:  # copy, then compute; prefetched experts load during the previous layer
        layer_s = max(compute_s, parts["prefetch"]) + parts["h2d"] + parts["d2h"] + parts["disk"] + parts["network"]
    elif parts["host"]:
        layer_s = max(compute_s + parts["h2d"] + parts["prefetch"], parts["d2h"], parts["disk"])
    elif parts["storage"] or parts["remote"]:
        layer_s = max(compute_s, parts["h2d"], parts["d2h"])  # the cache never crosses the host link
    else:
        layer_s = max(compute_s, parts["h2d"] + parts["prefetch"], parts["d2h"], parts["disk"], parts["network"])
    head_away = outside_weights * (1.0 - placement.share("weights", "device"))
    head_s = outside_s + (roofline.transfer_s(head_away, link, pageable=not options.pinned) if head_away else 0.0)
    bound = max(parts, key=parts.get)
    per_step = {k: v * layers for k, v in moved.items() if v}
    if head_away:
        per_step["h2d"] = per_step.get("h2d", 0.0) + head_away
    return TierStep(layers * layer_s + head_s, layer_s, parts, per_step, bound)


def _expert_misses(model: Model, shape: StepShape, placement: Placement, options: OffloadOptions,
                   experts: ExpertSetup | None) -> tuple[float, float]:
    """(share of active experts not resident on the device, share of those prefetched)."""
    if model.moe is None or placement.share("experts", "device") in (0.0, 1.0):
        return 1.0, 0.0

    routing = (experts.routing if experts and experts.routing else None) or moe.uniform(model.moe.experts,
                                                                                          model.moe.top_k)
    resident = round(placement.share("experts", "device") * model.moe.experts)
    if experts and experts.resident is not None:
        hit = moe.set_hit_rate(routing, experts.resident, shape.tokens)
    elif options.expert_cache == "static":
        hit = moe.set_hit_rate(routing, moe.most_popular(routing, resident), shape.tokens)
    else:
        hit = moe.cache_hit_rate(routing, options.expert_cache, resident, shape.tokens)
    return 1.0 - hit, moe.prefetch_coverage(routing, resident, options.prefetch_experts)


def _drives(system: System, computational: bool = False) -> list:
    drives = [(d, n) for d, n in system.storage if d.compute or not computational]
    if not drives:
        raise HwsimError(f"{system.id} has no {'computational ' if computational else ''}storage")
    return drives


def in_storage_attention_s(op, system: System) -> float:
    """Attention over a KV cache spread evenly over computational storage drives: each drive reads
    its share at its internal flash bandwidth and computes it on its own engine, in parallel."""
    drives = _drives(system, computational=True)
    count = sum(n for _, n in drives)
    drive = drives[0][0]
    engine = replace(drive.compute, memory_bandwidth_bytes_per_s=drive.internal_bandwidth_bytes_per_s
                     or drive.read_bandwidth_bytes_per_s)
    return roofline.op_cost(op, engine).time_s / count


def csd_link_s(system: System, bytes_moved: float) -> float:
    """Queries out to the drives and attention outputs back, over the drives' own links."""
    drives = _drives(system, computational=True)
    rate = sum(d.host_link.achieved_bytes_per_s * n for d, n in drives)
    return drives[0][0].host_link.latency_s + bytes_moved / rate


def disk_write_s(system: System, bytes_written: float) -> float:
    if not bytes_written:
        return 0.0
    rate = sum(d.write_bandwidth_bytes_per_s * n for d, n in _drives(system))
    return bytes_written / rate


def disk_read_s(system: System, bytes_read: float, request_bytes: float | None = None, queue_depth: int = 32) -> float:
    """Large reads striped over all drives; see `storage_read_bytes_per_s` for the curve."""
    drives = _drives(system)
    rate = sum(storage_read_bytes_per_s(d, request_bytes or 1 << 20, queue_depth) * n for d, n in drives)
    return drives[0][0].read_latency_s + bytes_read / rate


def storage_read_bytes_per_s(drive, request_bytes: float, queue_depth: int) -> float:
    """Read throughput of one drive for requests of `request_bytes` with `queue_depth` in flight.

    Each request waits the drive's latency to first byte, then streams; with `queue_depth`
    requests in flight the drive delivers queue_depth x size / (latency + size / bandwidth), capped
    by its sequential bandwidth and by its IOPS limit. Small random reads are latency-bound.
    """
    per_request_s = drive.read_latency_s + request_bytes / drive.read_bandwidth_bytes_per_s
    return min(drive.read_bandwidth_bytes_per_s,
               queue_depth * request_bytes / per_request_s,
               drive.random_read_iops * request_bytes)


def tier_needs(model: Model, precision: Precision, placement: Placement, batch: int, context_tokens: int,
               tp: int = 1) -> dict[str, float]:
    """Bytes each tier must hold: weights and KV by their shares (activations are small)."""
    weights = model.weight_bytes(8 * precision.weight_bytes_per_param)
    kv = batch * context_tokens * model.kv_bytes_per_token(precision.kv_bytes)
    needs: dict[str, float] = {}
    for tier in ("device", "host", "disk", "remote"):
        need = weights * placement.share("weights", tier) + kv * placement.share("kv", tier)
        if tier == "device":
            need /= tp
        if need:
            needs[tier] = need
    return needs


def check_fit(model: Model, system: System, precision: Precision, placement: Placement, batch: int,
              context_tokens: int) -> None:
    check_tiers(placement, system)
    check_capacity(tier_needs(model, precision, placement, batch, context_tokens,
                              max(1, system.accelerator_count)), system)


class OffloadStepTimer:
    """The serving engine's step-time interface for offloaded deployments (memoized by shape)."""

    def __init__(self, model: Model, system: System, precision: Precision, implementation: Implementation,
                 placement: Placement, options: OffloadOptions = OffloadOptions(),
                 experts: ExpertSetup | None = None, techniques=None):
        self.args = (model, system, precision, placement, options, "graph", implementation)
        self.experts = experts
        self.techniques = techniques
        self._step = functools.lru_cache(maxsize=4096)(self._uncached)

    def _uncached(self, groups: tuple) -> TierStep:
        model, system, precision, placement, options, launch, implementation = self.args
        return offload_step(model, system, StepShape(groups), precision, placement, options, launch,
                            implementation, experts=self.experts, techniques=self.techniques)

    def step_s(self, groups: tuple) -> float:
        return self._step(tuple(groups)).time_s

    def step(self, groups: tuple) -> tuple[float, float, float]:
        """(time, device busy time as compute, device busy time as memory): the accelerator works
        only for its share of each layer and waits on transfers the rest of the time."""
        result = self._step(tuple(groups))
        busy = result.parts_s["device"] * self.args[0].num_layers
        return result.time_s, busy, busy

