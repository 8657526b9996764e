"""Reads a serving scenario YAML into a `Scenario`: hardware and model resolved from the catalog,
engine settings, SLOs, placement, MoE setup, techniques, pricing and the workload."""
from __future__ import annotations

from pathlib import Path

from hwsim.base.errors import HwsimError, InputError, brief
from hwsim.loading import catalog, engine_yaml, pricing_yaml, techniques_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.loading.routing import routing_for
from hwsim.loading.workload_yaml import load_workload
from hwsim.perf.moe import CACHE_POLICIES
from hwsim.perf.ops import ExpertSetup
from hwsim.specs import deployment
from hwsim.specs.deployment import IMPLEMENTATIONS
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.placement import parse
from hwsim.specs.pricing import DEFAULT_PRICING, Pricing
from hwsim.specs.scenario import (
    BATCHING,
    MAX_BATCHED_TOKENS,
    MAX_BLOCK_SIZE,
    MAX_DEVICES,
    MAX_NUM_SEQS,
    MAX_REPLICAS,
    PREEMPTION,
    ROUTERS,
    Disaggregation,
    EngineConfig,
    Scenario,
    Slo,
)
from hwsim.specs.techniques import Techniques
from hwsim.specs.workload import Workload


def _kv_offload(fields: Fields, d: EngineConfig) -> dict:
    """The `kv_offload` block: bytes of host DRAM and of drives that keep evicted cached blocks."""
    if not fields.has("kv_offload"):
        return {"kv_offload_host_bytes": d.kv_offload_host_bytes, "kv_offload_disk_bytes": d.kv_offload_disk_bytes}
    section = fields.section("kv_offload")
    tiers = {"kv_offload_host_bytes": section.quantity("host", "bytes", 0.0, positive=False),
             "kv_offload_disk_bytes": section.quantity("disk", "bytes", 0.0, positive=False)}
    section.finish()
    return tiers


def engine_settings(fields: Fields) -> EngineConfig:
    """An `engine:` block: the settings of the engine profile it names (`profile: vllm-v1`), or
    hwsim's own defaults, with every other key it gives in their place."""
    d = EngineConfig()
    if fields.has("profile"):
        name = fields.string("profile")
        try:
            d = catalog.engine(name)
        except HwsimError as exc:
            raise fields.error("profile", str(exc)) from None
    sizes = fields.raw("cuda_graph_sizes", d.cuda_graph_sizes)
    engine = EngineConfig(
        batching=fields.string("batching", d.batching, choices=BATCHING),
        max_num_seqs=fields.integer("max_num_seqs", d.max_num_seqs, high=MAX_NUM_SEQS),
        max_num_batched_tokens=fields.integer("max_num_batched_tokens", d.max_num_batched_tokens,
                                              high=MAX_BATCHED_TOKENS),
        block_size=fields.integer("block_size", d.block_size, high=MAX_BLOCK_SIZE),
        gpu_memory_utilization=fields.number("gpu_memory_utilization", d.gpu_memory_utilization, low=0.05, high=1.0),
        preemption=fields.string("preemption", d.preemption, choices=PREEMPTION),
        admission=fields.string("admission", d.admission, choices=("prompt", "full")),
        swap_space_bytes=fields.quantity("swap_space", "bytes", d.swap_space_bytes),
        router=fields.string("router", d.router, choices=ROUTERS),
        kernels=fields.string("kernels", d.kernels, choices=tuple(IMPLEMENTATIONS)),
        step_overhead_s=fields.quantity("step_overhead", "seconds", d.step_overhead_s, positive=False),
        request_overhead_s=fields.quantity("request_overhead", "seconds", d.request_overhead_s, positive=False),
        coalesce=fields.boolean("coalesce", d.coalesce),
        prefix_caching=fields.boolean("prefix_caching", d.prefix_caching),
        **_kv_offload(fields, d),
        profile=d.profile,
        cuda_graph_sizes=engine_yaml.graph_sizes(fields, "cuda_graph_sizes", sizes),
        uncaptured=fields.string("uncaptured", d.uncaptured, choices=("eager", "graph")),
        graph_steps=fields.string("graph_steps", d.graph_steps, choices=("decode", "all")),
        sequence_overhead_s=fields.quantity("sequence_overhead", "seconds", d.sequence_overhead_s, positive=False),
        prefill_token_overhead_s=fields.quantity("prefill_token_overhead", "seconds", d.prefill_token_overhead_s,
                                                 positive=False),
        output_token_overhead_s=fields.quantity("output_token_overhead", "seconds", d.output_token_overhead_s,
                                                positive=False),
    )
    fields.finish()
    return engine


def _techniques(fields: Fields) -> Techniques:
    if not fields.has("techniques"):
        return Techniques()
    section = fields.section("techniques")
    try:
        return techniques_yaml.load_techniques(section)
    except HwsimError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(section.source, "techniques", str(exc)) from None


def _experts(fields: Fields, model: Model) -> tuple[ExpertSetup | None, str, int]:
    """The `moe:` block: routing (uniform, zipf:S or a histogram CSV), expert_parallel, cache, prefetch."""
    if not fields.has("moe"):
        return None, "static", 0
    section = fields.section("moe")
    if model.moe is None:
        raise fields.error("moe", f"{model.id} has no experts")

    spec = section.string("routing", "uniform")
    if spec not in ("uniform",) and not spec.startswith("zipf"):
        spec = str(Path(section.source).parent / spec)
    try:
        routing = routing_for(model, spec)
    except HwsimError as exc:
        raise section.error("routing", str(exc)) from None
    setup = deployment.ExpertSetup(routing=routing, expert_parallel=section.boolean("expert_parallel", False),
                        capacity_factor=section.number("capacity_factor", None, low=1.0),
                        attention_dp=section.boolean("attention_dp", False))
    cache = section.string("cache", "static", choices=CACHE_POLICIES)
    prefetch = section.integer("prefetch", 0, low=0, high=model.moe.experts)
    section.finish()
    return setup, cache, prefetch


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
    raise fields.error("workload", f"expected a preset name, a YAML path or a mapping; got {brief(value)}")


def load_scenario(path: Path) -> Scenario:
    return scenario_from(load_yaml(path), Path(path))


def scenario_from(fields: Fields, path: Path) -> Scenario:
    """The scenario `fields` describe; relative paths in it (a workload file) are read from beside `path`."""
    hardware, count = fields.string("hardware"), fields.integer("count", 1, high=MAX_DEVICES)
    try:
        system = catalog.system(hardware, count)
    except HwsimError as exc:
        raise fields.error("hardware", str(exc)) from None
    model_name = fields.string("model")
    try:
        model = catalog.model(model_name)
    except HwsimError as exc:
        raise fields.error("model", str(exc)) from None
    dtype, kv_dtype = fields.string("dtype", None), fields.string("kv_dtype", None)
    weight_bits = fields.number("weight_bits", None, low=1.0, high=32.0)
    weight_format = fields.string("weight_format", None)
    try:
        precision = deployment.Precision.of(dtype, kv_dtype, weight_bits, weight_format)
    except HwsimError as exc:
        raise fields.error("weight_format" if weight_format else "dtype", str(exc)) from None
    workload = workload_field(fields, Path(path))
    engine = engine_settings(fields.section("engine", {}))
    slo_fields = fields.section("slo", {})
    slo = Slo(slo_fields.quantity("ttft", "seconds", None), slo_fields.quantity("tpot", "seconds", None))
    slo_fields.finish()
    disaggregation = _disaggregation(fields, system)
    placement_text = fields.string("placement", "device")
    try:
        placement = parse(placement_text)
        deployment.check_experts_placement(placement, model)
    except HwsimError as exc:
        raise fields.error("placement", str(exc)) from None
    experts, cache, prefetch = _experts(fields, model)
    offload = deployment.OffloadOptions(overlap=fields.boolean("overlap", True), pinned=fields.boolean("pinned", True),
                             expert_cache=cache, prefetch_experts=prefetch,
                             gpudirect=fields.boolean("gpudirect", False))
    scenario = Scenario(
        name=fields.string("name", Path(path).stem),
        placement=placement,
        offload=offload,
        pricing=pricing_field(fields),
        experts=experts,
        techniques=_techniques(fields),
        system=system,
        model=model,
        precision=precision,
        workload=workload,
        replicas=fields.integer("replicas", 1, high=MAX_REPLICAS),
        engine=engine,
        slo=slo,
        disaggregation=disaggregation,
    )
    fields.finish()
    return scenario


def _disaggregation(fields: Fields, system: System) -> Disaggregation | None:
    """The optional `disaggregation` block: prefill and decode pools and the link between them
    (by default the accelerator's peer link, else the host link)."""
    if not fields.has("disaggregation"):
        return None
    section = fields.section("disaggregation")
    link_id = section.string("link", "")
    default_link = system.accelerator.peer_link if system.accelerator else None
    try:
        link = catalog.link(link_id) if link_id else (default_link or system.host_link)
    except HwsimError as exc:
        raise section.error("link", str(exc)) from None
    if link is None:
        raise section.error("link", f"{system.id} has no peer or host link; name one to hand KV caches over")
    disaggregation = Disaggregation(section.integer("prefill_replicas", high=MAX_REPLICAS),
                                    section.integer("decode_replicas", high=MAX_REPLICAS), link)
    section.finish()
    return disaggregation


def pricing_field(fields: Fields, key: str = "pricing") -> Pricing:
    """The pricing profile a scenario names (by id or YAML path), or the default one."""
    name = fields.string(key, DEFAULT_PRICING)
    try:
        return pricing_yaml.pricing(name)
    except HwsimError as exc:
        raise fields.error(key, str(exc)) from None
