"""The performance model: operators, the roofline, the one step model (on-device, tensor/expert
parallel, tiered, speculative), memory tiers, MoE routing, energy and cost."""
