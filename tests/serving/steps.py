"""A step model for engine tests: every step takes the same time, whatever its shape."""

import simpy

from hwsim.serving.engine import Replica, ReplicaSetup, Seq
from hwsim.serving.records import step_frame
from hwsim.specs.scenario import EngineConfig

STEP_S = 1e-3
ENGINE = EngineConfig(block_size=16, step_overhead_s=0.0, request_overhead_s=0.0)


class ConstantSteps:
    """Every step takes `STEP_S`, half of it compute-busy and half memory-busy; shapes are kept."""

    def __init__(self):
        self.shapes = []

    def step(self, groups):
        self.shapes.append(groups)
        return STEP_S, STEP_S / 2, STEP_S / 2

    def step_s(self, groups):
        return self.step(groups)[0]

    def decode_run(self, groups):
        return _Run(self, groups)


class _Run:
    """A run of decode steps on `ConstantSteps`: each step's shape kept, its context a token longer."""

    def __init__(self, steps: ConstantSteps, groups):
        self.steps, self.groups = steps, groups

    def busy(self, first, count):
        head = self.groups[0]
        return [self.steps.step((head._replace(kv_len=head.kv_len + i),) + tuple(self.groups[1:]))
                for i in range(first, first + count)]


def replica(engine=ENGINE, total_blocks=64, **setup) -> Replica:
    """A replica on a fresh simpy environment; `setup` overrides ReplicaSetup's fields."""
    fields = {"config": engine, "timer": ConstantSteps(), "total_blocks": total_blocks, "block_bytes": 1.0}
    return Replica(simpy.Environment(), 0, ReplicaSetup(**(fields | setup)))


def serve(engine_replica: Replica, *requests: tuple[float, int, int]) -> list[Seq]:
    """Submit (arrival_s, prompt, output) requests at their times and run until all are done."""
    env = engine_replica.env
    seqs = [Seq(i, arrival_s, prompt, output) for i, (arrival_s, prompt, output) in enumerate(requests)]

    def arrive(seq: Seq):
        yield env.timeout(seq.arrival_s)
        engine_replica.submit(seq)

    for seq in seqs:
        env.process(arrive(seq))
    env.run()
    return seqs


def rows(engine_replica: Replica) -> list[dict]:
    """The replica's step records, one dict per scheduling decision."""
    return step_frame([engine_replica.steps]).to_dict("records")
