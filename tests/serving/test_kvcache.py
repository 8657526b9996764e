"""The paged KV cache: block counts, the free-block pool, swap space, and decode runs that fit."""
import itertools

import pytest

from hwsim.base.errors import HwsimError
from hwsim.serving.kvcache import BlockPool, SwapSpace, blocks_for, longest_run_that_fits


def test_blocks_round_up_to_hold_every_token():
    assert [blocks_for(t, 16) for t in (0, 1, 16, 17, 32)] == [0, 1, 1, 2, 2]


def test_a_pool_conserves_its_blocks_and_refuses_to_overdraw():
    pool = BlockPool(10)
    pool.take(7)
    assert (pool.free, pool.used) == (3, 7)
    with pytest.raises(RuntimeError, match="overdrawn: 4 wanted, 3 free"):
        pool.take(4)
    pool.give(7)
    with pytest.raises(RuntimeError, match="more blocks than it lent"):
        pool.give(1)


def test_a_pool_of_negative_size_is_rejected():
    with pytest.raises(HwsimError, match="zero or more blocks; got -1"):
        BlockPool(-1)


def test_swap_space_counts_what_is_left_and_what_crossed_the_link():
    space = SwapSpace(100.0)
    assert space.holds(100.0) and not space.holds(100.5)
    space.swap_out(60.0)
    assert not space.holds(50.0)
    space.swap_in(60.0)
    assert (space.free_bytes, space.moved_bytes) == (100.0, 120.0)
    with pytest.raises(HwsimError, match="swap space must be zero or more bytes"):
        SwapSpace(-1.0)


def _fit_by_trying(held, limit, free, block_size):
    need = [sum(max(0, blocks_for(c + k, block_size) - b) for c, b in held) for k in range(1, limit + 1)]
    return max([k for k, n in zip(range(1, limit + 1), need, strict=True) if n <= free], default=1)


@pytest.mark.parametrize("free, limit", list(itertools.product((0, 1, 2, 5, 40), (2, 7, 33, 100))))
def test_the_longest_run_that_fits_is_the_longest_the_free_blocks_cover(free, limit):
    held = [(31, 2), (16, 2), (100, 7), (5, 1)]  # (cached tokens, blocks), the first step's block reserved

    def blocks_needed(k: int) -> int:  # beyond what the first step reserved
        return sum(max(0, blocks_for(computed + k, 16) - blocks) for computed, blocks in held)

    assert longest_run_that_fits(blocks_needed, limit, free) == _fit_by_trying(held, limit, free, 16)
