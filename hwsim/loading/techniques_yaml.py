"""Reads the `techniques:` block of a scenario or what-if (quantization, sparsity, KV and prefill
reduction, speculative decoding with its draft model resolved, prompt compression, kernel speedups)
and measured kernel tables in the measurement schema. Every value is checked where it is read, so
a typo (`kernel_speedup: {atention: 3}`) is an error naming it instead of a speedup that never applies.
Ranges that `Techniques` itself checks (shares in (0, 1], bits from 1 to 16) are left to it."""
from __future__ import annotations

import difflib
from pathlib import Path

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog, measurements
from hwsim.loading.fields import Fields
from hwsim.loading.kernel_rows import kernel_table
from hwsim.specs.kernel_table import KernelTable
from hwsim.specs.models import Model
from hwsim.specs.techniques import Quantization, Speculative, Techniques

# what a kernel speedup may name: an operator kind, or the role of an operator some step builds
# (hwsim.perf.ops; a test builds every kind of step and holds this list to the roles it finds)
OPERATOR_KINDS = ("gemm", "attention", "elementwise", "collective")
OPERATOR_ROLES = (
    "embedding", "position_embedding",
    "attn_norm", "qkv_proj", "q_proj", "q_a_proj", "q_b_proj", "kv_a_proj", "kv_b_proj", "rotary", "kv_cache_write",
    "attention", "attention_upcast", "attention_scores", "attention_softmax", "attention_values", "attn_out_copy",
    "o_proj", "attn_allreduce", "residual_add", "mlp_norm",
    "mlp_gate_up", "mlp_up", "mlp_act", "mlp_down", "mlp_allreduce", "residual_add_2",
    "router", "router_select", "experts_gather_scatter", "alltoall_dispatch", "alltoall_combine",
    "experts_gate_up", "experts_up", "experts_act", "experts_down",
    "shared_expert_gate_up", "shared_expert_up", "shared_expert_act", "shared_expert_down",
    "last_token_gather", "final_norm", "lm_head",
)
SPEEDUP_NAMES = tuple(dict.fromkeys(OPERATOR_KINDS + OPERATOR_ROLES))
MAX_SPEEDUP = 1e6  # a kernel a million times faster is a typo, not an optimization
MAX_DRAFT_LENGTH = 1000
MAX_GROUP_SIZE = 1 << 20


def kernel_table_from(path: Path) -> KernelTable:
    """Measured kernel times (measurement-schema gemm and attention rows) from one file."""
    return kernel_table(measurements.read(path), str(path))


def _quantization(fields: Fields) -> Quantization | None:
    if not fields.has("quantization"):
        return None
    q = fields.section("quantization")
    quantization = Quantization(q.number("bits", 4.0), q.integer("group_size", 128, low=None, high=MAX_GROUP_SIZE),
                                q.number("dequant_flops", 2.0, low=0.0, high=1000.0))
    q.finish()
    return quantization


def _speculative(fields: Fields) -> Speculative | None:
    if not fields.has("speculative"):
        return None
    sp = fields.section("speculative")
    speculative = Speculative(_draft_model(sp), sp.integer("draft_length", 4, low=None, high=MAX_DRAFT_LENGTH),
                              sp.number("acceptance", 0.7))
    sp.finish()
    return speculative


def _speedups(fields: Fields) -> tuple[tuple[str, float], ...]:
    """`kernel_speedup`: operator kind or role -> factor, each name one an operator has."""
    if not fields.has("kernel_speedup"):
        return ()
    section = fields.section("kernel_speedup")
    speedups = []
    for name in section:
        if name not in SPEEDUP_NAMES:
            close = difflib.get_close_matches(str(name), SPEEDUP_NAMES, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else f"expected one of {', '.join(SPEEDUP_NAMES)}"
            raise section.error(str(name), f"names no operator kind or role; {hint}")
        speedups.append((name, section.number(name, high=MAX_SPEEDUP)))
    section.finish()
    return tuple(speedups)


def load_techniques(fields: Fields) -> Techniques:
    """The `techniques:` block of a scenario or what-if."""
    quantization = _quantization(fields)
    speculative = _speculative(fields)
    speedups = _speedups(fields)
    table = None
    if fields.has("kernel_times"):
        table = kernel_table_from(Path(fields.source).parent / fields.string("kernel_times"))
    techniques = Techniques(
        quantization=quantization,
        sparsity=fields.number("sparsity", 0.0),
        kv_kept=fields.number("kv_kept", 1.0),
        prefill_layers=fields.number("prefill_layers", 1.0),
        speculative=speculative,
        prompt_kept=fields.number("prompt_kept", 1.0),
        ffn_active=fields.number("ffn_active", 1.0),
        kernel_speedup=speedups,
        kernel_table=table,
    )
    fields.finish()
    return techniques


def _draft_model(section: Fields) -> Model:
    """The speculative draft model, resolved from its id or profile path."""
    name = section.string("draft_model")
    try:
        return catalog.model(name)
    except HwsimError as exc:
        raise section.error("draft_model", str(exc)) from None
