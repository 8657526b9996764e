"""Reads the `techniques:` block of a scenario or what-if (quantization, sparsity, KV and prefill
reduction, speculative decoding with its draft model resolved, prompt compression, kernel speedups)
and measured kernel tables in the measurement schema."""
from __future__ import annotations

from pathlib import Path

from hwsim.base.errors import HwsimError
from hwsim.loading import catalog, measurements
from hwsim.loading.kernel_rows import kernel_table
from hwsim.specs.kernel_table import KernelTable
from hwsim.specs.models import Model
from hwsim.specs.techniques import Quantization, Speculative, Techniques


def kernel_table_from(path: Path) -> KernelTable:
    """Measured kernel times (measurement-schema gemm and attention rows) from one file."""
    return kernel_table(measurements.read(path), str(path))


def load_techniques(fields) -> Techniques:
    """The `techniques:` block of a scenario or what-if."""
    quantization = speculative = None
    if fields.has("quantization"):
        q = fields.section("quantization")
        quantization = Quantization(q.number("bits", 4.0), q.integer("group_size", 128),
                                    q.number("dequant_flops", 2.0, low=0.0))
        q.finish()
    if fields.has("speculative"):
        sp = fields.section("speculative")
        speculative = Speculative(_draft_model(sp), sp.integer("draft_length", 4),
                                  sp.number("acceptance", 0.7))
        sp.finish()
    speedups: tuple[tuple[str, float], ...] = ()
    if fields.has("kernel_speedup"):
        section = fields.section("kernel_speedup")
        speedups = tuple((name, section.number(name)) for name in section)
        section.finish()
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


def _draft_model(section) -> Model:
    """The speculative draft model, resolved from its id or profile path."""
    try:
        return catalog.model(section.string("draft_model"))
    except HwsimError as exc:
        raise section.error("draft_model", str(exc)) from None
