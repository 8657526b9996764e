"""Write a small real torch.profiler trace: a tiny transformer block on the CPU, shapes recorded.

    python benchmarks/traces/make_cpu_trace.py tests/data/torch-profiler-cpu.json

Needs PyTorch (not a dependency of hwsim). A GPU trace has the same Chrome-trace format with device
kernels linked to their operators; `hwsim import-trace` reads both.
"""
from __future__ import annotations

import sys

import torch
from torch.profiler import ProfilerActivity, profile


def block(x: torch.Tensor, wqkv: torch.Tensor, wo: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor,
          heads: int) -> torch.Tensor:
    batch, tokens, hidden = x.shape
    qkv = torch.nn.functional.linear(x, wqkv)
    q, k, v = qkv.split(hidden, dim=-1)
    shape = (batch, tokens, heads, hidden // heads)
    q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
    attention = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    x = x + torch.nn.functional.linear(attention.transpose(1, 2).reshape(batch, tokens, hidden), wo)
    return x + torch.mm(torch.nn.functional.silu(torch.mm(x.reshape(-1, hidden), w1.t())), w2.t()).reshape(x.shape)


def main(out: str) -> None:
    torch.manual_seed(0)
    hidden, heads, ffn = 256, 4, 512
    x = torch.randn(2, 64, hidden)
    weights = (torch.randn(3 * hidden, hidden), torch.randn(hidden, hidden), torch.randn(ffn, hidden),
               torch.randn(hidden, ffn))
    block(x, *weights, heads)  # warm-up
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(2):
            block(x, *weights, heads)
            torch.bmm(torch.randn(8, 32, 64), torch.randn(8, 64, 16))
    prof.export_chrome_trace(out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "torch-profiler-cpu.json")
