"""Operator FLOPs and bytes, checked against hand-computed figures."""
import pytest

from hwsim.loading import catalog
from hwsim.perf.ops import expected_active_experts, step_ops
from hwsim.specs import deployment
from hwsim.specs.deployment import FUSED, UNFUSED
from hwsim.specs.shape import StepShape

MIXTRAL = catalog.model("mixtral-8x7b")


def totals(ops, kind=None):
    chosen = [op for op in ops if kind is None or op.kind == kind]
    return (sum(op.flops * op.repeat for op in chosen), sum(op.weight_bytes * op.repeat for op in chosen))


def test_llama_3_8b_decode_at_batch_1_reads_about_16_gb_of_weights():
    model = catalog.model("llama-3-8b")
    ops = step_ops(model, StepShape.decode(1, 512))
    _, weight_bytes = totals(ops)
    # every weight once, except the input embedding table (a gather of one row)
    expected = 2 * (model.parameters() - model.vocab_size * model.hidden_size)
    assert weight_bytes == pytest.approx(expected, rel=0.001)
    assert weight_bytes == pytest.approx(15.0e9, rel=0.02)


def test_prefill_gemm_flops_are_two_per_parameter_per_token():
    model = catalog.model("llama-3-8b")
    tokens = 1024
    ops = step_ops(model, StepShape.prefill(1, tokens))
    linear_params = model.num_layers * (model.layer_parameters(0) - 2 * model.norm_parameters())
    gemm_flops = sum(op.flops * op.repeat for op in ops if op.kind == "gemm" and op.name != "lm_head")
    assert gemm_flops == pytest.approx(2 * linear_params * tokens, rel=1e-6)


def test_causal_attention_flops_count_the_triangle():
    model = catalog.model("llama-3-8b")
    q = 2048
    attention = next(op for op in step_ops(model, StepShape.prefill(1, q)) if op.kind == "attention")
    per_layer = 2 * model.num_heads * (q * (q + 1) / 2) * 2 * model.head_dim
    assert attention.flops == pytest.approx(per_layer)


def test_decode_attention_reads_the_whole_kv_cache_once():
    model = catalog.model("llama-3-8b")
    attention = next(op for op in step_ops(model, StepShape.decode(32, 4095)) if op.kind == "attention")
    assert attention.kv_read_bytes == pytest.approx(32 * 4096 * 2 * 8 * 128 * 2)


def test_kv_dtype_and_weight_bits_shrink_bytes():
    model = catalog.model("llama-3-8b")
    base = step_ops(model, StepShape.decode(8, 1000))
    small = step_ops(model, StepShape.decode(8, 1000), deployment.Precision("int4", "fp8", 4.5))
    kv = lambda ops: next(op for op in ops if op.kind == "attention").kv_read_bytes
    assert kv(small) == pytest.approx(kv(base) / 2)
    assert totals(small)[1] == pytest.approx(totals(base)[1] * 4.5 / 16)


def test_tensor_parallel_shards_weights_and_adds_two_allreduces_per_layer():
    model = catalog.model("llama-3-70b")
    one = step_ops(model, StepShape.decode(1, 100), tp=1)
    four = step_ops(model, StepShape.decode(1, 100), tp=4)
    assert totals(four, "gemm")[1] == pytest.approx(totals(one, "gemm")[1] / 4, rel=1e-3)
    collectives = [op for op in four if op.kind == "collective"]
    assert sum(op.repeat for op in collectives) == 2 * model.num_layers
    assert not [op for op in one if op.kind == "collective"]


def test_unfused_implementation_launches_more_kernels_for_the_same_math():
    model = catalog.model("llama-3-8b")
    shape = StepShape.prefill(1, 256)
    fused, unfused = step_ops(model, shape, implementation=FUSED), step_ops(model, shape, implementation=UNFUSED)
    kernels = lambda ops: sum(op.kernels * op.repeat for op in ops)
    assert kernels(unfused) > 3 * kernels(fused)
    assert totals(fused, "gemm") == totals(unfused, "gemm")


def test_expected_active_experts_uniform_routing():
    assert expected_active_experts(8, 2, 1) == pytest.approx(2.0)
    assert expected_active_experts(8, 2, 2) == pytest.approx(8 * (1 - (6 / 8) ** 2))
    assert expected_active_experts(8, 2, 64) == pytest.approx(8.0, rel=1e-6)


def test_moe_step_reads_only_the_active_experts():
    model = catalog.model("mixtral-8x7b")
    expert_bytes = 3 * model.hidden_size * model.moe.expert_intermediate_size * 2
    ops = step_ops(model, StepShape.decode(1, 100), active_experts=2.0)
    experts = sum(op.weight_bytes for op in ops if op.name.startswith("experts_"))
    assert experts == pytest.approx(2 * expert_bytes)


def test_mla_caches_one_latent_per_token():
    model = catalog.model("deepseek-v3")
    assert model.kv_bytes_per_token(2) == pytest.approx(61 * (512 + 64) * 2)
    ops = step_ops(model, StepShape.decode(4, 1023), deployment.Precision("fp8"))
    assert any(op.name == "kv_b_proj" for op in ops)


def test_expert_parallel_ops_dispatch_and_combine_over_the_peer_link():
    ops = step_ops(MIXTRAL, StepShape.decode(32, 500), tp=4, experts=deployment.ExpertSetup(expert_parallel=True))
    names = [op.name for op in ops]
    assert "alltoall_dispatch" in names and "alltoall_combine" in names and "mlp_allreduce" not in names
    gate_up = next(op for op in ops if op.name == "experts_gate_up")
    assert gate_up.shape.startswith("m=16 ")  # 32 tokens x top-2 over 4 devices, uniform


def test_materialized_attention_writes_and_rereads_every_score():
    """PyTorch's math backend: bf16 inputs computed in fp32, QK^T and PV as batched fp32 GEMMs over
    every query-key pair, the fp32 scores (32 heads x 2048 x 2048) read and written by mask and softmax."""
    from hwsim.specs.deployment import UNFUSED, UNFUSED_MATH

    model = catalog.model("llama-3-8b")
    shape = StepShape.prefill(1, 2048)
    math_ops = {op.role: op for op in step_ops(model, shape, implementation=UNFUSED_MATH)}
    flash = next(op for op in step_ops(model, shape, implementation=UNFUSED) if op.kind == "attention")
    scores = 32 * 2048 * 2048
    assert math_ops["attention_softmax"].act_bytes == 2 * 2 * scores * 4  # mask and softmax, read and write, fp32
    assert math_ops["attention_scores"].dtype == math_ops["attention_values"].dtype == "fp32"
    assert math_ops["attention_scores"].flops == math_ops["attention_values"].flops == 2 * scores * 128
    # the fused kernel visits only the causal triangle; the math backend computes every pair, then masks
    assert math_ops["attention_scores"].flops + math_ops["attention_values"].flops > 1.99 * flash.flops
    assert "attention" not in math_ops


def test_a_weight_format_runs_every_linear_layer_but_the_router_and_a_16_bit_head():
    llama = catalog.model("llama-3-8b")
    ops = step_ops(llama, StepShape.decode(1, 64), deployment.Precision.of(None, weight_format="int4-tinygemm"))
    gemms = {op.role: op for op in ops if op.kind == "gemm"}
    assert {role for role, op in gemms.items() if op.weight_format} == {"qkv_proj", "o_proj", "mlp_gate_up",
                                                                          "mlp_down"}
    assert gemms["lm_head"].weight_bytes == llama.vocab_size * llama.hidden_size * 2.0
    assert gemms["qkv_proj"].weight_bytes == gemms["qkv_proj"].n * gemms["qkv_proj"].k * 4.25 / 8
    gguf = step_ops(llama, StepShape.decode(1, 64), deployment.Precision.of(None, weight_format="q4_k_m"))
    head = next(op for op in gguf if op.role == "lm_head")
    assert head.weight_format == "q4_k_m" and head.weight_bytes == pytest.approx(
        llama.vocab_size * llama.hidden_size * 6.5625 / 8)  # llama.cpp quantizes the head too (Q6_K)
    mixtral = step_ops(MIXTRAL, StepShape.decode(1, 64), deployment.Precision.of(None, weight_format="int4-marlin"))
    assert next(op for op in mixtral if op.role == "router").weight_format is None
