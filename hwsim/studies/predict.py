"""Predict one measurement row: the bridge between the measurement schema and the models.

Each kind has one predictor in `PREDICTORS`. A predictor returns the predicted value in the
row's metric, or raises RowError saying why the row is not predictable.

Implementation convention for `step` rows: a `launch` value (eager or graph) means a plain
PyTorch module implementation (unfused elementwise kernels), as in the reference H200 rows;
an empty `launch` means an inference engine's own runtime (fused kernels, negligible launch).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog
from hwsim.loading.measurements import Row, RowError
from hwsim.perf import roofline
from hwsim.perf.offload import OffloadOptions, TierStep, check_fit, disk_read_s, disk_write_s
from hwsim.perf.ops import Op, attention_op
from hwsim.perf.step import StepCost
from hwsim.perf.step_model import StepModel
from hwsim.specs import deployment
from hwsim.specs.benchmark import Benchmark
from hwsim.specs.deployment import DTYPE_BYTES, IMPLEMENTATIONS, Deployment, Precision
from hwsim.specs.hardware import Performance, System
from hwsim.specs.placement import Placement, check_tiers
from hwsim.specs.placement import parse as parse_placement
from hwsim.specs.scenario import EngineConfig, Scenario
from hwsim.specs.shape import AttnGroup, StepShape
from hwsim.specs.workload import Lengths, Workload

Overlays = dict[str, Performance]


def with_performance(system: System, performance: Performance) -> System:
    """`system` whose accelerator (or CPU, when it has none) uses `performance`."""
    if system.accelerator is not None:
        acc = system.accelerator
        return replace(system, accelerator=replace(acc, compute=replace(acc.compute, performance=performance)))
    cpu = system.cpu
    return replace(system, cpu=replace(cpu, compute=replace(cpu.compute, performance=performance)))


def _system(row: Row, overlays: Overlays) -> System:
    try:
        system = catalog.system(row.text("hardware"), row.integer("count", 1))
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None
    if system.id in overlays:
        system = with_performance(system, overlays[system.id])
    return system


def _precision(row: Row) -> Precision:
    dtype = row.text("dtype", "bf16")
    # the schema's kv_dtype is given "when it differs from dtype": an fp8 row without one caches fp8
    # (weight-only int8/int4 rows compute, and cache, in fp16, as Precision does by itself)
    kv = row.text("kv_dtype", "") or ("fp8" if dtype == "fp8" else None)
    bits = row.number("weight_bits", 0.0) or None
    fmt = row.text("weight_format", "") or None
    if fmt is None and dtype == "int4" and row.text("launch", "") and _on_cuda(row):
        # a plain PyTorch module's int4 weight-only matmul is PyTorch's one int4 kernel, tinygemm
        # (torch._weight_int4pack_mm), as in the schema's launch convention
        fmt = "int4-tinygemm"
    # FlexGen compresses its KV cache with its own group-wise 4-bit format (--compress-cache)
    kv_format = "flexgen-int4-g64" if row.text("engine", "").startswith("flexgen") and kv == "int4" else None
    try:
        return Precision(dtype, kv, bits, weight_format=fmt, kv_format=kv_format)
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None


def _on_cuda(row: Row) -> bool:
    """Whether the row's hardware computes on a CUDA GPU."""
    try:
        return catalog.system(row.text("hardware"), row.integer("count", 1)).compute.backend == "cuda"
    except HwsimError:
        return False


def _launch(row: Row) -> str:
    launch = row.text("launch", "graph")
    if launch not in roofline.LAUNCH_MODES:
        raise RowError(f"not predictable: unknown launch {launch!r}")
    return launch


# engines that run a model as plain HuggingFace transformers modules: eager attention with the
# scores materialized and grouped KV heads expanded to every query head (repeat_kv), as the
# `unfused-math` implementation models (DeepSpeedExamples zero_inference runs AutoModelForCausalLM)
PLAIN_TRANSFORMERS_ENGINES = ("deepspeed-zero-inference",)


def _engine_kernels(row: Row) -> str | None:
    """The kernel implementation a row's engine implies, when it implies one."""
    engine = row.text("engine", "")
    return "unfused-math" if engine.startswith(PLAIN_TRANSFORMERS_ENGINES) else None


def _seconds_only(row: Row) -> None:
    if row.metric != "seconds":
        raise RowError(f"not predictable: metric {row.metric!r} for kind {row.kind} (expected seconds)")


def predict_gemm(row: Row, overlays: Overlays, techniques=None) -> float:
    _seconds_only(row)
    system = _system(row, overlays)
    precision = _precision(row)
    m, n, k = (row.integer(c) for c in ("m", "n", "k"))
    op = Op("gemm", "gemm", precision.compute_dtype, flops=2.0 * m * n * k,
            weight_bytes=n * k * precision.weight_bytes_per_param, act_bytes=(m * k + m * n) * precision.act_bytes,
            m=m, n=n, k=k, weight_format=precision.weight_format)
    return _op_time(op, system, _launch(row))


def predict_attention(row: Row, overlays: Overlays, techniques=None) -> float:
    _seconds_only(row)
    system = _system(row, overlays)
    precision = _precision(row)
    batch, q_len, kv_len = row.integer("batch"), row.integer("q_len", 1), row.integer("kv_len")
    heads, kv_heads, head_dim = row.integer("heads_q"), row.integer("heads_kv"), row.integer("head_dim")
    phase = row.text("phase")
    if phase == "decode":
        q_len = 1
    elif phase != "prefill":
        raise RowError(f"not predictable: phase {phase!r} (expected prefill or decode)")
    if q_len > kv_len:
        raise RowError(f"q_len {q_len} exceeds kv_len {kv_len}")
    shape = StepShape((AttnGroup(batch, q_len, kv_len),))
    op = attention_op(shape, heads, kv_heads, head_dim, head_dim, 2 * kv_heads * head_dim, precision)
    return _op_time(op, system, _launch(row))


def _op_time(op: Op, system: System, launch: str) -> float:
    try:
        return roofline.op_cost(op, system.compute, launch).time_s
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None


def predict_copy(row: Row, overlays: Overlays, techniques=None) -> float:
    _seconds_only(row)
    system = _system(row, overlays)
    size = row.number("bytes")
    src, dst = row.text("src"), row.text("dst")
    chunk = row.number("chunk_bytes", 0.0) or None
    ends = {src, dst}
    known = {"device", "host_pinned", "host_pageable", "disk"}
    if not ends <= known:
        raise RowError(f"not predictable: copy endpoints {src}->{dst} (expected {', '.join(sorted(known))})")
    device = system.compute
    if ends == {"device"}:
        copies = size / chunk if chunk else 1.0
        return copies * roofline.device_copy_s(chunk or size, device)
    issue_s = device.performance.eager_copy_dispatch_s if _launch(row) == "eager" else 0.0
    link_s = 0.0
    if "device" in ends:
        if system.host_link is None:
            raise RowError(f"not predictable: {system.id} has no host link")
        link_s = roofline.transfer_s(size, system.host_link, chunk, pageable="host_pageable" in ends, issue_s=issue_s)
    if "disk" not in ends:
        if "device" not in ends:  # host to host: the CPUs read and write every byte in DRAM
            host = system.host_compute
            return 2.0 * size / (host.memory_bandwidth_bytes_per_s * host.performance.copy_efficiency)
        return link_s
    # through the drives: reads (or writes) stream in large requests, striped over every drive;
    # a copy between disk and device moves through host memory, the two stages pipelined
    try:
        disk_s = (disk_read_s(system, size, chunk) if src == "disk"
                  else system.storage[0][0].read_latency_s + disk_write_s(system, size))
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None
    return max(disk_s, link_s)


def _model(row: Row):
    try:
        return catalog.model(row.text("model"))
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None


def _placement(row: Row, system: System) -> Placement:
    try:
        placement = parse_placement(row.text("placement", "device"))
        check_tiers(placement, system)
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None
    return placement


def predict_step(row: Row, overlays: Overlays, techniques=None) -> float:
    return step_of(row, overlays, techniques).time_s


def step_of(row: Row, overlays: Overlays | None = None, techniques=None) -> StepCost | TierStep:
    """The step a `step` row describes, per operator (or per tier when offloaded)."""
    _seconds_only(row)
    overlays = overlays or {}
    system = _system(row, overlays)
    model = _model(row)
    placement = _placement(row, system)
    batch = row.integer("batch", 1)
    phase = row.text("phase")
    if phase == "prefill":
        shape = StepShape.prefill(batch, row.integer("prompt_len"))
    elif phase == "decode":
        shape = StepShape.decode(batch, row.integer("context_len", 0, minimum=0))
    else:
        raise RowError(f"not predictable: phase {phase!r} (expected prefill or decode)")
    launch_given = row.text("launch", "")
    implementation = IMPLEMENTATIONS[_engine_kernels(row) or ("unfused" if launch_given else "fused")]
    layers = row.integer("layers", model.num_layers)
    experts = row.number("active_experts", 0.0) or None
    options = OffloadOptions(overlap=row.flag("overlap", True), pinned=row.flag("pinned", True))
    try:
        deployment = Deployment(model, system, _precision(row), implementation, launch_given or "graph", placement,
                                options, techniques=techniques)
        return StepModel(deployment, layers, experts).cost(shape)
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None


# the schema's serving metrics and the summary field each is predicted by; `tpot_` is each request's
# mean gap (genai-perf's inter_token_latency), `itl_` every gap of every request pooled (vLLM's ITL)
SERVING_METRICS = {
    "output_tokens_per_s": "output_tokens_per_s",
    "requests_per_s": "requests_per_s",
    "ttft_mean_s": "ttft_mean_s",
    "ttft_median_s": "ttft_p50_s",
    "ttft_p99_s": "ttft_p99_s",
    "tpot_mean_s": "tpot_mean_s",
    "tpot_median_s": "tpot_p50_s",
    "itl_mean_s": "itl_mean_s",
    "e2e_mean_s": "e2e_mean_s",
    "e2e_median_s": "e2e_p50_s",
    "e2e_p99_s": "e2e_p99_s",
}
# the benchmark client an engine's published figures come from, for its default request count
BENCHMARK_TOOLS = {"vllm": "vllm-bench-serve", "sglang": "vllm-bench-serve", "nim": "genai-perf",
                   "tensorrt-llm": "genai-perf"}
# engines whose published concurrency figures are steady-state measurements: NVIDIA's NIM
# Performance page was measured with genai-perf's time windows (--measurement-interval) after a
# warm-up run (NVIDIA technical blog "LLM Performance Benchmarking: Measuring NVIDIA NIM Performance
# with GenAI-Perf"), so its users are already in flight when the measured requests start
STEADY_STATE_ENGINES = ("nim",)


def _engine_profile(row: Row) -> EngineConfig | None:
    """The shipped engine profile nearest to the row's `engine` column, None without one."""
    software = row.text("engine", "")
    profile = catalog.nearest_engine(software) if software else None
    return catalog.engine(profile) if profile else None


def engine_note(row: Row) -> str:
    """What a serving row's prediction assumed about its engine, when the row names one hwsim has no
    profile near ("" otherwise)."""
    software = row.text("engine", "")
    if row.kind != "serving" or not software or catalog.nearest_engine(software):
        return ""
    return f"engine {software!r} has no profile near it: predicted with hwsim's own engine settings"


def _benchmark(row: Row) -> Benchmark | None:
    """The benchmark client of the row's engine family, when one is known."""
    family = row.text("engine", "").lower()
    tool = next((t for name, t in BENCHMARK_TOOLS.items() if family.startswith(name)), None)
    return Benchmark(tool) if tool else None


def _request_count(row: Row, concurrency: int | None, benchmark: Benchmark | None) -> tuple[int, str]:
    """The row's request count, or its benchmark tool's default when the row leaves it empty."""
    if row.cells.get("requests", "") or benchmark is None:
        return row.integer("requests"), ""
    count = benchmark.requests_for(concurrency)
    if count is None:
        raise RowError(f"column requests is empty and {benchmark.spec.name} has no known default for this load")
    return count, f"{benchmark.spec.name}'s default"


def _serving_workload(row: Row, benchmark: Benchmark | None) -> Workload:
    """Closed-loop users at the row's concurrency, or Poisson arrivals at its rate (inf: all at once)."""
    prompt, output = Lengths("fixed", row.integer("input_len")), Lengths("fixed", row.integer("output_len"))
    try:
        if row.cells.get("concurrency", ""):
            concurrency = row.integer("concurrency")
            steady = not row.cells.get("requests", "") and row.text("engine", "").lower().startswith(
                STEADY_STATE_ENGINES)
            if benchmark is not None and steady:
                benchmark = benchmark.steady(concurrency)
            count, source = _request_count(row, concurrency, benchmark)
            return Workload("row", "closed_loop", concurrency=concurrency, count=count, prompt=prompt, output=output,
                            benchmark=benchmark, count_source=source)
        rate = row.number("request_rate")
        if rate <= 0:
            raise RowError(f"column request_rate: expected a positive rate or inf, got {rate:g}")
        kind = "offline" if rate == float("inf") else "poisson"
        count, source = _request_count(row, None, benchmark)
        return Workload("row", kind, rate_per_s=rate, count=count, prompt=prompt, output=output, benchmark=benchmark,
                        count_source=source)
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None


def _moe_parallel(model, system: System) -> bool:
    """A MoE model on several devices runs its experts expert-parallel."""
    return model.moe is not None and system.accelerator_count > 1


def _serving_engine(row: Row, workload: Workload, model, system: System, placement: Placement) -> EngineConfig:
    """The row's engine: its nearest profile, or hwsim's defaults without one.

    An all-at-once run is a throughput benchmark (trtllm-bench), which sizes its batch limits to the
    benchmark, gives the KV cache nearly all free memory (trtllm-bench's KV cache fraction is 0.95 in
    the published rows) and starts a request only when its whole length fits (TensorRT-LLM's default
    guaranteed-no-evict scheduling). A MoE model on several devices runs its experts expert-parallel,
    and MoE engines schedule a batch per device (attention data parallelism), so the batch limits
    scale with the devices. Offloading systems (FlexGen) run their whole block of sequences together."""
    profile = _engine_profile(row)
    kernels = _engine_kernels(row) or "fused"
    if profile is not None and workload.arrival != "offline":
        return replace(profile, kernels=kernels)
    base = profile or EngineConfig()
    per_engine = system.accelerator_count if _moe_parallel(model, system) else 1
    prompt = workload.prompt.value
    seqs = min(EngineConfig.max_num_seqs * per_engine, workload.concurrency or workload.count)
    tokens = EngineConfig.max_num_batched_tokens * per_engine
    return replace(base, max_num_seqs=seqs, max_num_batched_tokens=max(seqs, min(tokens, seqs * prompt)),
                   gpu_memory_utilization=0.95, admission="full", kernels=kernels,
                   batching="mixed" if placement.on_device else "static")


def predict_serving(row: Row, overlays: Overlays, techniques=None) -> float:
    """A whole serving run, simulated with the row's engine profile (hwsim's defaults without one) and
    its benchmark client's request count when the row does not give one."""
    from hwsim.serving.simulate import simulate

    if row.metric not in SERVING_METRICS:
        raise RowError(f"not predictable: metric {row.metric!r} for kind serving "
                       f"(expected {', '.join(SERVING_METRICS)})")
    system = _system(row, overlays)
    model = _model(row)
    placement = _placement(row, system)
    workload = _serving_workload(row, _benchmark(row))
    engine = _serving_engine(row, workload, model, system, placement)
    options = deployment.OffloadOptions(overlap=row.flag("overlap", True), pinned=row.flag("pinned", True))
    try:
        if not placement.on_device:  # the block runs together: its whole KV must fit where it is placed
            check_fit(model, system, _precision(row), placement, engine.max_num_seqs,
                      workload.prompt.value + workload.output.value)
        result = simulate(Scenario(row.id, system, model, _precision(row), workload, engine=engine,
                                   placement=placement, offload=options,
                                   experts=deployment.ExpertSetup(expert_parallel=True) if _moe_parallel(model, system)
                                   else None,
                                   **({"techniques": techniques} if techniques is not None else {})),
                          keep_steps=False)
    except HwsimError as exc:
        raise RowError(f"not predictable: {exc}") from None
    value = result.summary[SERVING_METRICS[row.metric]]
    if value is None:
        raise RowError(f"not predictable: {row.metric} is undefined for this run")
    return value


PREDICTORS: dict[str, Callable[..., float]] = {
    "gemm": predict_gemm,
    "attention": predict_attention,
    "copy": predict_copy,
    "step": predict_step,
    "serving": predict_serving,
}


def predict(row: Row, overlays: Overlays | None = None, techniques=None) -> float:
    predictor = PREDICTORS.get(row.kind)
    if predictor is None:
        raise RowError(f"not predictable: unknown kind {row.kind!r} (expected {', '.join(PREDICTORS)})")
    if row.text("dtype", "bf16") not in DTYPE_BYTES:
        raise RowError(f"not predictable: unknown dtype {row.text('dtype')!r}")
    return predictor(row, overlays or {}, techniques)
