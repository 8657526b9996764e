"""A scenario: hardware, model, engine settings, workload and SLOs, read from one YAML file."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from hwsim.base.errors import HwsimError, InputError
from hwsim.specs import deployment
from hwsim.specs.deployment import IMPLEMENTATIONS, Deployment
from hwsim.specs.hardware import Link, System
from hwsim.specs.models import Model
from hwsim.specs.placement import Placement
from hwsim.specs.pricing import Pricing
from hwsim.specs.techniques import Techniques
from hwsim.specs.workload import Workload

BATCHING = ("mixed", "inflight", "prefill_first", "static")
PREEMPTION = ("recompute", "swap")
ROUTERS = ("round_robin", "least_outstanding", "prefix_affinity")
# Bounds on a deployment's size, well above any real cluster: each replica is simulated as its own
# process and each device's share of a step is worked out, so more would not finish.
MAX_DEVICES = 4096  # accelerators of one replica (tensor parallel)
MAX_REPLICAS = 4096
MAX_NUM_SEQS = 1_000_000  # sequences one engine schedules at once
MAX_BATCHED_TOKENS = 100_000_000  # tokens one engine step processes
MAX_BLOCK_SIZE = 1_000_000  # tokens of one KV block


@dataclass(frozen=True)
class EngineConfig:
    """Serving-engine settings, named and defaulted as in vLLM."""

    # mixed: chunked prefill within a token budget, decodes first; inflight: the same with whole prompts
    batching: str = "mixed"
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    block_size: int = 16
    gpu_memory_utilization: float = 0.9
    preemption: str = "recompute"
    # prompt: a sequence starts when its whole prompt fits (vLLM); full: when prompt and output fit,
    # so it never has to be preempted (TensorRT-LLM's guaranteed-no-evict)
    admission: str = "prompt"
    swap_space_bytes: float = 16 * 2**30
    router: str = "round_robin"
    kernels: str = "fused"
    # host work per iteration that the GPU waits for: scheduling, sampling, output processing
    step_overhead_s: float = 0.5e-3
    # a request's tokenization and API handling before it reaches the scheduler
    request_overhead_s: float = 5e-3
    # run unchanged decode batches as one event each (priced step by step, so results are those of
    # `false`, which plans every step afresh)
    coalesce: bool = True
    profile: str = ""  # the engine profile (`engines/*.yaml`) these settings start from; "": hwsim's own
    # decode batch sizes replayed from CUDA graphs: a decode batch runs padded up to the next size;
    # a step of no captured size launches as `uncaptured` says. None: every step as captured, unpadded
    cuda_graph_sizes: tuple[int, ...] | None = None
    uncaptured: str = "graph"  # eager: launched op by op from Python; graph: the engine's own runtime
    # which steps graphs capture: `decode` (decode-only batches, sized by sequences) or `all` (any
    # step, sized by tokens: piecewise graphs around attention, as vLLM V1 compiles the model)
    graph_steps: str = "decode"
    # host work per iteration beyond step_overhead: per running sequence, per prompt token processed,
    # per token yielded (detokenizing and streaming it)
    sequence_overhead_s: float = 0.0
    prefill_token_overhead_s: float = 0.0
    output_token_overhead_s: float = 0.0
    # keep the KV blocks of ended requests while nothing needs them, and start a request whose prompt
    # begins with cached blocks after them (vLLM's automatic prefix caching, SGLang's radix cache)
    prefix_caching: bool = False
    # where cached blocks evicted from the device are kept for later hits: host DRAM, then the drives
    # (LMCache, Mooncake's store); 0: not kept
    kv_offload_host_bytes: float = 0.0
    kv_offload_disk_bytes: float = 0.0

    def __post_init__(self) -> None:
        sizes = self.cuda_graph_sizes
        if sizes is not None and (any(b < 1 for b in sizes) or list(sizes) != sorted(set(sizes))):
            raise HwsimError(f"engine cuda_graph_sizes must be increasing sizes of at least 1; got {list(sizes)}")
        if self.graph_steps not in ("decode", "all"):
            raise HwsimError(f"engine graph_steps must be decode or all; got {self.graph_steps!r}")
        if self.uncaptured not in ("eager", "graph"):
            raise HwsimError(f"engine uncaptured must be eager or graph; got {self.uncaptured!r}")

    def graph_size(self, size: int) -> int | None:
        """The captured size a step of `size` (decode sequences, or tokens with `graph_steps: all`)
        is padded to; None when no captured size holds it (it launches as `uncaptured` says)."""
        if self.cuda_graph_sizes is None:
            return size
        index = bisect.bisect_left(self.cuda_graph_sizes, size)
        return self.cuda_graph_sizes[index] if index < len(self.cuda_graph_sizes) else None

    def host_overhead_s(self, sequences: int, prefill_tokens: int, output_tokens: int) -> float:
        """Host time the device waits for in one iteration."""
        return (self.step_overhead_s + sequences * self.sequence_overhead_s
                + prefill_tokens * self.prefill_token_overhead_s + output_tokens * self.output_token_overhead_s)


@dataclass(frozen=True)
class Slo:
    ttft_s: float | None = None
    tpot_s: float | None = None


@dataclass(frozen=True)
class Disaggregation:
    prefill_replicas: int
    decode_replicas: int
    link: Link


@dataclass(frozen=True)
class Scenario:
    name: str
    system: System  # one replica: `count` accelerators, tensor parallel
    model: Model
    precision: deployment.Precision
    workload: Workload
    replicas: int = 1
    engine: EngineConfig = field(default_factory=EngineConfig)
    slo: Slo = field(default_factory=Slo)
    disaggregation: Disaggregation | None = None
    placement: Placement = field(default_factory=Placement)
    offload: deployment.OffloadOptions = field(default_factory=deployment.OffloadOptions)
    pricing: Pricing | None = None  # resolved by the loader (its default profile); None: not priced
    experts: deployment.ExpertSetup | None = None  # MoE routing, expert parallelism
    techniques: Techniques = field(default_factory=Techniques)  # what-if optimizations

    @property
    def deployment(self) -> Deployment:
        """What the serving engine runs: the model on one replica's system, in CUDA-graph launch."""
        techniques = None if self.techniques.is_identity else self.techniques
        return Deployment(self.model, self.system, self.precision, IMPLEMENTATIONS[self.engine.kernels], "graph",
                          self.placement, self.offload, self.experts, techniques)

    @property
    def tp(self) -> int:
        return max(1, self.system.accelerator_count)


def check(scenario: Scenario, source: str = "scenario") -> None:
    """Fail up front on what cannot run, naming the field."""
    if scenario.disaggregation and scenario.engine.batching == "static":
        raise InputError(source, "engine.batching", "static batching cannot be disaggregated")
    engine = scenario.engine
    if (engine.kv_offload_host_bytes or engine.kv_offload_disk_bytes) and not engine.prefix_caching:
        raise InputError(source, "engine.kv_offload", "keeps evicted cached blocks, so it needs prefix_caching: true")
    drives_bytes = sum(drive.capacity_bytes * count for drive, count in scenario.system.storage)
    for tier, wanted, has, what in (("host", engine.kv_offload_host_bytes, scenario.system.dram_bytes, "host DRAM"),
                                    ("disk", engine.kv_offload_disk_bytes, drives_bytes, "drives")):
        if wanted > has:
            raise InputError(source, f"engine.kv_offload.{tier}", f"{wanted / 1e9:,.0f} GB is more than the system's "
                                                                 f"{what} ({has / 1e9:,.0f} GB)")
    budgeted = scenario.engine.batching in ("mixed", "inflight")
    if scenario.engine.max_num_batched_tokens < scenario.engine.max_num_seqs and budgeted:
        raise InputError(source, "engine.max_num_batched_tokens",
                         f"must be at least max_num_seqs ({scenario.engine.max_num_seqs}) so every running "
                         f"sequence can decode in one step; got {scenario.engine.max_num_batched_tokens}")
