"""Paged KV cache: how many blocks a replica has, and who holds them."""
from __future__ import annotations

import math
from collections.abc import Callable

from hwsim.base import units
from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.perf.memory import RUNTIME_RESERVE_BYTES, memory_fit, weights_by_tier
from hwsim.specs.deployment import Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.placement import Placement, tier_capacity_bytes

ON_DEVICE = Placement()  # everything in device memory


def block_bytes(model: Model, precision: Precision, block_size: int, tp: int) -> float:
    """Bytes of one KV block on one device: `block_size` tokens of every layer."""
    return block_size * model.kv_bytes_per_token_per_device(precision.kv_bytes, tp)


def capacity_blocks(model: Model, system: System, precision: Precision, block_size: int,
                    gpu_memory_utilization: float, max_num_batched_tokens: int, max_num_seqs: int,
                    placement: Placement = ON_DEVICE, attention_dp: bool = False) -> int:
    """Blocks that fit, as vLLM sizes its cache at start-up: on the device, `gpu_memory_utilization`
    of memory after the device's weights, the activations of the largest step and the runtime
    reserve; in host memory or on disk, what their share of the weights leaves. A cache split
    over tiers is limited by the tier that fills first."""
    tp = max(1, system.accelerator_count)
    fit = memory_fit(model, system, precision, max_num_seqs, 0, max_num_batched_tokens, attention_dp)
    weights = weights_by_tier(model, precision, placement, tp, attention_dp)
    free = {
        "device": system.compute.memory_bytes * gpu_memory_utilization
        - weights.get("device", 0.0) - fit.activation_bytes - RUNTIME_RESERVE_BYTES,
        "host": system.dram_bytes * gpu_memory_utilization - weights.get("host", 0.0),
        "disk": tier_capacity_bytes(system, "disk") - weights.get("disk", 0.0),
    }
    per_block = block_bytes(model, precision, block_size, tp)
    if attention_dp:  # each device keeps whole blocks of its own sequences: tp pools in one
        per_block = block_size * model.kv_bytes_per_token(precision.kv_bytes) / tp
    blocks = min(free[tier] / (per_block * placement.share("kv", tier))
                 for tier in free if placement.share("kv", tier) > 0)
    if blocks < 1:
        tier = min((t for t in free if placement.share("kv", t) > 0), key=lambda t: free[t])
        raise DoesNotFitError(
            f"{model.id} leaves no room for a KV cache in the {tier} tier of {tp}x {system.device_name}: "
            f"device {units.format_bytes(system.compute.memory_bytes * gpu_memory_utilization)} usable "
            f"({gpu_memory_utilization:.0%}), weights {units.format_bytes(weights.get(tier, 0.0))}, activations "
            f"{units.format_bytes(fit.activation_bytes)}, reserve {units.format_bytes(RUNTIME_RESERVE_BYTES)}")
    return int(blocks)


def blocks_for(tokens: int, block_size: int) -> int:
    """Blocks that hold `tokens` tokens: the last one may be partly filled."""
    return math.ceil(tokens / block_size)


def longest_run_that_fits(blocks_needed: Callable[[int], int], limit: int, free: int) -> int:
    """The most steps, 1 to `limit`, whose new blocks (`blocks_needed(k)` for k steps, growing with k
    and 0 for one step) `free` blocks cover: a bisection."""
    if blocks_needed(limit) <= free:
        return limit
    low, high = 1, limit  # blocks_needed(low) fits, blocks_needed(high) does not
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if blocks_needed(mid) <= free else (low, mid)
    return low


class BlockPool:
    """Free-block accounting. Blocks are conserved: free + held == total at every moment."""

    def __init__(self, total: int):
        if total < 0:
            raise HwsimError(f"a KV block pool needs zero or more blocks; got {total}")
        self.total = total
        self.free = total

    @property
    def used(self) -> int:
        return self.total - self.free

    def take(self, count: int) -> None:
        if count > self.free:
            raise RuntimeError(f"KV block pool overdrawn: {count} wanted, {self.free} free")
        self.free -= count

    def give(self, count: int) -> None:
        self.free += count
        if self.free > self.total:
            raise RuntimeError("KV block pool got back more blocks than it lent")


class SwapSpace:
    """Host memory that preempted sequences' KV blocks move to (vLLM's swap space): what is left of
    it, and how many bytes have crossed the host link either way."""

    def __init__(self, capacity_bytes: float):
        if capacity_bytes < 0:
            raise HwsimError(f"swap space must be zero or more bytes; got {capacity_bytes}")
        self.free_bytes = capacity_bytes
        self.moved_bytes = 0.0

    def holds(self, kv_bytes: float) -> bool:
        return kv_bytes <= self.free_bytes

    def swap_out(self, kv_bytes: float) -> None:
        self.free_bytes -= kv_bytes
        self.moved_bytes += kv_bytes

    def swap_in(self, kv_bytes: float) -> None:
        self.free_bytes += kv_bytes
        self.moved_bytes += kv_bytes
