"""Questions asked of the model: capacity plans, offload and expert placement searches, validation
against measurements, calibration and kernel-speedup checks."""
