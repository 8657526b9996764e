"""Step shapes: groups of sequences, each with its new tokens and the context it attends to."""
from hwsim.specs.shape import AttnGroup, StepShape


def test_a_prefill_step_computes_every_prompt_token_of_every_sequence():
    shape = StepShape.prefill(4, 512)
    assert shape.groups == (AttnGroup(4, 512, 512),)
    assert (shape.tokens, shape.sequences) == (2048, 4)
    assert not shape.is_decode_only


def test_a_decode_step_computes_one_token_per_sequence_attending_to_the_cache_and_itself():
    shape = StepShape.decode(8, 100)
    assert shape.groups == (AttnGroup(8, 1, 101),)
    assert (shape.tokens, shape.sequences) == (8, 8)
    assert shape.is_decode_only


def test_a_mixed_step_adds_up_its_groups():
    shape = StepShape((AttnGroup(1, 256, 256), AttnGroup(6, 1, 900)))
    assert (shape.tokens, shape.sequences) == (256 + 6, 7)
    assert not shape.is_decode_only


def test_a_data_parallel_share_splits_the_sequences_not_their_lengths():
    part = StepShape((AttnGroup(1, 256, 256), AttnGroup(6, 1, 900))).share(4)
    assert part.groups == (AttnGroup(0.25, 256, 256), AttnGroup(1.5, 1, 900))
    assert (part.tokens, part.sequences) == (0.25 * 256 + 1.5, 1.75)
