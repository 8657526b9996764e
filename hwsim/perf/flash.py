"""Weights on flash, DRAM as a cache of FFN neurons ("LLM in a flash", arXiv 2312.11514).

Attention weights, embeddings and the sparsity predictor stay in DRAM. Of the FFN, only the
neurons predicted active for a token are needed, and of those only the ones not already in DRAM:
with windowing, neurons active for any of the last `window` tokens stay loaded, so a token loads
`new_fraction` of each layer's neurons. Each neuron is one up-projection row and one
down-projection column; row-column bundling stores them together, so a neuron is one read of
twice the size instead of two reads. Reads go out `reader_threads` at a time, and the drive's
throughput for that request size and queue depth (small reads are latency-bound) sets the
loading time. Memory management copies every incoming neuron into the DRAM cache and moves one
resident neuron into each freed slot; each copy is issued by the host.

Per token: flash loading + memory management + compute (the dense work plus the active FFN
neurons on the system's compute device, out of DRAM).
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base.errors import HwsimError
from hwsim.perf.offload import storage_read_bytes_per_s
from hwsim.perf.step_model import StepModel
from hwsim.specs import shape
from hwsim.specs.deployment import Deployment, Precision
from hwsim.specs.hardware import System
from hwsim.specs.models import Model
from hwsim.specs.placement import tier_capacity_bytes
from hwsim.specs.techniques import Techniques


@dataclass(frozen=True)
class FlashOptions:
    active_fraction: float = 0.10  # FFN neurons the predictor marks active for one token
    new_fraction: float = 0.024  # of them, the share not already in DRAM (windowing; 1 window = no reuse)
    bundle: bool = True  # row-column bundling
    reader_threads: int = 32  # reads in flight
    resident_fraction: float = 0.24  # FFN neurons kept in DRAM for the window (paper: 24% at k=5)
    # host cost of issuing one neuron copy in the DRAM cache; 2.4 us is set so the model gives the
    # paper's 65 ms of memory management per token for OPT-6.7B on an M1 Max
    copy_issue_s: float = 2.4e-6

    def __post_init__(self):
        for name in ("active_fraction", "new_fraction"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise HwsimError(f"{name} must be in (0, 1]; got {value}")
        if self.new_fraction > self.active_fraction:
            raise HwsimError(f"new_fraction ({self.new_fraction}) cannot exceed active_fraction "
                             f"({self.active_fraction}): only active neurons are loaded")
        if self.reader_threads < 1:
            raise HwsimError(f"reader_threads must be at least 1; got {self.reader_threads}")


@dataclass(frozen=True)
class FlashToken:
    flash_load_s: float
    memory_management_s: float
    compute_s: float
    bytes_read: float
    read_bytes_per_s: float
    request_bytes: float
    dram_bytes: float  # resident: everything but the FFN, plus the FFN neurons of the window

    @property
    def total_s(self) -> float:
        return self.flash_load_s + self.memory_management_s + self.compute_s


def flash_token(model: Model, system: System, context_len: int, precision: Precision = Precision(),
                options: FlashOptions = FlashOptions()) -> FlashToken:
    """One decode token with the FFN weights on the system's first drive."""
    if model.moe or not system.storage:
        raise HwsimError("flash inference needs a dense model and a system with storage")
    drive = system.storage[0][0]
    element = precision.weight_bytes_per_param
    neurons = model.intermediate_size
    matrices = 2  # up row + down column; a gated MLP adds the gate row to the bundle
    if model.gated_mlp:
        matrices = 3
    neuron_bytes = matrices * model.hidden_size * element
    request = neuron_bytes if options.bundle else model.hidden_size * element
    new_neurons = model.num_layers * neurons * options.new_fraction
    bytes_read = new_neurons * neuron_bytes
    rate = storage_read_bytes_per_s(drive, request, options.reader_threads)
    flash_s = drive.read_latency_s + bytes_read / rate
    copy_bandwidth = system.host_compute.memory_bandwidth_bytes_per_s * system.host_compute.performance.copy_efficiency
    management_s = 2 * new_neurons * (options.copy_issue_s + neuron_bytes / copy_bandwidth)
    compute_s = _compute_s(model, system, context_len, precision, options.active_fraction)
    ffn_bytes = model.num_layers * neurons * neuron_bytes
    dram = model.weight_bytes(8 * element) - ffn_bytes * (1.0 - options.resident_fraction)
    _check_dram(model, system, dram)
    return FlashToken(flash_s, management_s, compute_s, bytes_read, rate, request, dram)


def _check_dram(model: Model, system: System, resident_bytes: float) -> None:
    """What stays in DRAM (all but the FFN, plus the window's FFN neurons) must fit in it."""
    dram_bytes = tier_capacity_bytes(system, "host")
    if resident_bytes > dram_bytes:
        raise HwsimError(f"{model.id} keeps {resident_bytes / 1e9:.1f} GB resident in DRAM with its FFN on flash; "
                         f"{system.id} has {dram_bytes / 1e9:.1f} GB")


def naive_token(model: Model, system: System, context_len: int, precision: Precision = Precision(),
                reader_threads: int = 32) -> FlashToken:
    """No predictor, no cache: every FFN weight read from flash for every token, in large reads."""
    drive = system.storage[0][0]
    element = precision.weight_bytes_per_param
    matrices = 3 if model.gated_mlp else 2
    ffn_bytes = model.num_layers * model.intermediate_size * matrices * model.hidden_size * element
    request = float(1 << 20)
    rate = storage_read_bytes_per_s(drive, request, reader_threads)
    return FlashToken(drive.read_latency_s + ffn_bytes / rate, 0.0,
                      _compute_s(model, system, context_len, precision, 1.0), ffn_bytes, rate, request,
                      model.weight_bytes(8 * element) - ffn_bytes)


def _compute_s(model: Model, system: System, context_len: int, precision: Precision, active: float) -> float:
    """The decode step on the compute device with only the active FFN neurons touched."""
    deployment = Deployment(model, system, precision, techniques=Techniques(ffn_active=active))
    return StepModel(deployment).cost(shape.StepShape.decode(1, context_len)).time_s
