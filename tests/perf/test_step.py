"""One step on the device: the sum of its operators when replayed as a graph, and a launch queue
of host dispatches and device kernels when run eagerly."""
import pytest

from hwsim.loading import catalog
from hwsim.perf.ops import Op
from hwsim.perf.roofline import OpCost
from hwsim.perf.step import launch_queue_s, operator_step
from hwsim.specs.deployment import Deployment
from hwsim.specs.shape import StepShape

LLAMA = catalog.model("llama-3-8b")
US = 1e-6


def cost(launch_us: float, gpu_us: float, repeat: int = 1, block: str = "attention", syncs: bool = False,
         kind: str = "elementwise") -> OpCost:
    op = Op("op", kind, "bf16", repeat=repeat, block=block)
    return OpCost(op, max(launch_us, gpu_us) * US * repeat, 0.0, 0.0, launch_us * US, "launch", gpu_us * US, syncs)


def test_a_graph_step_is_the_sum_of_its_operator_times():
    step = operator_step(Deployment(LLAMA, catalog.system("h100-sxm")), StepShape.decode(8, 1000))
    assert step.time_s == pytest.approx(sum(c.time_s for c in step.costs))
    assert sum(step.by_kind().values()) == pytest.approx(step.time_s)
    assert set(step.by_kind()) == {"gemm", "attention", "elementwise"}


def test_collectives_take_link_time_but_keep_no_pipeline_busy():
    step = operator_step(Deployment(LLAMA, catalog.system("h100-sxm", 2)), StepShape.decode(8, 1000))
    collectives = [c for c in step.costs if c.op.kind == "collective"]
    assert collectives and all(c.bound == "link" for c in collectives)
    kernels = [c for c in step.costs if c.op.kind != "collective"]
    assert step.busy_s() == pytest.approx((sum(c.compute_s * c.op.repeat for c in kernels),
                                           sum(c.memory_s * c.op.repeat for c in kernels)))


def test_eager_launch_runs_the_launch_queue_over_the_same_operators():
    h100 = catalog.system("h100-sxm")
    graph = operator_step(Deployment(LLAMA, h100), StepShape.decode(1, 500))
    eager = operator_step(Deployment(LLAMA, h100, launch="eager"), StepShape.decode(1, 500))
    assert eager.time_s == pytest.approx(launch_queue_s(list(eager.costs), LLAMA.num_layers))
    assert eager.time_s > graph.time_s  # at batch 1 the host cannot keep the device fed


def test_when_dispatch_dominates_the_step_is_host_bound():
    # each op: 20 us of host dispatch, 1 us on the device; the device waits for every op
    assert launch_queue_s([cost(20, 1), cost(20, 1), cost(20, 1)], layers=1) == pytest.approx(3 * 20 * US + 1 * US)


def test_when_kernels_dominate_the_step_is_device_bound():
    # the host enqueues ahead while each 100 us kernel runs
    assert launch_queue_s([cost(1, 100), cost(1, 100), cost(1, 100)], layers=1) == pytest.approx(1 * US + 3 * 100 * US)


def test_a_synchronizing_op_makes_the_host_wait_for_the_device():
    # host 10 us, device 50 us, then the host waits; the next op is dispatched at 70 us and runs 1 us
    assert launch_queue_s([cost(10, 50, syncs=True), cost(10, 1)], layers=1) == pytest.approx(71 * US)
    assert launch_queue_s([cost(10, 50), cost(10, 1)], layers=1) == pytest.approx(61 * US)


def test_per_layer_ops_run_once_in_each_layer_they_repeat_in_plus_embedding_and_head():
    ops = [cost(10, 1, block="embedding"), cost(10, 1, repeat=3), cost(10, 1, repeat=1, block="mlp"),
           cost(10, 1, block="head")]
    assert launch_queue_s(ops, layers=3) == pytest.approx((1 + 3 + 1 + 1) * 10 * US + 1 * US)


def test_a_collective_occupies_the_device_for_its_share_of_the_total():
    collective = cost(0, 0, repeat=4, kind="collective")
    collective = OpCost(collective.op, 40 * US, 0.0, 0.0, 0.0, "link")  # 10 us per layer
    assert launch_queue_s([collective], layers=4) == pytest.approx(40 * US)
