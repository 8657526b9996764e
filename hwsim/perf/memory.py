"""Device memory needed by a deployment: weights, KV cache, activations, runtime reserve."""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base import units
from hwsim.base.errors import DoesNotFitError
from hwsim.specs.deployment import Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.placement import Placement

# CUDA context, allocator slack and library workspaces: what a framework holds before the model
RUNTIME_RESERVE_BYTES = 1.0 * 2**30


@dataclass(frozen=True)
class MemoryFit:
    weights_bytes: float  # per device
    kv_cache_bytes: float
    activation_bytes: float
    reserve_bytes: float
    capacity_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.reserve_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.capacity_bytes

    def breakdown(self) -> str:
        parts = [
            ("weights", self.weights_bytes),
            ("KV cache", self.kv_cache_bytes),
            ("activations", self.activation_bytes),
            ("runtime reserve", self.reserve_bytes),
        ]
        text = ", ".join(f"{name} {units.format_bytes(value)}" for name, value in parts)
        return f"{text}; total {units.format_bytes(self.total_bytes)} of {units.format_bytes(self.capacity_bytes)}"


def memory_fit(model: Model, system: System, precision: Precision, batch: int, context_tokens: int,
               step_tokens: int, attention_dp: bool = False) -> MemoryFit:
    """Per-device memory for `batch` sequences of up to `context_tokens` each, tensor-parallel
    over the system's accelerators; `step_tokens` is the largest number of tokens in one step.

    With attention data parallelism (MoE engines) every device keeps all non-expert weights and
    the whole KV of its own share of the sequences; only routed experts are split."""
    tp = max(1, system.accelerator_count)
    weights = weights_per_device(model, precision, tp, attention_dp)
    if attention_dp:
        kv = batch / tp * context_tokens * model.kv_bytes_per_token(precision.kv_bytes)
    else:
        kv = batch * context_tokens * model.kv_bytes_per_token_per_device(precision.kv_bytes, tp)
    widest = max(model.q_width + 2 * model.kv_width, 2 * model.intermediate_size,
                 2 * (model.moe.expert_intermediate_size * model.moe.top_k if model.moe else 0))
    # live activations of one layer (input, residual, widest intermediate) plus fp32 logits
    activations = step_tokens * (2 * model.hidden_size + widest / tp) * precision.act_bytes
    activations += batch * model.vocab_size * 4.0 / tp
    return MemoryFit(weights, kv, activations, RUNTIME_RESERVE_BYTES, system.compute.memory_bytes)


def weights_per_device(model: Model, precision: Precision, tp: int, attention_dp: bool = False) -> float:
    total = model.weight_bytes(8 * precision.weight_bytes_per_param)
    if not attention_dp:
        return total / tp
    experts = model.routed_expert_parameters() * precision.weight_bytes_per_param
    return total - experts + experts / tp


def weights_by_tier(model: Model, precision: Precision, placement: Placement, tp: int = 1,
                    attention_dp: bool = False) -> dict[str, float]:
    """Weight bytes each tier holds, the device tier per device. Routed experts follow the `experts`
    placement and every other layer weight the `weights` placement; the embeddings and the final
    norm stay on the device, which reads them every step (offloading engines keep them resident),
    and so does the LM head unless the placement names it (`lm_head=host`). With attention data
    parallelism every device keeps all non-expert weights."""
    if placement.on_device:
        return {"device": weights_per_device(model, precision, tp, attention_dp)}
    bytes_per_param = precision.weight_bytes_per_param
    total = model.weight_bytes(8 * bytes_per_param)
    experts = model.routed_expert_parameters() * bytes_per_param
    # a head tied to the token embedding is that matrix: placed with the head, looked up from there
    head_params = model.lm_head_parameters() or model.vocab_size * model.hidden_size
    head = head_params * bytes_per_param
    resident = (model.embedding_parameters() + model.lm_head_parameters() + model.norm_parameters()
                - head_params) * bytes_per_param
    layered = total - experts - resident - head
    by_tier = {}
    for tier in ("device", "host", "disk", "remote"):
        shared = (layered * placement.share("weights", tier) + (resident if tier == "device" else 0.0)
                  + head * placement.share("lm_head", tier))
        routed = experts * placement.share("experts", tier)
        by_tier[tier] = shared / (1 if attention_dp else tp) + routed / tp if tier == "device" else shared + routed
    return by_tier


def require_fit(fit: MemoryFit, what: str) -> None:
    if not fit.fits:
        raise DoesNotFitError(f"{what} does not fit in device memory: {fit.breakdown()}")
