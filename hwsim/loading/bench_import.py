"""Measurement rows from the files benchmark tools write, so users validate hwsim against their own runs.

Three formats, each recognised by the keys its tool writes (a file of another shape is refused):
- `vllm bench serve --save-result` JSON (vLLM's benchmarks/serve.py): one object with `backend`,
  `num_prompts`, `completed`, `duration`, `output_throughput` and `mean_ttft_ms`; latencies in ms.
- genai-perf's `profile_export_genai_perf.json`: metric objects (`time_to_first_token`, ...) each with
  a `unit` and an `avg`, and the run's `input_config`; latencies in ms.
- `llama-bench -o json`: an array of tests with `n_prompt`, `n_gen`, `avg_ts`, `model_type`.

The files say which model ran but not as a hwsim id, and never which hardware, so both are given by the
caller. Serving runs become `serving` rows (one per metric the file has), llama-bench tests become
`step` rows as in `validation/llama-bench/` (pp: a prefill of n_prompt tokens; tg: one decode step at the
mean context of the generated tokens).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwsim.base.errors import InputError, brief
from hwsim.loading.fields import read_text

FORMATS = ("vllm", "genai-perf", "llama-bench")
# how to tell each format: keys its tool always writes
SIGNATURES = {
    "vllm": ("backend", "num_prompts", "completed", "duration", "output_throughput", "mean_ttft_ms"),
    "genai-perf": ("input_config", "time_to_first_token", "request_throughput", "output_token_throughput"),
    "llama-bench": ("n_prompt", "n_gen", "avg_ts", "model_type"),
}
# vllm bench serve key (milliseconds, or per second) -> schema metric
VLLM_METRICS = {
    "output_throughput": "output_tokens_per_s", "request_throughput": "requests_per_s",
    "mean_ttft_ms": "ttft_mean_s", "median_ttft_ms": "ttft_median_s", "p99_ttft_ms": "ttft_p99_s",
    "mean_tpot_ms": "tpot_mean_s", "median_tpot_ms": "tpot_median_s", "mean_itl_ms": "itl_mean_s",
    "mean_e2el_ms": "e2e_mean_s", "median_e2el_ms": "e2e_median_s", "p99_e2el_ms": "e2e_p99_s",
}
# genai-perf metric object and statistic -> schema metric; its inter_token_latency is per request
GENAI_PERF_METRICS = {
    ("output_token_throughput", "avg"): "output_tokens_per_s", ("request_throughput", "avg"): "requests_per_s",
    ("time_to_first_token", "avg"): "ttft_mean_s", ("time_to_first_token", "p50"): "ttft_median_s",
    ("time_to_first_token", "p99"): "ttft_p99_s", ("inter_token_latency", "avg"): "tpot_mean_s",
    ("inter_token_latency", "p50"): "tpot_median_s", ("request_latency", "avg"): "e2e_mean_s",
    ("request_latency", "p50"): "e2e_median_s", ("request_latency", "p99"): "e2e_p99_s",
}
# llama.cpp's file type names (model_type's last words) -> (dtype, weight_format)
LLAMA_CPP_TYPES = {"Q4_K - Medium": ("int4", "q4_k_m"), "Q4_0": ("int4", "q4_0"), "Q8_0": ("int8", "q8_0"),
                   "F16": ("fp16", ""), "BF16": ("bf16", ""), "F32": ("fp32", "")}
UNITS_TO_SECONDS = {"ms": 1e-3, "s": 1.0}
Reader = Callable[[Path, Any, "RunContext"], list[dict[str, str]]]


@dataclass(frozen=True)
class RunContext:
    """What the file does not say: where it ran and which hwsim model it was."""

    hardware: str
    model: str
    count: int = 1  # accelerators (tensor parallel)
    dtype: str = ""  # serving runs: weight type, when not the model's default
    engine: str = ""  # `name[-version]` of the serving engine measured


def read_benchmark(path: Path | str, context: RunContext, fmt: str | None = None) -> tuple[str, list[dict[str, str]]]:
    """The format found and the measurement rows (column -> text) of the benchmark output at `path`."""
    path = Path(path)
    document = _json(path)
    found = fmt or _detect(path, document)
    readers: dict[str, Reader] = {"vllm": _vllm_rows, "genai-perf": _genai_perf_rows,
                                  "llama-bench": _llama_bench_rows}
    if found not in readers:
        raise InputError(str(path), "", f"unknown format {found!r}; expected one of {', '.join(FORMATS)}")
    if fmt is not None:
        _check_signature(path, document, fmt)
    rows = readers[found](path, document, context)
    if not rows:
        raise InputError(str(path), "", "no metric hwsim predicts is in the file")
    return found, rows


def _json(path: Path) -> Any:
    text = read_text(path, "a benchmark tool's JSON output")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(str(path), "", f"not valid JSON ({exc}); expected a vllm bench serve result, a "
                                        f"genai-perf profile export or llama-bench -o json output") from None


def _keys(document: Any) -> set[str]:
    """The keys of the object, or of the first object of an array (llama-bench)."""
    if isinstance(document, list) and document and isinstance(document[0], dict):
        return set(document[0])
    return set(document) if isinstance(document, dict) else set()


def _detect(path: Path, document: Any) -> str:
    keys = _keys(document)
    for fmt, signature in SIGNATURES.items():
        if keys.issuperset(signature) and isinstance(document, list) == (fmt == "llama-bench"):
            return fmt
    raise InputError(str(path), "", "not a benchmark output hwsim reads: expected vllm bench serve --save-result "
                                    "JSON (keys " + ", ".join(SIGNATURES["vllm"][:4]) + ", ...), a genai-perf "
                                    "profile_export_genai_perf.json (input_config and metric objects) or "
                                    "llama-bench -o json (an array of tests with n_prompt, n_gen, avg_ts)")


def _check_signature(path: Path, document: Any, fmt: str) -> None:
    missing = [key for key in SIGNATURES.get(fmt, ()) if key not in _keys(document)]
    if missing:
        raise InputError(str(path), missing[0], f"missing; a {fmt} output has {', '.join(SIGNATURES[fmt])}")


def _positive(path: Path, field: str, value: Any) -> float:
    """A finite positive number from the file, or an error naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(str(path), field, f"expected a positive number, got {brief(value)}")
    return float(value)


def _row(context: RunContext, **cells: object) -> dict[str, str]:
    base = {"hardware": context.hardware, "count": str(context.count), "model": context.model}
    return base | {key: "" if value is None else str(value) for key, value in cells.items()}


def _serving_rows(context: RunContext, run: dict[str, object], metrics: dict[str, float], source: str,
                  notes: str) -> list[dict[str, str]]:
    """One `serving` row per metric of one run."""
    return [_row(context, id=f"{run['id_prefix']}-{number}", kind="serving", dtype=context.dtype or None,
                 requests=run["requests"], input_len=run["input_len"], output_len=run["output_len"],
                 concurrency=run.get("concurrency"), request_rate=run.get("request_rate"),
                 engine=context.engine or None, metric=metric, value=repr(value), source=source, notes=notes)
            for number, (metric, value) in enumerate(metrics.items(), start=1)]


def _vllm_rows(path: Path, document: dict, context: RunContext) -> list[dict[str, str]]:
    completed = int(_positive(path, "completed", document.get("completed")))
    rate = document.get("request_rate")
    rate_per_s = math.inf if rate in ("inf", float("inf"), None) else _positive(path, "request_rate", rate)
    concurrency = document.get("max_concurrency")
    if concurrency is not None:
        concurrency = int(_positive(path, "max_concurrency", concurrency))
        if math.isfinite(rate_per_s):
            raise InputError(str(path), "max_concurrency", f"{concurrency} with request_rate {rate_per_s:g}: "
                                                           "arrivals at a rate capped at a concurrency are not "
                                                           "in the measurement schema (use one or the other)")
    burstiness = document.get("burstiness", 1.0)
    if math.isfinite(rate_per_s) and burstiness not in (1, 1.0):
        raise InputError(str(path), "burstiness", f"expected 1 (Poisson arrivals, the schema's request_rate); "
                                                  f"got {brief(burstiness)}")
    run = {"id_prefix": Path(path).stem, "requests": completed,
           "input_len": round(_positive(path, "total_input_tokens", document.get("total_input_tokens")) / completed),
           "output_len": round(_positive(path, "total_output_tokens", document.get("total_output_tokens")) / completed),
           "concurrency": concurrency, "request_rate": None if concurrency else ("inf" if math.isinf(rate_per_s)
                                                                                  else rate_per_s)}
    metrics = {}
    for key, metric in VLLM_METRICS.items():
        if document.get(key) is not None:
            value = _positive(path, key, document[key])
            metrics[metric] = value * 1e-3 if key.endswith("_ms") else value
    source = (f"{Path(path).name}: vllm bench serve --save-result, {document.get('model_id', '')}, "
              f"{document.get('date', '')}")
    notes = (f"imported by hwsim import-bench; input_len/output_len are the run's means (total tokens / "
             f"{completed} completed requests); {document.get('failed', 0)} failed")
    return _serving_rows(context, run, metrics, source, notes)


def _genai_perf_rows(path: Path, document: dict, context: RunContext) -> list[dict[str, str]]:
    stimulus = document.get("input_config", {}).get("perf_analyzer", {}).get("stimulus", {})
    if not isinstance(stimulus, dict) or not ({"concurrency", "request_rate"} & set(stimulus)):
        raise InputError(str(path), "input_config.perf_analyzer.stimulus",
                         f"expected a concurrency or a request_rate; got {brief(stimulus)}")
    requests = int(_positive(path, "request_count.avg", document.get("request_count", {}).get("avg")))
    lengths = {}
    for name in ("input_sequence_length", "output_sequence_length"):
        lengths[name] = round(_positive(path, f"{name}.avg", document.get(name, {}).get("avg")))
    run = {"id_prefix": Path(path).stem, "requests": requests, "input_len": lengths["input_sequence_length"],
           "output_len": lengths["output_sequence_length"]}
    if "concurrency" in stimulus:
        run["concurrency"] = int(_positive(path, "stimulus.concurrency", stimulus["concurrency"]))
    else:
        run["request_rate"] = _positive(path, "stimulus.request_rate", stimulus["request_rate"])
    metrics = {}
    for (name, statistic), metric in GENAI_PERF_METRICS.items():
        entry = document.get(name)
        if not isinstance(entry, dict) or statistic not in entry:
            continue
        value = _positive(path, f"{name}.{statistic}", entry[statistic])
        unit = entry.get("unit", "")
        if metric.endswith("_s") and not metric.endswith("per_s"):
            if unit not in UNITS_TO_SECONDS:
                raise InputError(str(path), f"{name}.unit", f"expected ms or s; got {brief(unit)}")
            value *= UNITS_TO_SECONDS[unit]
        metrics[metric] = value
    models = document.get("input_config", {}).get("model_names", [])
    source = f"{Path(path).name}: genai-perf profile export, {', '.join(map(str, models))}"
    notes = ("imported by hwsim import-bench; input_len/output_len are the run's mean sequence lengths; "
             "genai-perf's inter_token_latency is per request, so it is tpot_mean_s")
    return _serving_rows(context, run, metrics, source, notes)


def _llama_cpp_type(path: Path, index: int, model_type: object) -> tuple[str, str]:
    """(dtype, weight_format) of a llama.cpp model_type such as 'llama 8B Q4_K - Medium'."""
    for name, found in LLAMA_CPP_TYPES.items():
        if isinstance(model_type, str) and model_type.endswith(" " + name):
            return found
    raise InputError(str(path), f"[{index}].model_type", f"expected a file type hwsim models "
                                                         f"({', '.join(LLAMA_CPP_TYPES)}); got {brief(model_type)}")


def _llama_bench_rows(path: Path, document: list, context: RunContext) -> list[dict[str, str]]:
    rows = []
    for index, test in enumerate(document):
        if not isinstance(test, dict):
            raise InputError(str(path), f"[{index}]", f"expected a test object; got {brief(test)}")
        prompt, gen, depth = (test.get(key, 0) for key in ("n_prompt", "n_gen", "n_depth"))
        tokens_per_s = _positive(path, f"[{index}].avg_ts", test.get("avg_ts"))
        dtype, weight_format = _llama_cpp_type(path, index, test.get("model_type"))
        bits = 8 * _positive(path, f"[{index}].model_size", test.get("model_size")) / _positive(
            path, f"[{index}].model_n_params", test.get("model_n_params"))
        common = dict(kind="step", dtype=dtype, weight_bits=f"{bits:.4g}", batch=1, weight_format=weight_format,
                      engine=f"llama.cpp-b{test['build_number']}" if "build_number" in test else "llama.cpp",
                      metric="seconds",
                      source=f"{Path(path).name}: llama-bench -o json, "
                             f"{test.get('gpu_info') or test.get('cpu_info', '')}, {test.get('test_time', '')}")
        if prompt and not gen and not depth:
            rows.append(_row(context, id=f"{Path(path).stem}-pp{prompt}", phase="prefill", prompt_len=prompt,
                             value=repr(prompt / tokens_per_s), notes=f"pp{prompt} = {tokens_per_s} tokens/s",
                             **common))
        elif gen and not prompt:
            rows.append(_row(context, id=f"{Path(path).stem}-tg{gen}" + (f"-d{depth}" if depth else ""), phase="decode",
                             context_len=depth + gen // 2, value=repr(1.0 / tokens_per_s),
                             notes=f"tg{gen} = {tokens_per_s} tokens/s; context_len = depth {depth} + half the "
                                   f"generated tokens", **common))
        else:
            raise InputError(str(path), f"[{index}]", f"n_prompt {prompt}, n_gen {gen}, n_depth {depth}: only "
                                                      "prompt tests (-p) from an empty cache and generation tests "
                                                      "(-n) are steps; run them separately")
    return rows
