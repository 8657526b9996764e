"""hwsim: a discrete-event performance simulator for LLM inference hardware.

The public API (`hwsim.api`): load profiles and scenarios, estimate a batch, simulate serving,
validate against measurements, plan capacity. `hwsim.api` (and with it pandas and the simulator)
is imported on first use of one of these names, so that `hwsim --help` starts quickly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwsim.api import deployment, estimate, load_model, load_scenario, load_system, plan, simulate, validate

__all__ = ["deployment", "estimate", "load_model", "load_scenario", "load_system", "plan", "simulate", "validate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from hwsim import api

        return getattr(api, name)
    raise AttributeError(f"module 'hwsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
