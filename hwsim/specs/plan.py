"""A capacity plan: a model and workload, the SLOs to meet, and the candidate deployments to try.

The plan search (`hwsim plan`) prunes the candidates that cannot work, simulates the others
under the plan's workload and engine settings, and picks the cheapest that meets every SLO.
These are the plain values it works on; `hwsim.loading.plan_yaml` reads them from a plan file.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hwsim.specs.models import Model
from hwsim.specs.pricing import Pricing
from hwsim.specs.scenario import EngineConfig
from hwsim.specs.workload import Workload

PERCENTILES = (50, 90, 99)  # the SLO percentiles a plan can judge
# each candidate is a serving simulation of the whole workload, a second or more each: a larger
# search would not finish in a working day
MAX_CANDIDATES = 10_000


@dataclass(frozen=True)
class PlanSlo:
    """Targets at one percentile; None leaves a target out (at least one is given)."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    percentile: int = 99
    min_output_tokens_per_s: float | None = None


@dataclass(frozen=True)
class Candidate:
    """One deployment to simulate: `replicas` copies of a `tensor_parallel`-device engine."""

    hardware: str
    tensor_parallel: int
    replicas: int
    dtype: str
    kv_dtype: str | None
    max_num_seqs: int
    max_num_batched_tokens: int
    placement: str = "device"

    def describe(self) -> str:
        """One line naming the candidate, as the plan table and report show it."""
        kv = f"/{self.kv_dtype} KV" if self.kv_dtype else ""
        where = f", {self.placement}" if self.placement != "device" else ""
        return (f"{self.replicas}x{self.tensor_parallel} {self.hardware} {self.dtype}{kv}, "
                f"seqs {self.max_num_seqs}, tokens {self.max_num_batched_tokens}{where}")

    @property
    def devices(self) -> int:
        return self.tensor_parallel * self.replicas


@dataclass(frozen=True)
class PlanSpec:
    """A whole plan as read: what to serve, the SLOs, every candidate, how to price them."""

    model: Model
    workload: Workload
    slo: PlanSlo
    candidates: tuple[Candidate, ...]
    pricing: Pricing
    engine: EngineConfig = field(default_factory=EngineConfig)
