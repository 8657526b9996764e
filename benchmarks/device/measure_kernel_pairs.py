"""Before/after kernel pairs on a GPU, in the measurement schema, to check kernel-speedup validation
out of sample:

- bf16 GEMMs (`x @ W.T`) and int4 weight-only tinygemm (`torch._weight_int4pack_mm`, group 128) at
  Llama-3-8B's attention shapes (qkv 6144x4096, o 4096x4096), which the shipped int4 pair did not
  measure, and at its MLP shapes for M between the shipped pair's points (8, 32);
- attention with materialized scores (PyTorch SDPA's math backend) and fused flash attention, for
  prefill and decode shapes of Llama-3-8B (32 query heads, 8 KV heads, head size 128).

    python benchmarks/device/measure_kernel_pairs.py OUT_DIR

Writes OUT_DIR/gemm-bf16.csv, gemm-int4.csv, attention-math.csv, attention-flash.csv. Kernel times
are medians of back-to-back eager calls timed with CUDA events, weights rotated over enough copies
that none is served from L2. Without a GPU it runs tiny sizes on the CPU to check the script, says
so in every row, and skips the kernels only a GPU has.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import torch

GPU = torch.cuda.is_available()
DEVICE = "cuda" if GPU else "cpu"
NAME = torch.cuda.get_device_name() if GPU else "CPU (dry run)"
SOURCE = (f"measured with benchmarks/device/measure_kernel_pairs.py on {NAME} (PyTorch {torch.__version__}), "
          f"{time.strftime('%Y-%m-%d')}; median of repeated runs")
COLUMNS = ["id", "kind", "hardware", "dtype", "weight_bits", "weight_format", "phase", "m", "n", "k", "batch", "q_len",
           "kv_len", "heads_q", "heads_kv", "head_dim", "launch", "metric", "value", "source", "notes"]
L2_BYTES = 50 * 2**20  # H200 L2: copies rotated so that their total is several times this


def timed(fn, repeats: int = 20, inner: int = 10) -> float:
    """Median seconds of one call, over `repeats` batches of `inner` back-to-back calls."""
    for _ in range(3):
        fn()
    if GPU:
        torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        if GPU:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) / 1e3 / inner)
        else:
            begin = time.perf_counter()
            for _ in range(inner):
                fn()
            samples.append((time.perf_counter() - begin) / inner)
    return statistics.median(samples)


def rotating(make, bytes_each: float):
    """Enough copies of a tensor that cycling through them keeps each out of L2; returns next()."""
    copies = [make() for _ in range(max(2, int(4 * L2_BYTES // max(bytes_each, 1)) + 1))] if GPU else [make()]
    state = {"i": 0}

    def next_copy():
        state["i"] = (state["i"] + 1) % len(copies)
        return copies[state["i"]]
    return next_copy


def int4_packer(n: int, k: int):
    """(packed weight, scales and zeros) for tinygemm, or None where this PyTorch or device has none."""
    if not GPU:
        return None
    w = torch.randint(0, 16, (n, k), dtype=torch.int32, device=DEVICE)
    packed_uint8 = (w[:, ::2] << 4 | w[:, 1::2]).to(torch.uint8)
    try:
        packed = torch._convert_weight_to_int4pack(packed_uint8, 8)
    except RuntimeError:
        packed = torch._convert_weight_to_int4pack(w, 8)
    scales = torch.ones(k // 128, n, 2, dtype=torch.bfloat16, device=DEVICE)
    return packed, scales


def gemm_rows(quick: bool) -> tuple[list[dict], list[dict]]:
    shapes = [(6144, 4096, "llama3_8b.qkv"), (4096, 4096, "llama3_8b.o_proj"),
              (28672, 4096, "llama3_8b.gate_up"), (4096, 14336, "llama3_8b.down")]
    if not GPU:
        shapes = [(256, 256, "tiny")]
    ms_all = (1, 4, 8, 16, 32, 64, 256)
    bf16_rows, int4_rows = [], []
    for n, k, label in shapes:
        ms = ms_all if label in ("llama3_8b.qkv", "llama3_8b.o_proj", "tiny") else (8, 32)
        weight = rotating(lambda n=n, k=k: torch.randn(n, k, device=DEVICE, dtype=torch.bfloat16), 2 * n * k)
        try:
            packs = [int4_packer(n, k) for _ in range(max(2, int(4 * L2_BYTES // (n * k / 2)) + 1))] if GPU else []
        except RuntimeError as exc:
            print(f"no int4 packing for {label}: {exc}")
            packs = []
        for m in ms if not quick else ms[:2]:
            x = torch.randn(m, k, device=DEVICE, dtype=torch.bfloat16)
            seconds = timed(lambda x=x: x @ weight().T)
            bf16_rows.append(_gemm_row(len(bf16_rows), "bf16", m, n, k, seconds, f"y = x @ W.T, {label} shape"))
            if packs and packs[0] is not None:
                state = {"i": 0}

                def int4_call(x=x, packs=packs, state=state):
                    state["i"] = (state["i"] + 1) % len(packs)
                    packed, scales = packs[state["i"]]
                    return torch._weight_int4pack_mm(x, packed, 128, scales)
                try:
                    seconds = timed(int4_call)
                except RuntimeError as exc:
                    print(f"skipped int4 {label} m={m}: {exc}")
                    continue
                notes = f"tinygemm int4 weight-only (torch._weight_int4pack_mm, group 128), {label}"
                int4_rows.append(_gemm_row(len(int4_rows), "int4", m, n, k, seconds, notes))
    return bf16_rows, int4_rows


def _gemm_row(index: int, dtype: str, m: int, n: int, k: int, seconds: float, notes: str) -> dict:
    prefix = "kb" if dtype == "bf16" else "ka"
    row = {"id": f"{prefix}-{index:03d}", "kind": "gemm", "hardware": "h200-sxm", "dtype": dtype, "m": m, "n": n,
           "k": k, "launch": "eager", "metric": "seconds", "value": seconds, "source": SOURCE, "notes": notes}
    if dtype == "int4":
        row.update(weight_bits=4.25, weight_format="int4-tinygemm")
    return row


def attention_rows(quick: bool) -> tuple[list[dict], list[dict]]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    heads, kv_heads, dim = (32, 8, 128) if GPU else (4, 2, 32)
    prefill = (512, 1024, 2048, 4096) if GPU else (64,)
    decode = ((8, 512), (8, 2048), (32, 2048), (8, 8192)) if GPU else ((2, 64),)
    cases = [("prefill", 1, t, t) for t in prefill] + [("decode", b, 1, kv) for b, kv in decode]
    rows: dict[str, list[dict]] = {"math": [], "flash": []}
    for phase, batch, q_len, kv_len in cases if not quick else cases[:2]:
        q = torch.randn(batch, heads, q_len, dim, device=DEVICE, dtype=torch.bfloat16)
        k = torch.randn(batch, kv_heads, kv_len, dim, device=DEVICE, dtype=torch.bfloat16)
        v = torch.randn(batch, kv_heads, kv_len, dim, device=DEVICE, dtype=torch.bfloat16)
        causal = phase == "prefill"
        for backend, sdp in (("math", SDPBackend.MATH), ("flash", SDPBackend.FLASH_ATTENTION)):
            if backend == "flash" and not GPU:
                continue

            def call(q=q, k=k, v=v, sdp=sdp, causal=causal):
                with sdpa_kernel(sdp):
                    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                                            enable_gqa=True)
            try:
                seconds = timed(call, repeats=10, inner=5)
            except RuntimeError as exc:
                print(f"skipped {backend} {phase} {batch}x{q_len}x{kv_len}: {exc}")
                continue
            rows[backend].append({
                "id": f"{'am' if backend == 'math' else 'af'}-{len(rows[backend]):03d}", "kind": "attention",
                "hardware": "h200-sxm", "dtype": "bf16", "phase": phase, "batch": batch, "q_len": q_len,
                "kv_len": kv_len, "heads_q": heads, "heads_kv": kv_heads, "head_dim": dim, "launch": "eager",
                "metric": "seconds", "value": seconds, "source": SOURCE,
                "notes": f"torch SDPA, {backend} backend (sdpa_kernel), {'causal' if causal else 'no mask'}, "
                         "enable_gqa=True"})
    return rows["math"], rows["flash"]


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path} ({len(rows)} rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true", help="a few shapes only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bf16, int4 = gemm_rows(args.quick)
    write(args.out / "gemm-bf16.csv", bf16)
    write(args.out / "gemm-int4.csv", int4)
    math_rows, flash_rows = attention_rows(args.quick)
    write(args.out / "attention-math.csv", math_rows)
    write(args.out / "attention-flash.csv", flash_rows)


if __name__ == "__main__":
    main()
