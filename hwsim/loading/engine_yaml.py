"""Reading a serving-engine profile (`engines/<id>.yaml`): an engine's defaults as shipped, each
with its source, into the `EngineConfig` a scenario starts from."""
from __future__ import annotations

from hwsim.base.errors import brief
from hwsim.loading.fields import Fields
from hwsim.specs.scenario import BATCHING, MAX_BATCHED_TOKENS, MAX_BLOCK_SIZE, MAX_NUM_SEQS, PREEMPTION, EngineConfig


def load_engine(fields: Fields) -> EngineConfig:
    """An engine profile, every setting required."""
    overheads = fields.section("overheads")

    def seconds(key: str) -> float:
        return overheads.quantity(key, "seconds", positive=False)

    engine = EngineConfig(
        profile=fields.string("id"),
        max_num_seqs=fields.integer("max_num_seqs", high=MAX_NUM_SEQS),
        max_num_batched_tokens=fields.integer("max_num_batched_tokens", high=MAX_BATCHED_TOKENS),
        block_size=fields.integer("block_size", high=MAX_BLOCK_SIZE),
        batching=fields.string("batching", choices=BATCHING),
        preemption=fields.string("preemption", choices=PREEMPTION),
        admission=fields.string("admission", choices=("prompt", "full")),
        prefix_caching=fields.boolean("prefix_caching"),
        gpu_memory_utilization=fields.number("gpu_memory_utilization", low=0.05, high=1.0),
        cuda_graph_sizes=graph_sizes(fields, "cuda_graph_sizes", fields.raw("cuda_graph_sizes")),
        uncaptured=fields.string("uncaptured", choices=("eager", "graph")),
        graph_steps=fields.string("graph_steps", choices=("decode", "all")),
        step_overhead_s=seconds("per_step"),
        sequence_overhead_s=seconds("per_sequence"),
        prefill_token_overhead_s=seconds("per_prefill_token"),
        output_token_overhead_s=seconds("per_output_token"),
        request_overhead_s=seconds("per_request"),
    )
    overheads.finish()
    fields.string("kind", choices=("engine",))
    fields.string("name")
    fields.notes("sources")
    fields.finish()
    return engine


def graph_sizes(fields: Fields, key: str, value: object) -> tuple[int, ...] | None:
    """A list of captured batch sizes, increasing, each at least 1 (None: not modeled)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(b, int) and not isinstance(b, bool)
                                                       for b in value):
        raise fields.error(key, f"expected a list of whole batch sizes; got {brief(value)}")
    if any(b < 1 or b > MAX_NUM_SEQS for b in value) or list(value) != sorted(set(value)):
        raise fields.error(key, f"expected increasing batch sizes between 1 and {MAX_NUM_SEQS:,}; got {brief(value)}")
    return tuple(value)
