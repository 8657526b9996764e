"""A scenario: hardware, model, engine settings, workload and SLOs, read from one YAML file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hwsim import catalog
from hwsim.errors import HwsimError, InputError
from hwsim.fields import Fields, load_yaml
from hwsim.hardware import Link, System
from hwsim.models import Model
from hwsim.offload import OffloadOptions
from hwsim.ops import IMPLEMENTATIONS, ExpertSetup, Precision
from hwsim.placement import Placement, parse
from hwsim.techniques import Techniques, load_techniques
from hwsim.workload import Workload, load_workload

BATCHING = ("mixed", "prefill_first", "static")
PREEMPTION = ("recompute", "swap")
ROUTERS = ("round_robin", "least_outstanding")


@dataclass(frozen=True)
class EngineConfig:
    """Serving-engine settings, named and defaulted as in vLLM."""

    batching: str = "mixed"  # mixed: chunked prefill within a token budget, decodes first
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
    precision: Precision
    workload: Workload
    replicas: int = 1
    engine: EngineConfig = field(default_factory=EngineConfig)
    slo: Slo = field(default_factory=Slo)
    disaggregation: Disaggregation | None = None
    placement: Placement = field(default_factory=Placement)
    offload: OffloadOptions = field(default_factory=OffloadOptions)
    pricing: str = "cloud-on-demand-2026-05"  # a pricing profile id or path
    experts: ExpertSetup | None = None  # MoE routing, expert parallelism
    techniques: Techniques = field(default_factory=Techniques)  # what-if optimizations

    @property
    def tp(self) -> int:
        return max(1, self.system.accelerator_count)


def load_scenario(path: Path) -> Scenario:
    fields = load_yaml(path)
    try:
        system = catalog.system(fields.string("hardware"), fields.integer("count", 1))
    except HwsimError as exc:
        raise fields.error("hardware", str(exc)) from None
    try:
        model = catalog.model(fields.string("model"))
    except HwsimError as exc:
        raise fields.error("model", str(exc)) from None
    try:
        precision = Precision(fields.string("dtype", "bf16"), fields.string("kv_dtype", None),
                              fields.number("weight_bits", None))
    except HwsimError as exc:
        raise fields.error("dtype", str(exc)) from None
    workload = workload_field(fields, Path(path))
    engine = engine_settings(fields.section("engine", {}))
    slo_fields = fields.section("slo", {})
    slo = Slo(slo_fields.quantity("ttft", "seconds", None), slo_fields.quantity("tpot", "seconds", None))
    slo_fields.finish()
    disaggregation = None
    if fields.has("disaggregation"):
        section = fields.section("disaggregation")
        link_id = section.string("link", "")
        default_link = system.accelerator.peer_link if system.accelerator else None
        link = catalog.link(link_id) if link_id else (default_link or system.host_link)
        disaggregation = Disaggregation(section.integer("prefill_replicas"), section.integer("decode_replicas"), link)
        section.finish()
    try:
        placement = parse(fields.string("placement", "device"))
    except HwsimError as exc:
        raise fields.error("placement", str(exc)) from None
    experts, cache, prefetch = _experts(fields, model)
    offload = OffloadOptions(overlap=fields.boolean("overlap", True), pinned=fields.boolean("pinned", True),
                             expert_cache=cache, prefetch_experts=prefetch,
                             gpudirect=fields.boolean("gpudirect", False))
    scenario = Scenario(
        name=fields.string("name", Path(path).stem),
        placement=placement,
        offload=offload,
        pricing=fields.string("pricing", "cloud-on-demand-2026-05"),
        experts=experts,
        techniques=_techniques(fields),
        system=system,
        model=model,
        precision=precision,
        workload=workload,
        replicas=fields.integer("replicas", 1),
        engine=engine,
        slo=slo,
        disaggregation=disaggregation,
    )
    fields.finish()
    return scenario


def workload_field(fields: Fields, path: Path) -> Workload:
    value = fields.raw("workload")
    if isinstance(value, str):
        candidate = path.parent / value
        try:
            return catalog.workload(str(candidate) if candidate.suffix in (".yaml", ".yml") else value)
        except HwsimError as exc:
            raise fields.error("workload", str(exc)) from None
    if isinstance(value, dict):
        return load_workload(path, Fields(value, str(path), "workload"))
    raise fields.error("workload", f"expected a preset name, a YAML path or a mapping; got {value!r}")


def _experts(fields: Fields, model: Model) -> tuple[ExpertSetup | None, str, int]:
    """The `moe:` block: routing (uniform, zipf:S or a histogram CSV), expert_parallel, cache, prefetch."""
    if not fields.has("moe"):
        return None, "static", 0
    section = fields.section("moe")
    if model.moe is None:
        raise section.error("", f"{model.id} has no experts")
    from hwsim.moe import CACHE_POLICIES, routing_for

    spec = section.string("routing", "uniform")
    if spec not in ("uniform",) and not spec.startswith("zipf"):
        spec = str(Path(section.source).parent / spec)
    try:
        routing = routing_for(model, spec)
    except HwsimError as exc:
        raise section.error("routing", str(exc)) from None
    setup = ExpertSetup(routing=routing, expert_parallel=section.boolean("expert_parallel", False),
                        capacity_factor=section.number("capacity_factor", None, low=1.0),
                        attention_dp=section.boolean("attention_dp", False))
    cache = section.string("cache", "static", choices=CACHE_POLICIES)
    prefetch = section.integer("prefetch", 0, low=0)
    section.finish()
    return setup, cache, prefetch


def _techniques(fields: Fields) -> Techniques:
    if not fields.has("techniques"):
        return Techniques()
    section = fields.section("techniques")
    try:
        return load_techniques(section)
    except HwsimError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(section.source, "techniques", str(exc)) from None


def engine_settings(fields: Fields) -> EngineConfig:
    d = EngineConfig()
    engine = EngineConfig(
        batching=fields.string("batching", d.batching, choices=BATCHING),
        max_num_seqs=fields.integer("max_num_seqs", d.max_num_seqs),
        max_num_batched_tokens=fields.integer("max_num_batched_tokens", d.max_num_batched_tokens),
        block_size=fields.integer("block_size", d.block_size),
        gpu_memory_utilization=fields.number("gpu_memory_utilization", d.gpu_memory_utilization, low=0.05, high=1.0),
        preemption=fields.string("preemption", d.preemption, choices=PREEMPTION),
        admission=fields.string("admission", d.admission, choices=("prompt", "full")),
        swap_space_bytes=fields.quantity("swap_space", "bytes", d.swap_space_bytes),
        router=fields.string("router", d.router, choices=ROUTERS),
        kernels=fields.string("kernels", d.kernels, choices=tuple(IMPLEMENTATIONS)),
        step_overhead_s=fields.quantity("step_overhead", "seconds", d.step_overhead_s, positive=False),
        request_overhead_s=fields.quantity("request_overhead", "seconds", d.request_overhead_s, positive=False),
    )
    fields.finish()
    return engine


def check(scenario: Scenario, source: str = "scenario") -> None:
    """Fail up front on what cannot run, naming the field."""
    if scenario.disaggregation and scenario.engine.batching == "static":
        raise InputError(source, "engine.batching", "static batching cannot be disaggregated")
    if scenario.engine.max_num_batched_tokens < scenario.engine.max_num_seqs and scenario.engine.batching == "mixed":
        raise InputError(source, "engine.max_num_batched_tokens",
                         f"must be at least max_num_seqs ({scenario.engine.max_num_seqs}) so every running "
                         f"sequence can decode in one step; got {scenario.engine.max_num_batched_tokens}")
