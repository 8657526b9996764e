"""What-if techniques at the operator level, what-if files, and the kernel-speedup check."""
from pathlib import Path

import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, scenario_yaml, techniques_yaml
from hwsim.loading.whatif import load_whatif
from hwsim.perf.estimate import estimate
from hwsim.perf.ops import step_ops
from hwsim.perf.step_model import StepModel
from hwsim.perf.techniques import transform_ops
from hwsim.serving.kvcache import capacity_blocks
from hwsim.specs import deployment, techniques
from hwsim.specs.deployment import Deployment
from hwsim.specs.shape import StepShape
from hwsim.specs.techniques import Techniques

LLAMA = catalog.model("llama-3-8b")
H100 = catalog.system("h100-sxm")
WHATIF = Path(__file__).parents[1] / "data" / "whatif"


def gemm_weight_bytes(ops):
    return sum(op.weight_bytes * op.repeat for op in ops if op.kind == "gemm")


def test_weight_only_quantization_counts_the_group_scales():
    t = Techniques(quantization=techniques.Quantization(bits=4, group_size=128))
    precision = t.precision(deployment.Precision())
    assert precision.dtype == "int4" and precision.weight_bits == pytest.approx(4.125)
    ops = step_ops(LLAMA, StepShape.decode(1, 100), precision)
    assert gemm_weight_bytes(ops) == pytest.approx(gemm_weight_bytes(step_ops(LLAMA, StepShape.decode(1, 100)))
                                                   * 4.125 / 16)
    transformed = transform_ops(t, ops, StepShape.decode(1, 100))
    qkv = next(op for op in transformed if op.name == "qkv_proj")
    assert qkv.flops == pytest.approx(2 * 6144 * 4096 + 2 * 6144 * 4096)  # the GEMM plus 2 dequant FLOPs per weight


def test_sparse_weights_shrink_bytes_not_flops():
    ops = step_ops(LLAMA, StepShape.decode(1, 100))
    sparse = transform_ops(Techniques(sparsity=0.75), ops, StepShape.decode(1, 100))
    assert gemm_weight_bytes(sparse) == pytest.approx(gemm_weight_bytes(ops) * 0.25 * 2)  # values + 16-bit indices
    assert sum(o.flops for o in sparse) == pytest.approx(sum(o.flops for o in ops))


def test_kv_reduction_halves_kv_bytes_and_doubles_capacity():
    half = Techniques(kv_kept=0.5).precision(deployment.Precision())
    full_blocks = capacity_blocks(LLAMA, H100, deployment.Precision(), 16, 0.9, 8192, 256)
    assert capacity_blocks(LLAMA, H100, half, 16, 0.9, 8192, 256) == pytest.approx(2 * full_blocks, rel=0.001)


def test_prefill_reduction_skips_layers_for_prefill_tokens_only():
    t = Techniques(prefill_layers=0.5)
    prefill = step_ops(LLAMA, StepShape.prefill(1, 1024))
    mlp = next(op for op in transform_ops(t, prefill, StepShape.prefill(1, 1024)) if op.name == "mlp_gate_up")
    assert mlp.flops == pytest.approx(next(op for op in prefill if op.name == "mlp_gate_up").flops * 0.5)
    qkv = next(op for op in transform_ops(t, prefill, StepShape.prefill(1, 1024)) if op.name == "qkv_proj")
    assert qkv.flops == next(op for op in prefill if op.name == "qkv_proj").flops  # K and V are still made
    decode = step_ops(LLAMA, StepShape.decode(4, 100))
    assert transform_ops(t, decode, StepShape.decode(4, 100)) == decode


def test_speculative_decoding_yields_expected_tokens_per_step():
    spec = techniques.Speculative(catalog.model("llama-3.2-1b"), draft_length=4, acceptance=0.8)
    assert spec.tokens_per_step == pytest.approx((1 - 0.8**5) / 0.2)
    base = estimate(Deployment(LLAMA, H100), 1, 256, 64)
    fast = estimate(Deployment(LLAMA, H100, techniques=Techniques(speculative=spec)), 1, 256, 64)
    assert fast.time_per_output_token_s < 0.75 * base.time_per_output_token_s
    slow = estimate(Deployment(LLAMA, H100, techniques=Techniques(speculative=techniques.Speculative(catalog.model("llama-2-7b"), 4, 0.5))), 1, 256, 64)
    assert slow.time_per_output_token_s > base.time_per_output_token_s  # a draft nearly as big as the target


def test_prompt_compression_shortens_prefill():
    base = estimate(Deployment(LLAMA, H100), 8, 2048, 16)
    half = estimate(Deployment(LLAMA, H100, techniques=Techniques(prompt_kept=0.5)), 8, 2048, 16)
    assert half.prefill_s < 0.55 * base.prefill_s


def test_kernel_speedup_divides_matching_operators():
    shape = StepShape.decode(64, 4000)
    base = StepModel(Deployment(LLAMA, H100)).cost(shape)
    faster = StepModel(Deployment(LLAMA, H100, techniques=Techniques(kernel_speedup=(("attention", 2.0),)))).cost(shape)
    attention = lambda c: next(x for x in c.costs if x.op.kind == "attention").time_s
    assert attention(faster) == pytest.approx(attention(base) / 2)
    assert base.time_s - faster.time_s == pytest.approx(attention(base) / 2)


def test_measured_kernel_times_replace_predictions(tmp_path):
    path = tmp_path / "kernels.csv"
    path.write_text("id,kind,hardware,dtype,m,n,k,metric,value\nk1,gemm,h100-sxm,bf16,1,6144,4096,seconds,0.001\n")

    t = Techniques(kernel_table=techniques_yaml.kernel_table_from(path))
    cost = StepModel(Deployment(LLAMA, H100, techniques=t)).cost(StepShape.decode(1, 100))
    assert next(c for c in cost.costs if c.op.name == "qkv_proj").time_s == pytest.approx(0.001 * 32)


@pytest.mark.parametrize("kwargs, expected", [
    ({"speculative": techniques.Speculative(catalog.model("llama-3.2-1b"), 4, 1.5)}, "acceptance"),
    ({"kv_kept": 0.0}, "kv_kept"),
    ({"sparsity": 1.0}, "sparsity"),
    ({"kernel_speedup": (("attention", 0.0),)}, "kernel_speedup.attention"),
])
def test_knobs_outside_their_range_are_rejected(kwargs, expected):
    with pytest.raises(HwsimError, match=expected):
        Techniques(**kwargs)


def test_whatif_files_apply_their_changes():
    baseline = scenario_yaml.load_scenario(WHATIF / "baseline.yaml")
    fp8 = load_whatif(WHATIF / "fp8.yaml", baseline)
    assert fp8.system.id == "h200-sxm" and fp8.precision.dtype == "fp8" and fp8.model == baseline.model
    spec = load_whatif(WHATIF / "speculative.yaml", baseline)
    assert spec.engine.max_num_seqs == 128 and spec.engine.max_num_batched_tokens == baseline.engine.max_num_batched_tokens
    assert spec.techniques.speculative.draft_model.id == "llama-3.2-1b"


@pytest.mark.parametrize("text, expected", [
    ("name: same\nchanges: {}\n", "changes nothing"),
    ("name: x\nchanges: {colour: red}\n", "colour: cannot be changed"),
    ("name: x\nchanges: {techniques: {speculative: {draft_model: llama-3.2-1b, acceptance: 2}}}\n", "acceptance"),
    ("name: x\nchanges: {engine: {max_num_seqz: 4}}\n", "max_num_seqz"),
])
def test_bad_whatifs_are_clear(tmp_path, text, expected):
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=expected):
        load_whatif(path, scenario_yaml.load_scenario(WHATIF / "baseline.yaml"))


def test_activation_sparsity_computes_and_reads_only_the_active_ffn_neurons():
    ops = step_ops(LLAMA, StepShape.decode(1, 100))
    sparse = transform_ops(Techniques(ffn_active=0.1), ops, StepShape.decode(1, 100))
    for before, after in zip(ops, sparse, strict=True):
        kept = 0.1 if before.block == "mlp" else 1.0
        assert after.flops == pytest.approx(before.flops * kept) and after.weight_bytes == pytest.approx(
            before.weight_bytes * kept)
    assert any(op.block == "mlp" and op.weight_bytes for op in ops)
