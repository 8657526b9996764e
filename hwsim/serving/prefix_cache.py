"""Automatic prefix caching: KV blocks kept after their request ends, found again by content.

As vLLM does, a block is identified by everything up to its last token (a chain over the prompt's
content), and only full blocks are cached. A request's content is a list of segments
(identity, tokens): a shared prefix is one segment that many prompts start with, a unique suffix a
segment of its own, a Mooncake trace's 512-token blocks one segment each, and a request's output a
final segment nobody else has. Two requests share block b exactly when their segments agree up to
the block's last token.

`CachedBlockPool` keeps the usual free-block count and, besides it, the cached blocks: those held by
running requests (reference counted) and those no request holds, which count as free and are
evicted least recently used first when a new block is needed.
"""
from __future__ import annotations

import bisect
import itertools
from collections import OrderedDict
from collections.abc import Hashable, Sequence

from hwsim.serving.kvcache import BlockPool

Segment = tuple[Hashable, int]  # (identity, tokens)


def block_keys(segments: Sequence[Segment], blocks: int, block_size: int) -> list[int]:
    """The identities of the first `blocks` full blocks of a sequence made of `segments`: block b's
    identity chains the identities of every segment that starts before its end, and that end."""
    ends = list(itertools.accumulate(tokens for _, tokens in segments))
    chain, chained = [], 0
    for identity, _ in segments:  # chain[k]: the first k + 1 segments
        chained = hash((chained, identity))
        chain.append(chained)
    keys = []
    for block in range(blocks):
        end = (block + 1) * block_size
        covering = bisect.bisect_left(ends, end)  # segments wholly before the end, plus the one it falls in
        keys.append(hash((chain[min(covering, len(chain) - 1)], end)))
    return keys


class CachedBlockPool(BlockPool):
    """A block pool whose blocks outlive their requests while nothing else needs them.

    `free` counts the blocks no request holds, cached ones included; taking more than the uncached
    free blocks evicts cached ones, least recently used first."""

    def __init__(self, total: int, lower_tiers: Sequence[int] = ()):
        super().__init__(total)
        self.references: dict[int, int] = {}  # cached block -> requests holding it
        self.unheld: OrderedDict[int, None] = OrderedDict()  # cached blocks no request holds, oldest first
        self.evictions = 0  # blocks that left the device
        # blocks evicted from the device kept further down (host DRAM, then drives), each tier's
        # capacity in blocks, least recently used first; a block evicted from the last is gone
        self.capacities = tuple(lower_tiers)
        self.tiers: list[OrderedDict[int, None]] = [OrderedDict() for _ in self.capacities]

    @property
    def uncached_free(self) -> int:
        return self.free - len(self.unheld)

    def take(self, count: int) -> None:
        """Take `count` blocks, evicting the least recently used unheld cached ones beyond the
        uncached free blocks."""
        super().take(count)
        for _ in range(max(0, len(self.unheld) - self.free)):
            key, _ = self.unheld.popitem(last=False)
            del self.references[key]
            self.evictions += 1
            self._demote(key, 0)

    def _demote(self, key: int, tier: int) -> None:
        """An evicted block goes to `tier`, pushing that tier's oldest one down (or out)."""
        moving: int | None = key
        while tier < len(self.tiers) and moving is not None:
            blocks = self.tiers[tier]
            blocks[moving] = None
            moving = blocks.popitem(last=False)[0] if len(blocks) > self.capacities[tier] else None
            tier += 1

    def lower_prefix(self, keys: Sequence[int]) -> list[int]:
        """The tier (0: the first below the device) of each of `keys`, from the first, while they
        are found below the device."""
        found = []
        for key in keys:
            tier = next((i for i, blocks in enumerate(self.tiers) if key in blocks), None)
            if tier is None:
                break
            found.append(tier)
        return found

    def bring_back(self, keys: Sequence[int]) -> None:
        """Blocks found below the device come back to it (the caller takes device blocks for them
        and caches them as its own)."""
        for key in keys:
            for blocks in self.tiers:
                blocks.pop(key, None)

    def cached_prefix(self, keys: Sequence[int]) -> int:
        """How many of `keys`, from the first, are cached."""
        for count, key in enumerate(keys):
            if key not in self.references:
                return count
        return len(keys)

    def hold(self, keys: Sequence[int]) -> None:
        """A request takes cached blocks: each gains a holder (an unheld one stops counting as free)."""
        for key in keys:
            if self.references[key] == 0:
                del self.unheld[key]
                super().take(1)
            self.references[key] += 1

    def cache(self, keys: Sequence[int]) -> list[int]:
        """A request's own full blocks of these identities become cached, still held by it; returns
        those that did (a block another request cached first stays the request's own)."""
        added = [key for key in keys if key not in self.references]
        for key in added:
            self.references[key] = 1
        return added

    def release(self, keys: Sequence[int]) -> None:
        """A request lets go of cached blocks: one with no holder left stays cached but counts as free."""
        for key in keys:
            self.references[key] -= 1
            if self.references[key] == 0:
                self.unheld[key] = None
                self.give(1)
