"""Kernel rows from a PyTorch profiler trace (the Chrome-trace JSON `torch.profiler` exports with
`record_shapes=True`), in the measurement schema, so a kernel engineer's before and after profiles
feed `hwsim speedup` directly.

Operators read: GEMMs (aten::linear, mm, addmm, bmm, _scaled_mm, _weight_int4pack_mm), attention
(aten::scaled_dot_product_attention and the flash and memory-efficient kernels behind it), and
device copies (`gpu_memcpy` events). Shapes come from each operator's "Input Dims"; an operator
nested inside another one read here (addmm inside linear) counts once, as the outer one. Time is
the device time of the kernels linked to the operator and everything it called (kernel events
share the operator's "External id"); a CPU trace has no kernels, so its operators' own durations
are used. Repeated calls of one shape become one row: the median, with the call count in `notes`.
"""
from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwsim.base.errors import HwsimError, brief
from hwsim.loading.fields import read_text

GEMMS = ("aten::linear", "aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_mm", "aten::_weight_int4pack_mm")
ATTENTION = ("aten::scaled_dot_product_attention", "aten::_scaled_dot_product_flash_attention",
             "aten::_scaled_dot_product_efficient_attention", "aten::_flash_attention_forward",
             "aten::_efficient_attention_forward")
DTYPES = {"float": "fp32", "c10::BFloat16": "bf16", "c10::Half": "fp16", "c10::Float8_e4m3fn": "fp8",
          "c10::Float8_e5m2": "fp8"}
INTEGER_COLUMNS = {"m", "n", "k", "batch", "q_len", "kv_len", "heads_q", "heads_kv", "head_dim", "bytes"}
COPY_ENDS = {"Device": "device", "Pinned": "host_pinned", "Pageable": "host_pageable"}


@dataclass(frozen=True)
class _Op:
    name: str
    ts: float
    dur_us: float
    tid: object
    external_id: object
    args: dict


def read_trace(path: Path, hardware: str) -> list[dict[str, Any]]:
    """Measurement-schema kernel rows (as dicts) of the trace at `path`, measured on `hardware`."""
    events = _events(path)
    ops = [_op(e, path) for e in events if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "user_annotation")]
    if not any("Input Dims" in op.args for op in ops):
        raise HwsimError(f"{path}: the trace has no operator shapes; profile with record_shapes=True")
    device_us = _kernel_time_by_external_id(events, path)
    samples = _operator_samples(ops, device_us, path)
    for key, seconds in _copy_samples(events, path):
        samples[key].append(seconds)
    source = f"torch.profiler trace {Path(path).name}" + (" (device kernels)" if device_us else " (CPU time)")
    return [_row(i, key, times, hardware, source) for i, (key, times) in enumerate(sorted(samples.items(),
                                                                                        key=lambda kv: str(kv[0])))]


def _operator_samples(ops: list[_Op], device_us: dict[object, float], path: Path) -> dict[tuple, list[float]]:
    """Seconds of every call of each operator shape: its kernels' device time, or its own on a CPU."""
    samples: dict[tuple, list[float]] = defaultdict(list)
    for op, inner in _outermost(ops):
        key = _shape_key(op, path)
        if key is None:
            continue
        kernels = [device_us[o.external_id] for o in [op, *inner] if o.external_id in device_us]
        samples[key].append((sum(kernels) if kernels else op.dur_us) / 1e6)
    return samples


def _copy_samples(events: list[dict], path: Path) -> list[tuple[tuple, float]]:
    found = []
    for copy in (e for e in events if e.get("cat") == "gpu_memcpy"):
        key = _copy_key(copy, path)
        if key is not None:
            found.append((key, _time_us(copy, "dur", path) / 1e6))
    return found


def _events(path: Path) -> list[dict]:
    text = read_text(Path(path), "a torch.profiler Chrome trace (JSON)")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HwsimError(f"{path}: not a complete JSON file ({exc}); expected a torch.profiler Chrome trace") from None
    except RecursionError:
        raise HwsimError(f"{path}: not a complete JSON file (nested too deeply); "
                         f"expected a torch.profiler Chrome trace") from None
    events = document.get("traceEvents") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise HwsimError(f"{path}: no traceEvents list; expected a torch.profiler Chrome trace")
    return [e for e in events if isinstance(e, dict)]


def _args(event: dict) -> dict:
    """An event's `args` mapping (empty when it has none)."""
    args = event.get("args")
    return args if isinstance(args, dict) else {}


def _time_us(event: dict, key: str, path: Path) -> float:
    """An event's `ts` or `dur` in microseconds (0 when absent): a finite number, a duration not negative."""
    value = event.get(key, 0.0)
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    if not math.isfinite(number) or (key == "dur" and number < 0):
        raise HwsimError(f"{path}: event {str(event.get('name', ''))[:80]!r}: {key} must be a finite number of "
                         f"microseconds{', not negative' if key == 'dur' else ''}; got {brief(value)}")
    return number


def _key(value: object) -> object:
    """A thread or External id usable as a dictionary key: numbers and text as they are, anything else as text."""
    return value if value is None or isinstance(value, (int, float, str)) else json.dumps(value, sort_keys=True)


def _op(event: dict, path: Path) -> _Op:
    args = _args(event)
    return _Op(str(event.get("name", "")), _time_us(event, "ts", path), _time_us(event, "dur", path),
               _key(event.get("tid")), _key(args.get("External id")), args)


def _kernel_time_by_external_id(events: list[dict], path: Path) -> dict[object, float]:
    """Device microseconds of the kernels each operator launched (kernels carry its External id)."""
    total: dict[object, float] = defaultdict(float)
    for event in events:
        if event.get("ph") == "X" and event.get("cat") == "kernel":
            external = _key(_args(event).get("External id"))
            if external is not None:
                total[external] += _time_us(event, "dur", path)
    return dict(total)


def _outermost(ops: list[_Op]) -> list[tuple[_Op, list[_Op]]]:
    """Operators read here that no other such operator encloses, each with everything it encloses."""
    wanted = set(GEMMS) | set(ATTENTION)
    by_thread: dict[object, list[_Op]] = defaultdict(list)
    for op in ops:
        by_thread[op.tid].append(op)
    result = []
    for thread_ops in by_thread.values():
        thread_ops.sort(key=lambda o: (o.ts, -o.dur_us))
        end = -math.inf
        for i, op in enumerate(thread_ops):
            if op.name not in wanted or op.ts < end:
                continue
            op_end = op.ts + op.dur_us
            inner = [o for o in thread_ops[i + 1:] if o.ts < op_end and o.ts + o.dur_us <= op_end]
            result.append((op, inner))
            end = op_end
    return result


def _dims(op: _Op, path: Path) -> list:
    dims = op.args.get("Input Dims")
    if not isinstance(dims, list):
        raise HwsimError(f"{path}: {op.name} has no Input Dims; profile with record_shapes=True")
    return dims


def _dtype(op: _Op) -> str:
    types = op.args.get("Input type")
    first = str(types[0]) if isinstance(types, list) and types else ""
    return DTYPES.get(first, first or "bf16")


def _shape_key(op: _Op, path: Path) -> tuple | None:
    dims = _dims(op, path)
    try:
        if op.name in GEMMS:
            sizes: tuple = _gemm_mnk(op.name, dims)
            key: tuple = ("gemm", _dtype(op) if op.name != "aten::_weight_int4pack_mm" else "int4", *sizes)
        elif op.name in ATTENTION:
            (batch, heads, q_len, head_dim), (_, kv_heads, kv_len, _) = dims[0], dims[1]
            sizes = (batch, q_len, kv_len, heads, kv_heads, head_dim)
            key = ("attention", _dtype(op), *sizes)
        else:
            return None
    except (ValueError, IndexError, TypeError):
        raise HwsimError(f"{path}: {op.name} has unexpected input dims {dims}") from None
    if not all(isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in sizes):
        raise HwsimError(f"{path}: {op.name} has unexpected input dims {dims}; expected whole sizes")
    return key


def _gemm_mnk(name: str, dims: list) -> tuple[int, int, int, int]:
    """(batch, m, n, k) of a GEMM call from its input dims."""
    if name == "aten::linear":  # x [..., k], weight [n, k]
        x, weight = dims[0], dims[1]
        return 1, math.prod(x[:-1]), weight[0], weight[1]
    if name == "aten::addmm":  # bias, a [m, k], b [k, n]
        return 1, dims[1][0], dims[2][1], dims[1][1]
    if name == "aten::bmm":  # a [b, m, k], b [b, k, n]
        return dims[0][0], dims[0][1], dims[1][2], dims[0][2]
    if name == "aten::_weight_int4pack_mm":  # a [m, k], packed weight, group size, scales [k / group, n, 2]
        return 1, dims[0][0], dims[3][1], dims[0][1]
    return 1, dims[0][0], dims[1][1], dims[0][1]  # mm and _scaled_mm: a [m, k], b [k, n]


def _copy_key(event: dict, path: Path) -> tuple | None:
    """A device copy: bytes and its two ends, from Kineto's "Memcpy HtoD (Pinned -> Device)" naming."""
    name = str(event.get("name", ""))
    if "(" not in name or "->" not in name:
        return None
    ends = [part.strip(" )") for part in name.split("(", 1)[1].split("->")]
    moved = _args(event).get("bytes")
    if len(ends) != 2 or ends[0] not in COPY_ENDS or ends[1] not in COPY_ENDS or moved is None:
        return None
    if isinstance(moved, bool) or not isinstance(moved, int) or moved < 0:
        raise HwsimError(f"{path}: copy {name[:80]!r}: bytes must be a whole number; got {brief(moved)}")
    return ("copy", moved, COPY_ENDS[ends[0]], COPY_ENDS[ends[1]])


def _row(index: int, key: tuple, times: list[float], hardware: str, source: str) -> dict[str, Any]:
    row: dict[str, Any] = {"id": f"trace-{index + 1:03d}", "kind": key[0], "hardware": hardware, "metric": "seconds",
                           "value": statistics.median(times), "source": source,
                           "notes": f"median of {len(times)} call{'s' if len(times) > 1 else ''}"}
    if key[0] == "gemm":
        _, dtype, batch, m, n, k = key
        row.update(dtype=dtype, m=m, n=n, k=k, **({"batch": batch} if batch != 1 else {}),
                   **({"weight_bits": 4.0} if dtype == "int4" else {}))
    elif key[0] == "attention":
        _, dtype, batch, q_len, kv_len, heads, kv_heads, head_dim = key
        row.update(dtype=dtype, batch=batch, q_len=q_len, kv_len=kv_len, heads_q=heads, heads_kv=kv_heads,
                   head_dim=head_dim, phase="decode" if q_len == 1 else "prefill")
    else:
        _, moved, src, dst = key
        row.update(bytes=moved, src=src, dst=dst)
    return row
