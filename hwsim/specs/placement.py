"""Where each class of data lives, in the measurement schema's syntax, and what that costs in space.

    weights=device:0.2,host:0.8;kv=host;act=host;attention_compute=host;experts=host;experts_compute=host
    weights=host;kv=host;pinned=weights:false

`what=tier[:fraction][,tier:fraction]` joined by `;`. Classes: weights, kv, act, experts. Tiers:
device (accelerator memory), host (CPU DRAM), disk (the system's storage). On a system with no
accelerator the device is its CPU and the device tier its DRAM, so an empty placement runs
everything on the host; a unified-memory GPU (Apple silicon) has no separate host tier. `attention_compute`
and `experts_compute` say which processor runs attention and routed experts: the accelerator
(`device`), the host CPU (`host`), for attention over a KV cache kept on computational storage
drives the drives themselves (`storage`, InstInfer-style), or memory-optimized devices across a
network that hold the cache (`remote` with `kv=remote`, Lamina-style). `pinned` says which
classes' host memory is page-locked (the default) or pageable: `pinned=false` for all of them,
`pinned=weights:false` for one. The embeddings, the LM head and the norms stay on the device
unless named: `lm_head=host` keeps the output projection in host memory. When the KV cache
lives entirely in host memory, attention runs on the host CPU unless told otherwise (FlexGen's
`--cpu`): reading the whole cache over PCIe every step is slower than the CPU reading DRAM.
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.base import units
from hwsim.base.errors import DoesNotFitError, HwsimError
from hwsim.specs.hardware import System

TIERS = ("device", "host", "disk", "remote")  # remote: the memory of a system's attention pool
# lm_head: the output projection, resident on the device unless named (offloading engines keep it there)
CLASSES = ("weights", "kv", "act", "experts", "lm_head")
COMPUTE_KEYS = ("attention_compute", "experts_compute")
# storage: computational storage drives (attention in the drive); remote: an attention pool
PROCESSORS = ("device", "host", "storage", "remote")


@dataclass(frozen=True)
class Placement:
    """Each class of data as (tier, share) pairs, and the processors that run attention and routed experts."""

    weights: tuple[tuple[str, float], ...] = (("device", 1.0),)
    kv: tuple[tuple[str, float], ...] = (("device", 1.0),)
    act: tuple[tuple[str, float], ...] = (("device", 1.0),)
    experts: tuple[tuple[str, float], ...] | None = None  # None: routed experts follow `weights`
    lm_head: tuple[tuple[str, float], ...] | None = None  # None: resident on the device
    attention_compute: str = "device"
    experts_compute: str = "device"
    # classes whose host-memory share is pageable (not page-locked): their copies to and from the
    # device are staged by the driver (FlexGen's --pin-weight 0 leaves the weights pageable)
    pageable: tuple[str, ...] = ()

    def share(self, what: str, tier: str) -> float:
        """The share of class `what` kept on `tier` (routed experts not placed follow the weights)."""
        split = getattr(self, what)
        if split is None:
            split = (("device", 1.0),) if what == "lm_head" else self.weights
        return dict(split).get(tier, 0.0)

    @property
    def on_device(self) -> bool:
        return (all(self.share(c, "device") == 1.0 for c in ("weights", "kv", "act"))
                and (self.experts is None or self.share("experts", "device") == 1.0)
                and self.share("lm_head", "device") == 1.0
                and self.attention_compute == "device" and self.experts_compute == "device")

    def tiers_used(self) -> set[str]:
        """Tiers holding a non-zero share of some class."""
        used = set()
        for what in CLASSES:
            split = getattr(self, what)
            if split:
                used |= {tier for tier, share in split if share > 0}
        return used

    def describe(self) -> str:
        """The placement in the schema's syntax; a processor is left out when it is the device."""
        parts = []
        for what in CLASSES:
            split = getattr(self, what)
            if split is not None:
                parts.append(f"{what}=" + ",".join(f"{t}:{s:g}" if s != 1 else t for t, s in split))
        for key in COMPUTE_KEYS:
            if getattr(self, key) != "device":
                parts.append(f"{key}={getattr(self, key)}")
        if self.pageable:
            parts.append("pinned=" + ",".join(f"{what}:false" for what in self.pageable))
        return ";".join(parts)


def _split(what: str, spec: str) -> tuple[tuple[str, float], ...]:
    """`tier[:fraction][,tier:fraction]` as (tier, share) pairs adding up to 1."""
    shares: list[tuple[str, float]] = []
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise HwsimError(f"placement {what}: expected tier[:fraction],... (e.g. {what}=host); got nothing")
    for item in items:
        tier, _, fraction = (s.strip() for s in item.partition(":"))
        if tier not in TIERS:
            raise HwsimError(f"placement {what}: unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
        if tier in dict(shares):
            raise HwsimError(f"placement {what}: tier {tier} is named twice in {spec!r}; give each tier once")
        if fraction:
            try:
                share = float(fraction)
            except ValueError:
                raise HwsimError(f"placement {what}: fraction {fraction!r} of {tier} is not a number") from None
        elif len(items) == 1:
            share = 1.0
        else:
            raise HwsimError(f"placement {what}: give a fraction for every tier when splitting ({spec!r})")
        if not 0 <= share <= 1:  # NaN fails this too
            raise HwsimError(f"placement {what}: fraction of {tier} must be between 0 and 1; got {share:g}")
        shares.append((tier, share))
    total = sum(s for _, s in shares)
    if abs(total - 1.0) > 1e-6:
        raise HwsimError(f"placement {what}: fractions must add up to 1; {spec!r} adds up to {total:g}")
    return tuple(shares)


def _processor(what: str, spec: str) -> str:
    if spec not in PROCESSORS:
        raise HwsimError(f"placement {what}: expected one of {', '.join(PROCESSORS)}; got {spec!r}")
    return spec


def _pageable(spec: str) -> tuple[str, ...]:
    """`pinned=false` (every class pageable) or `pinned=what:true|false,...`: the classes left pageable."""
    if spec.strip() in ("true", "false"):
        return CLASSES if spec.strip() == "false" else ()
    flags: dict[str, str] = {}
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        what, _, flag = (s.strip() for s in item.partition(":"))
        if what not in CLASSES or flag not in ("true", "false"):
            raise HwsimError(f"placement pinned: expected true, false or what:true|false,... with what in "
                             f"{', '.join(CLASSES)}; got {item!r}")
        if what in flags:
            raise HwsimError(f"placement pinned: {what} is named twice in {spec!r}; give each class once")
        flags[what] = flag
    return tuple(what for what, flag in flags.items() if flag == "false")


def parse(text: str | None) -> Placement:
    """Parse the schema's placement syntax; errors name the part that is wrong."""
    if text is None or text.strip() in ("", "device"):
        return Placement()
    values: dict = {}
    for part in (p.strip() for p in text.split(";") if p.strip()):
        if "=" not in part:
            raise HwsimError(f"placement {part!r}: expected what=tier[:fraction],... "
                             f"(e.g. weights=device:0.2,host:0.8)")
        what, spec = (s.strip() for s in part.split("=", 1))
        if what in values:
            raise HwsimError(f"placement: {what} is named twice in {text!r}; give each class once")
        if what in COMPUTE_KEYS:
            values[what] = _processor(what, spec)
        elif what == "pinned":
            values["pageable"] = _pageable(spec)
        elif what in CLASSES:
            values[what] = _split(what, spec)
        else:
            raise HwsimError(f"placement: unknown class {what!r}; expected one of "
                             f"{', '.join(CLASSES + COMPUTE_KEYS + ('pinned',))}")
    if "attention_compute" not in values and dict(values.get("kv", ())).get("host", 0.0) == 1.0:
        values["attention_compute"] = "host"  # FlexGen's --cpu: see the module's docstring
    return Placement(**values)


def tier_capacity_bytes(system: System, tier: str) -> float:
    """Bytes `tier` holds in `system`: one accelerator's memory, all host DRAM, the whole pool, all drives."""
    if tier == "device":  # a CPU-only system's processor is its CPU, its memory the DRAM
        return system.compute.memory_bytes
    if tier == "host":
        return system.dram_bytes
    if tier == "remote":
        if not system.attention_pool:
            return 0.0
        device, count, _ = system.attention_pool
        return device.compute.memory_bytes * count
    return sum(drive.capacity_bytes * count for drive, count in system.storage)


def _check_tiers_exist(placement: Placement, system: System) -> None:
    for tier in placement.tiers_used():
        if tier == "disk" and not system.storage:
            raise HwsimError(f"placement uses disk, but {system.id} has no storage")
        if tier == "host" and system.accelerator is not None and system.accelerator.unified_memory:
            raise HwsimError(f"placement uses host memory, but {system.accelerator.name} computes out of the "
                             f"host's DRAM (unified memory): place data on the device or on disk")
        if tier == "host" and system.accelerator is None and "device" in placement.tiers_used():
            raise HwsimError(f"placement uses both device and host memory, but {system.id} has no accelerator: "
                             f"both are its DRAM; place data on the device (its CPU) or on disk")
        if tier == "remote" and not system.attention_pool:
            raise HwsimError(f"placement uses the remote tier, but {system.id} has no attention pool")


def _check_attention_in_storage(placement: Placement, system: System) -> None:
    """Attention on computational storage drives needs such drives, and the whole KV cache on them."""
    if not any(drive.compute for drive, _ in system.storage):
        raise HwsimError(f"placement attention_compute=storage, but {system.id} has no computational storage")
    if placement.share("kv", "disk") != 1.0:
        raise HwsimError("placement attention_compute=storage needs the KV cache on the drives (kv=disk)")


def _check_attention_in_pool(placement: Placement, system: System) -> None:
    """Attention on a remote pool needs the pool, and the whole KV cache in its memory."""
    if not system.attention_pool:
        raise HwsimError(f"placement attention_compute=remote, but {system.id} has no attention pool")
    if placement.share("kv", "remote") != 1.0:
        raise HwsimError("placement attention_compute=remote needs the KV cache in the pool (kv=remote)")


def _check_processors(placement: Placement, system: System) -> None:
    if placement.attention_compute == "storage":
        _check_attention_in_storage(placement, system)
    if placement.attention_compute == "remote":
        _check_attention_in_pool(placement, system)
    if placement.experts_compute in ("storage", "remote"):
        raise HwsimError(f"placement experts_compute={placement.experts_compute} is not modeled; "
                         f"expected device or host")


def check_tiers(placement: Placement, system: System) -> None:
    """Every tier and processor the placement names must exist in the system."""
    _check_tiers_exist(placement, system)
    _check_processors(placement, system)


def check_capacity(needs: dict[str, float], system: System) -> None:
    """`needs` maps tier -> bytes; a tier over its capacity is an error naming both figures."""
    for tier, needed in needs.items():
        available = tier_capacity_bytes(system, tier)
        if needed > available:
            raise DoesNotFitError(f"{tier} tier of {system.id} is over capacity: needs {units.format_bytes(needed)}, "
                                  f"has {units.format_bytes(available)}")
