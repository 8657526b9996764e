"""hwsim: a discrete-event performance simulator for LLM inference hardware.

The public API (`hwsim.api`): load profiles and scenarios, estimate a batch, simulate serving,
validate against measurements, plan capacity.
"""
from hwsim.api import deployment, estimate, load_model, load_scenario, load_system, plan, simulate, validate

__all__ = ["deployment", "estimate", "load_model", "load_scenario", "load_system", "plan", "simulate", "validate"]
