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

from dataclasses import dataclass, replace

from hwsim.base.errors import HwsimError
from hwsim.perf import moe, roofline
from hwsim.perf.memory import weights_by_tier
from hwsim.perf.ops import Op
from hwsim.perf.step import StepCost
from hwsim.specs.deployment import (
    Deployment,
    ExpertSetup,
    OffloadOptions,
    Precision,
)
from hwsim.specs.hardware import Accelerator, Link, System
from hwsim.specs.models import Model
from hwsim.specs.placement import CLASSES, Placement, check_capacity, check_tiers
from hwsim.specs.shape import StepShape

COPIES_PER_LAYER = 4  # one copy per weight tensor group of a layer: each pays the link latency
# the operators of attention with materialized scores (`ops.materialized_attention_ops`): they run
# where attention runs
MATERIALIZED_ATTENTION = ("attention_upcast", "attention_scores", "attention_softmax", "attention_values")


@dataclass(frozen=True)
class TierStep:
    time_s: float
    layer_s: float
    parts_s: dict  # one layer: device, host, h2d, d2h, disk
    bytes_per_step: dict  # h2d, d2h, disk
    bound: str
    device_busy_s: float = 0.0  # the accelerator's own work over the step: every layer's share and the head

    def busy_s(self) -> tuple[float, float]:
        """(compute, memory) busy time of one device, for the power model: the accelerator works
        only for its share of each layer and waits on transfers the rest of the time."""
        return self.device_busy_s, self.device_busy_s


def tier_step(deployment: Deployment, shape: StepShape, cost: StepCost, layers: int | None = None) -> TierStep:
    """The step whose operators are `cost`, with every resource of each layer priced apart."""
    check_tiers(deployment.placement, deployment.system)
    if deployment.implementation.attention != "flash" and deployment.placement.attention_compute in ("storage",
                                                                                                       "remote"):
        raise HwsimError("attention in storage or on a remote pool is modeled as flash attention; use the fused "
                         "or unfused kernels with this placement")
    account = _TierAccount(deployment, shape, model_layers=deployment.model.num_layers if layers is None else layers)
    for c in cost.costs:
        account.add(c)
    return account.result()


class _TierAccount:
    """Per-layer busy time of each resource (`parts`) and bytes each moves (`moved`) over one step."""

    def __init__(self, deployment: Deployment, shape: StepShape, model_layers: int):
        self.d = deployment
        self.shape = shape
        self.layers = model_layers
        self.placement = deployment.placement
        self.miss_share, self.prefetched_share = _expert_misses(deployment.model, shape, deployment.placement,
                                                                deployment.offload, deployment.experts)
        self.parts = {"device": 0.0, "host": 0.0, "storage": 0.0, "remote": 0.0, "h2d": 0.0, "d2h": 0.0,
                      "disk": 0.0, "network": 0.0, "prefetch": 0.0}
        self.moved = {"h2d": 0.0, "d2h": 0.0, "disk": 0.0, "disk_write": 0.0, "csd_link": 0.0, "network": 0.0,
                      "prefetch": 0.0}
        # of the host-link bytes, those to or from pageable host memory (staged by the driver)
        self.pageable_moved = {"h2d": 0.0, "d2h": 0.0, "prefetch": 0.0}
        self.pageable = set(CLASSES) if not deployment.offload.pinned else set(deployment.placement.pageable)
        if "weights" in self.pageable and deployment.placement.experts is None:
            self.pageable.add("experts")  # unplaced experts live with the weights
        self.outside_s = 0.0  # embedding and head: on the device, their weights resident there

    # --- one operator ---------------------------------------------------------------------------
    def add(self, c: roofline.OpCost) -> None:
        op, placement, layers = c.op, self.placement, self.layers
        if op.block in ("embedding", "head"):
            self.outside_s += c.time_s + self._head_moved_s(op)
            return
        share = layers / op.repeat if op.repeat else 0.0  # ops of only some layers (MoE), spread evenly
        per_layer = 1.0 / share if share else 0.0
        decode = self.shape.is_decode_only
        attention = op.kind == "attention" or op.role in MATERIALIZED_ATTENTION
        if attention and decode and placement.attention_compute in ("storage", "remote"):
            self._attention_elsewhere(op)
            return
        # host attention serves decode, where the cache is read; a prefill's KV is born on the device
        on_host = ((attention and placement.attention_compute == "host" and decode)
                   or (op.routed_experts and placement.experts_compute == "host"))
        if on_host:
            self.parts["host"] += roofline.op_cost(op, self.d.system.host_compute).time_s / layers
        else:
            self.parts["device"] += c.time_s / layers
            self._weights_moved(op, per_layer)
        if op.kind == "attention" or op.role == "attention_upcast":  # the op that reads the cache
            self._kv_read(op, on_host, per_layer)
        if op.role == "kv_cache_write":
            self._kv_written(op, per_layer)

    def _attention_elsewhere(self, op: Op) -> None:
        """Decode attention inside computational storage or on a remote pool: only queries and
        outputs travel."""
        model, a = self.d.model, self.d.precision.act_bytes
        query_and_output = self.shape.tokens * (model.q_width + model.attention_output_width) * a
        if self.placement.attention_compute == "storage":
            self.parts["storage"] += in_storage_attention_s(op, self.d.system) / self.layers
            self.moved["csd_link"] += query_and_output
            return
        pool, count, _ = _attention_pool(self.d.system)
        self.parts["remote"] += roofline.op_cost(op, pool.compute).time_s / self.layers / count
        self.moved["network"] += query_and_output

    def _head_moved_s(self, op: Op) -> float:
        """An LM head kept off the device crosses the host link (and leaves its drive) every step,
        after the last layer: nothing is left to hide it behind."""
        offloaded = 1.0 - self.placement.share("lm_head", "device")
        if op.role != "lm_head" or not offloaded:
            return 0.0
        moved_s = roofline.transfer_s(op.weight_bytes * offloaded, self._host_link(),
                                      pageable="lm_head" in self.pageable)
        on_disk = op.weight_bytes * self.placement.share("lm_head", "disk")
        return moved_s + (disk_read_s(self.d.system, on_disk) if on_disk else 0.0)

    def _link(self, direction: str, what: str, bytes_moved: float) -> None:
        """Count bytes of class `what` crossing the host link in `direction` (h2d, d2h, prefetch)."""
        self.moved[direction] += bytes_moved
        if what in self.pageable:
            self.pageable_moved[direction] += bytes_moved

    def _weights_moved(self, op: Op, per_layer: float) -> None:
        if not op.weight_bytes:
            return
        placement = self.placement
        what = "experts" if op.routed_experts else "weights"
        offloaded = 1.0 - placement.share(what, "device")
        if what == "experts" and offloaded:
            # only cache misses move; the prefetched share of them hides behind compute
            missed = op.weight_bytes * self.miss_share * per_layer
            self._link("prefetch", what, missed * self.prefetched_share)
            self._link("h2d", what, missed * (1.0 - self.prefetched_share))
            self.moved["disk"] += missed * placement.share(what, "disk") / offloaded
        elif what == "weights":
            self._link("h2d", what, op.weight_bytes * offloaded * per_layer)
            self.moved["disk"] += op.weight_bytes * placement.share(what, "disk") * per_layer

    def _kv_read(self, op: Op, on_host: bool, per_layer: float) -> None:
        placement, model, a = self.placement, self.d.model, self.d.precision.act_bytes
        tokens = self.shape.tokens
        if on_host:  # queries and new K/V go to the host, outputs come back
            self._link("d2h", "act", tokens * model.q_width / max(1, self.d.system.accelerator_count) * a)
            self._link("h2d", "act", tokens * model.attention_output_width * a)
            self.moved["disk"] += op.kv_read_bytes * placement.share("kv", "disk") * per_layer
        elif not op.causal or any(g.kv_len > g.q_len for g in self.shape.groups):  # a cached prefix is read
            kv_away = placement.share("kv", "host") + placement.share("kv", "disk")
            self._link("h2d", "kv", op.kv_read_bytes * kv_away * per_layer)
            self.moved["disk"] += op.kv_read_bytes * placement.share("kv", "disk") * per_layer

    def _kv_written(self, op: Op, per_layer: float) -> None:
        placement = self.placement
        over_host_link = placement.share("kv", "host") + placement.share("kv", "disk")
        self._link("d2h", "kv", op.kv_write_bytes * over_host_link * per_layer)
        self.moved["disk_write"] += op.kv_write_bytes * placement.share("kv", "disk") * per_layer
        self.moved["network"] += op.kv_write_bytes * placement.share("kv", "remote") * per_layer

    # --- the step ---------------------------------------------------------------------------------
    def result(self) -> TierStep:
        parts, moved, options = self.parts, self.moved, self.d.offload
        act_away = 1.0 - self.placement.share("act", "device")
        activations = self.shape.tokens * self.d.model.hidden_size * self.d.precision.act_bytes * act_away
        self._link("h2d", "act", activations)
        self._link("d2h", "act", activations)
        self._link_parts()
        self._disk_parts()
        if moved["csd_link"]:
            parts["storage"] += csd_link_s(self.d.system, moved["csd_link"])
        self._network_parts()
        layer_s = _layer_s(parts, options.overlap)
        per_step = {k: v * self.layers for k, v in moved.items() if v}
        bound = max(parts, key=lambda part: parts[part])
        return TierStep(self.layers * layer_s + self.outside_s, layer_s, parts, per_step, bound,
                        self.layers * parts["device"] + self.outside_s)

    def _host_link(self) -> Link:
        link = self.d.system.host_link
        if link is None:
            raise HwsimError(f"{self.d.system.id} has no host link to move offloaded data over")
        return link

    def _link_parts(self) -> None:
        options = self.d.offload
        issue_s = self.d.system.compute.performance.eager_copy_dispatch_s if options.chunk_bytes else 0.0
        for direction in ("h2d", "d2h", "prefetch"):
            pageable = self.pageable_moved[direction]
            for bytes_moved, staged in ((self.moved[direction] - pageable, False), (pageable, True)):
                if bytes_moved > 0:
                    self.parts[direction] += COPIES_PER_LAYER * roofline.transfer_s(
                        bytes_moved / COPIES_PER_LAYER, self._host_link(), chunk_bytes=options.chunk_bytes,
                        pageable=staged, issue_s=issue_s)

    def _disk_parts(self) -> None:
        moved, parts, system = self.moved, self.parts, self.d.system
        if not (moved["disk"] or moved["disk_write"]):
            return
        parts["disk"] = (disk_read_s(system, moved["disk"]) if moved["disk"] else 0.0) + disk_write_s(
            system, moved["disk_write"])
        to_device = min(moved["disk"], moved["h2d"])  # bytes read from disk for the device
        if self.d.offload.gpudirect and to_device:
            # the host-link leg of those bytes runs inside the drive-to-device stream
            link_leg = COPIES_PER_LAYER * roofline.transfer_s(to_device / COPIES_PER_LAYER, self._host_link())
            parts["disk"] = max(parts["disk"], link_leg)
            parts["h2d"] = max(0.0, parts["h2d"] - link_leg)

    def _network_parts(self) -> None:
        if not self.moved["network"]:
            return
        _, count, net = _attention_pool(self.d.system)
        network_s = net.latency_s + self.moved["network"] / (net.achieved_bytes_per_s * count)
        if self.parts["remote"]:
            self.parts["remote"] += network_s  # on the layer's critical path: queries out, outputs back
        else:
            self.parts["network"] = network_s  # a prefill streams its new KV to the pool behind compute


def _attention_pool(system: System) -> tuple[Accelerator, int, Link]:
    """The system's attention pool: its devices, how many, and the network to them."""
    if system.attention_pool is None:
        raise HwsimError(f"{system.id} has no attention pool")
    return system.attention_pool


def _layer_s(parts: dict, overlap: bool) -> float:
    """One layer: compute waits for each processor's result; transfers overlap compute or not."""
    compute_s = parts["device"] + parts["host"] + parts["storage"] + parts["remote"]
    if not overlap:  # copy, then compute; prefetched experts load during the previous layer
        return max(compute_s, parts["prefetch"]) + parts["h2d"] + parts["d2h"] + parts["disk"] + parts["network"]
    if parts["host"]:
        return max(compute_s + parts["h2d"] + parts["prefetch"], parts["d2h"], parts["disk"])
    if parts["storage"] or parts["remote"]:
        return max(compute_s, parts["h2d"], parts["d2h"])  # the cache never crosses the host link
    return max(compute_s, parts["h2d"] + parts["prefetch"], parts["d2h"], parts["disk"], parts["network"])


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
    """Bytes each tier must hold (the device tier per device): weights as `weights_by_tier` places
    them and the KV cache by its shares (activations are small)."""
    weights = weights_by_tier(model, precision, placement, tp)
    kv = batch * context_tokens * model.kv_bytes_per_token(precision.kv_bytes)
    needs: dict[str, float] = {}
    for tier in ("device", "host", "disk", "remote"):
        need = weights.get(tier, 0.0) + kv * placement.share("kv", tier) / (tp if tier == "device" else 1)
        if need:
            needs[tier] = need
    return needs


def check_fit(model: Model, system: System, precision: Precision, placement: Placement, batch: int,
              context_tokens: int) -> None:
    check_tiers(placement, system)
    check_capacity(tier_needs(model, precision, placement, batch, context_tokens,
                              max(1, system.accelerator_count)), system)
