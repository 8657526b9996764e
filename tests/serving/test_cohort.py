"""The decode cohort: members advance together; their own numbers are written back when they leave."""
import pytest

from hwsim.serving.cohort import Cohort
from hwsim.serving.engine import Seq

BLOCK = 16


def decoding(request: int, prompt: int, generated: int, output: int, turn: int | None = None) -> Seq:
    """A running sequence with one token to process: its prompt and all but its newest token cached."""
    seq = Seq(request, 0.0, prompt, output, generated=generated, computed=prompt + generated - 1,
              turn=request if turn is None else turn, first_token_s=0.0)
    seq.blocks = -(-seq.computed // BLOCK)
    return seq


def test_members_advance_together_and_get_their_numbers_back_when_they_leave():
    cohort = Cohort(BLOCK)
    a, b = decoding(0, 100, 1, 50), decoding(1, 30, 5, 50)
    cohort.join(a)
    cohort.join(b)
    assert len(cohort) == 2 and cohort.context_sum() == 100 + 34
    cohort.reserve_growth()
    cohort.reserve_run(7)
    cohort.advance(7, device_s=0.07, host_s=0.007)
    assert cohort.context_sum() == 100 + 34 + 2 * 7
    cohort.leave(a)
    assert (a.computed, a.generated, a.blocks) == (107, 8, -(-107 // BLOCK))
    assert (a.decode_s, a.host_s) == (pytest.approx(0.07), pytest.approx(0.007))
    assert len(cohort) == 1 and a not in cohort and b in cohort


def test_a_member_needs_a_new_block_when_its_cached_tokens_fill_its_blocks():
    cohort = Cohort(BLOCK)
    full, room = decoding(0, 32, 1, 100), decoding(1, 20, 1, 100)  # 32 cached tokens fill 2 blocks; 20 leave room
    cohort.join(full)
    cohort.join(room)
    assert cohort.growing() == 1  # only `full`'s next token needs a block
    assert cohort.reserve_growth() == 1 and cohort.growing() == 0
    # over a run of 20 steps each needs one more: `room` in step 12 (32 cached), `full` in step 16 (48 cached)
    assert cohort.run_blocks(20) == 2
    assert [step for step in range(1, 20) if cohort.new_blocks(step)] == [12, 16]
    assert cohort.new_blocks_each(40) == [cohort.new_blocks(step) for step in range(40)]  # over two cycles and more


def test_finishes_come_in_step_order_and_running_order_on_a_tie():
    cohort = Cohort(BLOCK)
    late, early, tie = decoding(0, 10, 1, 9, turn=2), decoding(1, 10, 1, 4, turn=5), decoding(2, 10, 2, 5, turn=1)
    for seq in (late, early, tie):
        cohort.join(seq)
    assert cohort.steps_to_first_finish() == 3
    cohort.reserve_growth()
    assert cohort.take_special(2) == []  # nobody finishes in two steps
    special = cohort.take_special(3)
    assert special == [tie, early]  # both finish after 3 steps: the one running longer first
    assert special[0].generated == 2 and special[0] not in cohort  # written back as of now, out of the cohort


def test_a_member_awaiting_its_first_token_is_special_at_its_next_step():
    cohort = Cohort(BLOCK)
    seq = decoding(0, 64, 0, 10)
    seq.first_token_s = None  # its prompt's last token is still to process
    cohort.join(seq)
    cohort.reserve_growth()
    assert cohort.take_special(1) == [seq]


def test_a_sequence_that_does_not_hold_the_blocks_of_its_cache_cannot_join():
    seq = decoding(0, 64, 1, 10)
    seq.blocks += 1
    with pytest.raises(RuntimeError, match="cannot join"):
        Cohort(BLOCK).join(seq)
