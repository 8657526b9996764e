"""Expert routing of a mixture-of-experts model: how often each expert is chosen, per layer.

How many distinct experts a step touches decides how many expert weights it reads; that
depends on how skewed the routing is. `hwsim.perf.moe` makes the uniform and Zipf routings,
`hwsim.loading.routing` reads measured histograms.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Routing:
    """Per-layer selection probabilities q[layer][expert] of one token's top-k choice."""

    experts: int
    top_k: int
    shares: tuple[tuple[float, ...], ...]  # per layer, each expert's share of routed tokens (sums to 1)
    kind: str = "uniform"

    def probabilities(self, layer: int = 0) -> np.ndarray:
        """Each expert's chance to be among one token's k choices: k x share, except that no expert
        can exceed certainty, so the excess of the most popular goes to the others (sum stays k)."""
        shares = np.asarray(self.shares[layer % len(self.shares)])
        low, high = float(self.top_k), float(self.top_k) / max(shares.min(), 1e-12)
        if np.sum(np.minimum(1.0, low * shares)) >= self.top_k - 1e-12:
            return np.minimum(1.0, low * shares)
        for _ in range(100):  # find c with sum(min(1, c x share)) = k
            mid = (low + high) / 2
            low, high = (mid, high) if np.sum(np.minimum(1.0, mid * shares)) < self.top_k else (low, mid)
        return np.minimum(1.0, high * shares)

    def expected_active(self, tokens: float, layer: int | None = None) -> float:
        """Distinct experts a step of `tokens` tokens touches, averaged over layers unless one is named."""
        if tokens <= 0:
            return 0.0
        layers = range(len(self.shares)) if layer is None else [layer]
        return float(np.mean([np.sum(1.0 - (1.0 - self.probabilities(i)) ** tokens) for i in layers]))
