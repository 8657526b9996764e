"""Text the CLI prints: operator and tier tables, plan tables, cost lines, model profile YAML.

Kept apart from the command handlers so that the handlers read as what they compute and these
as how it is laid out; the golden-output tests hold the layout fixed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from hwsim.base import units
from hwsim.base.errors import HwsimError
from hwsim.perf import cost as pricing_math
from hwsim.perf.step import StepCost

if TYPE_CHECKING:
    import pandas as pd

    from hwsim.perf.estimate import Estimate
    from hwsim.specs.hardware import System
    from hwsim.specs.models import Model
    from hwsim.specs.plan import PlanSlo, PlanSpec
    from hwsim.specs.pricing import Pricing


def estimate_cost(prices: Pricing, system: System, devices: int, result: Estimate) -> dict:
    """What the estimated run costs per 1M tokens at its own throughput and power (an HwsimError
    for a device the pricing has no price for)."""
    total_tokens_per_s = result.batch * (result.prompt_len + result.output_len) / result.end_to_end_s
    return pricing_math.cost_per_token(prices, system, devices, result.mean_power_w / devices,
                                       result.output_tokens_per_s, total_tokens_per_s)


def estimate_cost_text(prices: Pricing, system: System, devices: int, result: Estimate) -> str:
    """`estimate_cost` in words. A device the pricing has no price for is reported in the line
    instead of failing the estimate (the times still hold); an unknown pricing id never gets here,
    since the command loads the profile first."""
    try:
        priced = estimate_cost(prices, system, devices, result)
    except HwsimError as exc:
        return f"not priced: {exc}"
    return (f"${priced['usd_per_1m_output_tokens']:.3f} per 1M output tokens, "
            f"${priced['usd_per_1m_total_tokens']:.3f} per 1M total tokens at ${priced['usd_per_hour']:.2f}/h "
            f"({priced['pricing']})")


def tier_table(name: str, step) -> str:
    """One line of an offloaded step: time per layer by part, the bound, the bytes moved per step."""
    parts = "  ".join(f"{k} {units.format_seconds(v)}" for k, v in step.parts_s.items() if v)
    moved = ", ".join(f"{k} {units.format_bytes(v)}" for k, v in step.bytes_per_step.items() if v)
    return (f"  {name:<8} layer {units.format_seconds(step.layer_s)} ({parts}); bound: {step.bound}; "
            f"per step: {moved}")


def op_table(cost: StepCost) -> str:
    """Each operator of a step: repeats, work, time, share of the step, roofline time and bound."""
    lines = [f"  {'operator':<18} {'x':>3} {'GFLOP':>9} {'MB':>9} {'time':>11} {'share':>6} {'roofline':>11}  bound"]
    for c in cost.costs:
        op = c.op
        roofline_text = units.format_seconds(c.roofline_s * op.repeat) if op.kind != "collective" else "-"
        lines.append(f"  {op.name:<18} {op.repeat:>3} {op.flops * op.repeat / 1e9:>9.2f} "
                     f"{op.bytes * op.repeat / 1e6:>9.1f} {units.format_seconds(c.time_s):>11} "
                     f"{c.time_s / cost.time_s:>6.1%} {roofline_text:>11}  {c.bound}")
    return "\n".join(lines)


def pricing_text(spec: PlanSpec) -> str:
    return spec.pricing.describe()


def slo_text(slo: PlanSlo) -> str:
    """The targets a plan gives, as one phrase."""
    parts = []
    if slo.ttft_s is not None:
        parts.append(f"TTFT p{slo.percentile} <= {slo.ttft_s * 1e3:,.0f} ms")
    if slo.tpot_s is not None:
        parts.append(f"TPOT p{slo.percentile} <= {slo.tpot_s * 1e3:,.0f} ms")
    if slo.min_output_tokens_per_s:
        parts.append(f">= {slo.min_output_tokens_per_s:,.0f} output tokens/s")
    return ", ".join(parts)


def plan_table(frame: pd.DataFrame, p: int) -> str:
    """Plan outcomes, one candidate a line, latencies at percentile `p`."""
    lines = [f"  {'candidate':<52} {'$/h':>7} {'$/1M out':>9} {f'TTFT p{p}':>10} {f'TPOT p{p}':>10}  outcome"]
    for r in frame.to_dict("records"):
        if r["status"] == "pruned":
            lines.append(f"  {r['candidate']:<52} {'-':>7} {'-':>9} {'-':>10} {'-':>10}  pruned: {r['reasons']}")
            continue
        if r["status"] == "stopped early":  # its run ended at a certain miss: no figures of a partial run
            lines.append(f"  {r['candidate']:<52} {'-':>7} {'-':>9} {'-':>10} {'-':>10}  FAIL: {r['reasons']}")
            continue
        lines.append(f"  {r['candidate']:<52} {r['usd_per_hour']:>7.2f} {r['usd_per_1m_output_tokens']:>9.3f} "
                     f"{r[f'ttft_p{p}_s'] * 1e3:>8.0f}ms {r[f'tpot_p{p}_s'] * 1e3:>8.1f}ms  "
                     f"{'PASS' if r['passes'] else 'FAIL'}: {r['reasons']}")
    return "\n".join(lines)


def model_yaml(model: Model, model_id: str) -> str:
    """`model` as a profile YAML under id `model_id`, its fields in the order the shipped profiles use."""
    document = {
        "id": model_id, "name": model.name, "source": model.source, "hidden_size": model.hidden_size,
        "num_layers": model.num_layers, "num_heads": model.num_heads, "num_kv_heads": model.num_kv_heads,
        "head_dim": model.head_dim, "intermediate_size": model.intermediate_size, "vocab_size": model.vocab_size,
        "max_positions": model.max_positions, "tie_embeddings": model.tie_embeddings,
        "mlp": "gated" if model.gated_mlp else "plain", "activation": model.activation, "norm": model.norm,
        "position": "learned" if model.learned_positions else "rope", "bias": model.bias,
    }
    if model.moe:
        document["moe"] = {k: v for k, v in model.moe.__dict__.items()}
    if model.mla:
        document["mla"] = {k: v for k, v in model.mla.__dict__.items()}
    return yaml.safe_dump(document, sort_keys=False)
