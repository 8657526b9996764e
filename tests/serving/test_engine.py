"""The serving replica: its setup, the scheduling loop, KV block accounting, preemption."""
from dataclasses import replace

import pytest
import simpy

from hwsim.base.errors import HwsimError
from hwsim.serving.engine import Replica, ReplicaSetup
from hwsim.serving.simulate import simulate
from hwsim.specs.shape import AttnGroup

from .scenarios import H100, NO_OVERHEAD, fixed, scenario
from .steps import ENGINE, STEP_S, ConstantSteps, replica, rows, serve


@pytest.mark.parametrize("field, value, expected", [
    ("total_blocks", 0, "total_blocks must be at least 1; got 0"),
    ("total_blocks", -3, "total_blocks must be at least 1; got -3"),
    ("block_bytes", 0.0, "block_bytes must be greater than zero"),
    ("copy_issue_s", -1e-6, "copy_issue_s must be zero or more"),
    ("layers", 0, "layers must be at least 1"),
    ("tdp_w", -1.0, "tdp_w must be zero or more"),
    ("devices", 0, "devices must be at least 1"),
])
def test_a_replica_setup_with_an_impossible_value_is_rejected(field, value, expected):
    fields = {"config": ENGINE, "timer": ConstantSteps(), "total_blocks": 8, "block_bytes": 1.0, field: value}
    with pytest.raises(HwsimError, match=f"replica setup: {expected}"):
        ReplicaSetup(**fields)


@pytest.mark.parametrize("setting, name", [("batching", "fifo"), ("admission", "lazy"), ("preemption", "kill")])
def test_an_unknown_policy_name_is_rejected_with_its_setting(setting, name):
    with pytest.raises(HwsimError, match=f"unknown engine.{setting} '{name}'; expected one of"):
        ReplicaSetup(replace(ENGINE, **{setting: name}), ConstantSteps(), 8, 1.0)


def test_a_replica_role_must_be_known_and_a_prefill_replica_needs_a_handoff():
    setup = ReplicaSetup(ENGINE, ConstantSteps(), 8, 1.0)
    with pytest.raises(HwsimError, match="role must be one of both, prefill, decode"):
        Replica(simpy.Environment(), 0, setup, role="verify")
    with pytest.raises(HwsimError, match="needs a handoff"):
        Replica(simpy.Environment(), 0, setup, role="prefill")


def test_a_request_is_one_prefill_step_then_one_run_of_decode_steps():
    engine = replica()
    (seq,) = serve(engine, (0.0, 32, 4))
    assert seq.first_token_s == pytest.approx(STEP_S)
    assert seq.completion_s == pytest.approx(4 * STEP_S)
    prefill, decodes = rows(engine)
    assert (prefill["steps"], prefill["prefill_tokens"], prefill["decode_seqs"]) == (1, 32, 0)
    assert (decodes["steps"], decodes["prefill_tokens"], decodes["decode_seqs"]) == (3, 0, 1)
    assert engine.pool.free == engine.pool.total


def test_a_run_of_decodes_stops_after_the_step_in_flight_when_a_request_arrives():
    engine = replica()
    first, second = serve(engine, (0.0, 16, 100), (2.5 * STEP_S, 16, 2))
    run = rows(engine)[1]
    assert run["steps"] == 2 and run["end_s"] == pytest.approx(3 * STEP_S)  # steps 2 and 3 ran, then it stopped
    assert second.first_token_s == pytest.approx(4 * STEP_S)  # its prefill joined the next step
    assert first.completion_s > second.completion_s


def test_decodes_at_their_mean_context_are_one_attention_group_priced_step_by_step():
    engine = replica()
    serve(engine, (0.0, 10, 3), (0.0, 30, 3))
    decode_groups = [g for shape in engine.timer.shapes for g in shape if g.q_len == 1 and g.sequences > 1]
    assert [g.sequences for g in decode_groups] == [2, 2]  # a 2-step run: each step at its own context
    assert [g.kv_len for g in decode_groups] == pytest.approx([(10 + 30) / 2 + 1, (10 + 30) / 2 + 2])


def test_a_small_pool_preempts_the_newest_and_recomputes_it():
    engine = replica(total_blocks=6)  # three sequences of 4 blocks each cannot all run at once
    seqs = serve(engine, (0.0, 16, 40), (0.0, 16, 40), (0.0, 16, 40))
    assert sum(s.preemptions for s in seqs) > 0 and sum(s.swaps for s in seqs) == 0
    assert all(s.completion_s is not None for s in seqs)
    assert engine.pool.free == engine.pool.total


def test_swap_preemption_without_a_host_link_recomputes():
    engine = replica(replace(ENGINE, preemption="swap"), total_blocks=6)
    seqs = serve(engine, (0.0, 16, 40), (0.0, 16, 40), (0.0, 16, 40))
    assert sum(s.preemptions for s in seqs) > 0 and sum(s.swaps for s in seqs) == 0
    assert engine.swap_space.moved_bytes == 0.0


def test_swap_preemption_leaves_the_room_it_made_for_decodes():
    engine = replica(replace(ENGINE, preemption="swap"), total_blocks=6, host_link=H100.host_link)
    seqs = serve(engine, (0.0, 16, 40), (0.0, 16, 40), (0.0, 16, 40))
    assert sum(s.swaps for s in seqs) > 0 and engine.pool.free == engine.pool.total


def test_finished_requests_are_counted_and_their_waiters_woken():
    finished = []
    engine = replica(on_finish=lambda seq: finished.append((seq.request, engine.env.now)))
    first, second = serve(engine, (0.0, 16, 2), (0.0, 16, 5))
    assert finished == [(0, first.completion_s), (1, second.completion_s)]  # each request, as it finished


def test_kv_blocks_are_conserved_even_under_preemption():
    tight = replace(NO_OVERHEAD, gpu_memory_utilization=0.23)  # a small cache: sequences must be preempted
    result = simulate(scenario(fixed("offline", count=120, prompt=1000, output=800), tight))
    assert result.summary["preemptions"] > 0
    assert result.kv_blocks_free_at_end == result.kv_blocks_total
    assert (result.steps["kv_blocks_used"] <= result.steps["kv_blocks_total"]).all()
    assert (result.requests["completion_s"] >= result.requests["first_token_s"]).all()


def test_chunked_prefill_respects_the_token_budget():
    engine = replace(NO_OVERHEAD, max_num_batched_tokens=512, max_num_seqs=64)
    result = simulate(scenario(fixed("offline", count=8, prompt=3000, output=16), engine))
    tokens_per_step = result.steps["prefill_tokens"] + result.steps["decode_seqs"]
    assert tokens_per_step.max() <= 512
    assert (result.steps["prefill_tokens"] > 0).sum() >= 8 * 3000 // 512


def test_full_admission_never_preempts_and_prompt_admission_waits_for_whole_prompts():
    tight = replace(NO_OVERHEAD, gpu_memory_utilization=0.23)
    workload = fixed("offline", count=120, prompt=1000, output=800)
    full = simulate(scenario(workload, replace(tight, admission="full")))
    assert full.summary["preemptions"] == 0
    assert full.kv_blocks_free_at_end == full.kv_blocks_total
    on_demand = simulate(scenario(workload, tight))
    assert on_demand.summary["preemptions"] > 0  # decode growth outruns what admission reserved


def test_long_prompts_do_not_thrash_the_cache():
    """Admission waits for a whole prompt's blocks, so long prompts are not started only to be
    preempted and recomputed again and again."""
    engine = replace(NO_OVERHEAD, gpu_memory_utilization=0.3, max_num_batched_tokens=2048)
    result = simulate(scenario(fixed("offline", count=60, prompt=6000, output=200), engine))
    assert result.summary["preemptions"] < 60


def test_a_decode_batch_is_padded_to_the_next_captured_graph_size():
    engine = replica(replace(ENGINE, cuda_graph_sizes=(1, 2, 4, 8)))
    serve(engine, (0.0, 16, 3), (0.0, 16, 3), (0.0, 16, 3))
    decode_steps = [shape for shape in engine.timer.shapes if all(g.q_len == 1 for g in shape)]
    assert decode_steps and all(shape[-1] == AttnGroup(1, 1, 1) and shape[0].sequences == 3 for shape in decode_steps)
    assert ENGINE.graph_size(7) == 7  # no sizes given: unpadded
    assert replace(ENGINE, cuda_graph_sizes=(1, 2, 4, 8)).graph_size(9) is None


def test_a_step_of_no_captured_size_runs_on_the_eager_step_model_when_the_engine_launches_it_eagerly():
    eager = ConstantSteps()
    engine = replica(replace(ENGINE, cuda_graph_sizes=(1,), uncaptured="eager"), eager_timer=eager)
    serve(engine, (0.0, 16, 3), (0.0, 16, 3))
    assert len(eager.shapes) == 3  # the prefill of both prompts and the two-sequence decode steps
    assert engine.timer.shapes == []  # a prefill is never captured, and two decodes have no graph


def test_host_overheads_count_sequences_prompt_tokens_and_tokens_out():
    engine = replace(ENGINE, step_overhead_s=1e-4, sequence_overhead_s=1e-5, prefill_token_overhead_s=1e-6,
                     output_token_overhead_s=2e-6)
    assert engine.host_overhead_s(sequences=4, prefill_tokens=100, output_tokens=3) == pytest.approx(
        1e-4 + 4e-5 + 1e-4 + 6e-6)
    first, = serve(replica(engine), (0.0, 16, 2))
    # one prefill step (16 prompt tokens, its first token out), then one decode step
    assert first.first_token_s == pytest.approx(STEP_S + 1e-4 + 1e-5 + 16e-6 + 2e-6)
    assert first.completion_s - first.first_token_s == pytest.approx(STEP_S + 1e-4 + 1e-5 + 2e-6)


def test_captured_sizes_must_increase():
    with pytest.raises(HwsimError, match="cuda_graph_sizes must be increasing"):
        replace(ENGINE, cuda_graph_sizes=(8, 4))


@pytest.mark.parametrize("processed_first", ["stretch", "arrival", "arrival before the wait"])
def test_a_stretch_of_a_run_waits_for_its_end_or_an_arrival_whichever_is_processed_first(processed_first):
    engine_replica = replica()
    env = engine_replica.env
    arrival = env.event()
    if processed_first == "arrival before the wait":
        arrival.succeed()
        env.run()  # processed: the wait begins after it
    woken_at = []

    def wait():
        stretch = env.timeout(5.0)
        yield engine_replica._first_of(stretch, arrival)
        woken_at.append((env.now, stretch.processed))

    def arrive():
        yield env.timeout(2.0 if processed_first == "arrival" else 9.0)
        if not arrival.triggered:
            arrival.succeed()

    env.process(wait())
    env.process(arrive())
    env.run()
    expected = {"stretch": (5.0, True), "arrival": (2.0, False), "arrival before the wait": (0.0, False)}
    assert woken_at == [expected[processed_first]]
