"""Paged KV cache: how many blocks a replica has, and who holds them."""
from __future__ import annotations

import math

from hwsim import units
from hwsim.errors import DoesNotFitError
from hwsim.hardware import System
from hwsim.memory import RUNTIME_RESERVE_BYTES, memory_fit
from hwsim.models import Model
from hwsim.ops import Precision


def block_bytes(model: Model, precision: Precision, block_size: int, tp: int) -> float:
    """Bytes of one KV block on one device: `block_size` tokens of every layer."""
    return block_size * model.kv_bytes_per_token(precision.kv_bytes) / tp


def capacity_blocks(model: Model, system: System, precision: Precision, block_size: int,
                    gpu_memory_utilization: float, max_num_batched_tokens: int, max_num_seqs: int) -> int:
    """Blocks that fit in `gpu_memory_utilization` of device memory after weights, the activations
    of the largest step and the runtime reserve, as vLLM sizes its cache at start-up."""
    tp = max(1, system.accelerator_count)
    fit = memory_fit(model, system, precision, max_num_seqs, 0, max_num_batched_tokens)
    budget = system.compute.memory_bytes * gpu_memory_utilization
    free = budget - fit.weights_bytes - fit.activation_bytes - RUNTIME_RESERVE_BYTES
    per_block = block_bytes(model, precision, block_size, tp)
    if free < per_block:
        raise DoesNotFitError(
            f"{model.id} leaves no room for a KV cache on {tp}x {system.device_name}: "
            f"{units.format_bytes(budget)} usable ({gpu_memory_utilization:.0%}), weights "
            f"{units.format_bytes(fit.weights_bytes)}, activations {units.format_bytes(fit.activation_bytes)}, "
            f"reserve {units.format_bytes(RUNTIME_RESERVE_BYTES)}")
    return int(free // per_block)


def blocks_for(tokens: int, block_size: int) -> int:
    return math.ceil(tokens / block_size)


class BlockPool:
    """Free-block accounting. Blocks are conserved: free + held == total at every moment."""

    def __init__(self, total: int):
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
