"""Measurements that would settle the H200 profile's unverified parameters, for a device session.

    python benchmarks/device/measure_h200.py OUT_DIR [--quick]

Writes OUT_DIR/h200-extra.csv in the measurement schema (gemm and attention with launch=graph:
kernel time with no host dispatch floor; copies device->host, pageable host->device, host->host)
and OUT_DIR/h200-elementwise.csv (the plain-PyTorch elementwise chains a Llama layer runs, with
the bytes each moves) for `elementwise_efficiency` and the per-kernel cost. Every time is the
median of repeated runs, CUDA events around CUDA-graph replays (or back-to-back eager calls).
Without a GPU it runs on the CPU with tiny sizes, to check the script, and says so in every row.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import torch

COLUMNS = [
    "id", "kind", "hardware", "count", "model", "layers", "dtype", "kv_dtype", "weight_bits", "phase", "m", "n",
    "k", "batch", "q_len", "kv_len", "heads_q", "heads_kv", "head_dim", "prompt_len", "context_len", "bytes",
    "src", "dst", "chunk_bytes", "placement", "overlap", "launch", "active_experts", "requests", "input_len",
    "output_len", "concurrency", "request_rate", "metric", "value", "source", "notes",
]
GPU = torch.cuda.is_available()
DEVICE = "cuda" if GPU else "cpu"
DEVICE_NAME = torch.cuda.get_device_name() if GPU else "CPU (dry run)"
SOURCE = (f"measured with benchmarks/device/measure_h200.py on {DEVICE_NAME}"
          f" (PyTorch {torch.__version__}), {time.strftime('%Y-%m-%d')}; median of repeated runs")


def timed(fn, repeats: int, graph: bool) -> float:
    """Median seconds of one call of `fn`: CUDA-graph replays when `graph`, else back-to-back calls."""
    if not GPU:
        fn()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    if graph:
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn()
        run = g.replay
    else:
        run = fn
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(10):
            run()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / 1e3 / 10)
    return statistics.median(samples)


def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The unfused RMSNorm of a plain PyTorch Llama: upcast, mean of squares, rsqrt, scale, downcast."""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5)
    return weight * h.to(x.dtype)


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    gate, up = gate_up.chunk(2, dim=-1)
    return torch.nn.functional.silu(gate) * up


def rotary(q: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = q.shape[-1] // 2
    rotated = torch.cat((-q[..., half:], q[..., :half]), dim=-1)
    return q * cos + rotated * sin


def elementwise_rows(quick: bool) -> list[dict]:
    rows = []
    tokens_list = (16, 256) if not GPU else ((1, 64, 2048, 16384) if not quick else (1, 2048))
    hidden, inter, heads, head_dim = (256, 512, 4, 64) if not GPU else (4096, 14336, 32, 128)
    for tokens in tokens_list:
        x = torch.randn(tokens, hidden, device=DEVICE, dtype=torch.bfloat16)
        w = torch.randn(hidden, device=DEVICE, dtype=torch.bfloat16)
        gate_up = torch.randn(tokens, 2 * inter, device=DEVICE, dtype=torch.bfloat16)
        q = torch.randn(tokens, heads, head_dim, device=DEVICE, dtype=torch.bfloat16)
        cos = torch.randn(tokens, 1, head_dim, device=DEVICE, dtype=torch.bfloat16)
        sin = torch.randn(tokens, 1, head_dim, device=DEVICE, dtype=torch.bfloat16)
        cases = [
            ("rmsnorm", lambda: rms_norm(x, w), 8, tokens * hidden * 36),
            ("residual_add", lambda: x + x, 1, tokens * hidden * 6),
            ("silu_mul", lambda: silu_mul(gate_up), 2, tokens * inter * 10),
            ("rotary_q", lambda: rotary(q, cos, sin), 5, tokens * heads * head_dim * 20),
        ]
        for name, fn, kernels, moved in cases:
            for graph in (True, False):
                seconds = timed(fn, 5 if quick else 20, graph)
                rows.append({"op": name, "tokens": tokens, "hidden": hidden, "kernels": kernels,
                             "bytes_modeled": moved, "launch": "graph" if graph else "eager", "seconds": seconds,
                             "source": SOURCE})
    return rows


def schema_rows(quick: bool) -> list[dict]:
    rows = []

    def add(**cells):
        row = {c: "" for c in COLUMNS}
        row.update(hardware="h200-sxm", count=1, metric="seconds", source=SOURCE)
        row.update({k: v for k, v in cells.items()})
        row["id"] = f"x{len(rows):03d}"
        rows.append(row)

    shapes = ((6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)) if GPU else ((64, 32),)
    for n, k in shapes:
        weights = [torch.randn(n, k, device=DEVICE, dtype=torch.bfloat16) for _ in range(4 if GPU else 1)]
        for m in ((1, 8, 64, 256) if not quick else (1, 64)):
            x = torch.randn(m, k, device=DEVICE, dtype=torch.bfloat16)

            def gemms():  # one graph over distinct weight copies, so no weight is served from L2
                for weight in weights:
                    x @ weight.T

            add(kind="gemm", dtype="bf16", m=m, n=n, k=k, launch="graph",
                value=timed(gemms, 20, True) / len(weights),
                notes="CUDA-graph replay over distinct weight copies: kernel time with no host dispatch")
    for batch, kv in (((1, 512), (8, 2048), (64, 2048), (1, 8192)) if GPU else ((1, 64),)):
        q = torch.randn(batch, 32, 1, 128, device=DEVICE, dtype=torch.bfloat16)
        k_cache = torch.randn(batch, 8, kv, 128, device=DEVICE, dtype=torch.bfloat16)
        v_cache = torch.randn_like(k_cache)

        def attend():
            return torch.nn.functional.scaled_dot_product_attention(q, k_cache, v_cache, enable_gqa=True)

        add(kind="attention", dtype="bf16", phase="decode", batch=batch, q_len=1, kv_len=kv, heads_q=32, heads_kv=8,
            head_dim=128, launch="graph", value=timed(attend, 20, True),
            notes="one query per sequence, SDPA with GQA, CUDA-graph replay")
    for size in ((1 << 20, 1 << 24, 1 << 28) if GPU else (1 << 16,)):
        device_buffer = torch.empty(size, dtype=torch.uint8, device=DEVICE)
        pinned = torch.empty(size, dtype=torch.uint8, pin_memory=GPU)
        pageable = torch.empty(size, dtype=torch.uint8)
        other = torch.empty(size, dtype=torch.uint8)
        add(kind="copy", bytes=size, src="device", dst="host_pinned", launch="eager",
            value=timed(lambda: pinned.copy_(device_buffer, non_blocking=True), 10, False))
        add(kind="copy", bytes=size, src="host_pageable", dst="device", launch="eager",
            value=timed(lambda: device_buffer.copy_(pageable), 10, False))
        add(kind="copy", bytes=size, src="host_pageable", dst="host_pageable", launch="eager",
            value=timed(lambda: other.copy_(pageable), 10, False))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "h200-extra.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(schema_rows(args.quick))
    elementwise = elementwise_rows(args.quick)
    with open(args.out / "h200-elementwise.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(elementwise[0]))
        writer.writeheader()
        writer.writerows(elementwise)
    mode = "GPU" if GPU else "CPU dry run"
    print(f"wrote {args.out / 'h200-extra.csv'} and {args.out / 'h200-elementwise.csv'} ({mode})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
