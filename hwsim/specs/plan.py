from __future__ import annotations

PERCENTILES = (50, 90, 99)  # the SLO percentiles a plan can judge

from dataclasses import dataclass, field

from hwsim.specs.models import Model
from hwsim.specs.pricing import Pricing
from hwsim.specs.scenario import EngineConfig
from hwsim.specs.workload import Workload


@dataclass(frozen=True)
class PlanSlo:
    ttft_s: float | None = None
    tpot_s: float | None = None
    percentile: int = 99
    min_output_tokens_per_s: float | None = None


@dataclass(frozen=True)
class Candidate:
    hardware: str
    tensor_parallel: int
    replicas: int
    dtype: str
    kv_dtype: str | None
    max_num_seqs: int
    max_num_batched_tokens: int
    placement: str = "device"

    def describe(self) -> str:
        kv = f"/{self.kv_dtype} KV" if self.kv_dtype else ""
        where = f", {self.placement}" if self.placement != "device" else ""
        return (f"{self.replicas}x{self.tensor_parallel} {self.hardware} {self.dtype}{kv}, "
                f"seqs {self.max_num_seqs}, tokens {self.max_num_batched_tokens}{where}")

    @property
    def devices(self) -> int:
        return self.tensor_parallel * self.replicas


@dataclass(frozen=True)
class PlanSpec:
    model: Model
    workload: Workload
    slo: PlanSlo
    candidates: tuple[Candidate, ...]
    pricing: Pricing
    engine: EngineConfig = field(default_factory=EngineConfig)
