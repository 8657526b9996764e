"""Where profiles live and how ids become loaded objects.

The shipped YAML lives in `hardware_profiles/` and `workloads/` at the top of the project; the
wheel installs them as the packages `hwsim.hardware_profiles` and `hwsim.workloads`. From a
checkout (tests, development) the same folders are found beside the package.
"""
from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hwsim.base.errors import HwsimError, InputError, UnknownIdError, brief
from hwsim.loading import engine_yaml, hardware_yaml, hf_config, model_yaml, workload_yaml
from hwsim.loading.fields import Fields, load_yaml
from hwsim.specs.hardware import MAX_DRIVES, MAX_SOCKETS, Accelerator, Cpu, Link, Storage, System
from hwsim.specs.models import Model
from hwsim.specs.scenario import MAX_DEVICES, EngineConfig

if TYPE_CHECKING:
    from hwsim.specs.workload import Workload

T = TypeVar("T")


def data_dir(name: str) -> Path:
    """The folder of shipped data `name` ("hardware_profiles", "workloads", "pricing" or "engines")."""
    try:
        module = importlib.import_module(f"hwsim.{name}")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / name
    return Path(next(iter(module.__path__)))


def ids_in(folder: Path) -> dict[str, Path]:
    """The profiles in `folder`: file stem (the id) -> path, in name order."""
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


@functools.cache
def hardware_files(kind: str) -> dict[str, Path]:
    """Shipped hardware profiles of `kind` (gpus, cpus, storage, links, systems, kernels): id -> path."""
    return ids_in(data_dir("hardware_profiles") / kind)


@functools.cache
def model_files() -> dict[str, Path]:
    """Shipped model profiles: id -> path."""
    return ids_in(data_dir("workloads") / "models")


def _checked_id(fields: Fields, expected: str) -> None:
    """A shipped profile's id must be its file name, so that the id on the command line finds it."""
    if fields.data.get("id") != expected:
        raise InputError(fields.source, "id",
                         f"must match the file name {expected!r}; got {brief(fields.data.get('id'))}")


@functools.cache
def links() -> dict[str, Link]:
    """Every shipped link by id; other profiles name their links from this table."""
    result = {}
    for link_id, path in hardware_files("links").items():
        fields = load_yaml(path)
        _checked_id(fields, link_id)
        result[link_id] = hardware_yaml.load_link(fields)
    return result


def _one(kind: str, item_id: str, what: str) -> Fields:
    """The fields of the shipped `kind` profile `item_id`; `what` names the kind in errors."""
    return _shipped(hardware_files(kind), item_id, what)


@functools.cache
def backend_kernels() -> hardware_yaml.BackendKernels:
    """Each backend's default GEMM kernels by weight format (`hardware_profiles/kernels/`)."""
    files = hardware_files("kernels")
    if not files:  # an install without them would price every quantized format as missing
        raise HwsimError(f"no kernel profiles in {data_dir('hardware_profiles') / 'kernels'}: the installation is "
                         f"incomplete")
    result = {}
    for backend_id, path in files.items():
        fields = load_yaml(path)
        _checked_id(fields, backend_id)
        backend, kernels = hardware_yaml.load_backend_kernels(fields)
        result[backend] = kernels
    return result


@functools.cache
def accelerator(device_id: str) -> Accelerator:
    return hardware_yaml.load_accelerator(_one("gpus", device_id, "accelerator"), links(), backend_kernels())


@functools.cache
def cpu(cpu_id: str) -> Cpu:
    return hardware_yaml.load_cpu(_one("cpus", cpu_id, "CPU"), backend_kernels())


@functools.cache
def storage(storage_id: str) -> Storage:
    return hardware_yaml.load_storage(_one("storage", storage_id, "storage device"), links())


def link(link_id: str) -> Link:
    """A shipped link by id."""
    table = links()
    if link_id not in table:
        raise UnknownIdError("link", link_id, list(table))
    return table[link_id]


def hardware_ids() -> list[str]:
    """Ids accepted as `hardware`: reference systems and accelerators (in a typical server)."""
    return sorted(set(hardware_files("systems")) | set(hardware_files("gpus")))


def _cpu_with_dram_bandwidth(cpu_profile: Cpu, dram_bandwidth_bytes_per_s: float, sockets: int) -> Cpu:
    """`cpu_profile` with the system's measured or configured DRAM bandwidth shared over its sockets."""
    per_socket = dram_bandwidth_bytes_per_s / sockets
    return replace(cpu_profile, compute=replace(cpu_profile.compute, memory_bandwidth_bytes_per_s=per_socket))


def _resolved(fields: Fields, key: str, find: Callable[[str], T]) -> T:
    """The profile the id at `key` names, found by `find`; an unknown id is an error at that field."""
    try:
        return find(fields.string(key))
    except InputError:
        raise
    except HwsimError as exc:
        raise fields.error(key, str(exc)) from None


def _drives(fields: Fields) -> tuple[tuple[Storage, int], ...]:
    """The `storage` list: (drive, count) pairs, a drive's capacity optionally overridden."""
    drives = []
    for item in fields.sections("storage", []):
        drive = _resolved(item, "device", storage)
        capacity = item.quantity("capacity", "bytes", 0.0)
        if capacity:
            drive = replace(drive, capacity_bytes=capacity)
        drives.append((drive, item.integer("count", 1, high=MAX_DRIVES)))
        item.finish()
    return tuple(drives)


def _attention_pool(fields: Fields) -> tuple[Accelerator, int, Link] | None:
    """The optional `attention_pool`: devices that hold the KV cache and run decode attention."""
    if not fields.has("attention_pool"):
        return None
    section = fields.section("attention_pool")
    pool = (_resolved(section, "device", accelerator), section.integer("count", 1, high=MAX_DEVICES),
            _resolved(section, "link", link))
    section.finish()
    return pool


def load_system(fields: Fields) -> System:
    """A reference system profile read from `fields`; the profiles it names are found among the shipped ones."""
    acc = fields.section("accelerator", {})
    device = _resolved(acc, "device", accelerator) if acc.has("device") else None
    count = acc.integer("count", 1 if device else 0, low=0, high=MAX_DEVICES)
    acc.finish()
    host = fields.section("host")
    cpu_profile = _resolved(host, "cpu", cpu)
    sockets = host.integer("sockets", 1, high=MAX_SOCKETS)
    dram_bytes = host.quantity("dram", "bytes")
    dram_bandwidth = host.quantity("dram_bandwidth", "bytes_per_s", 0.0)
    numa = host.string("numa", "local", choices=("local", "interleave", "replicate"))
    host.finish()
    if dram_bandwidth:
        cpu_profile = _cpu_with_dram_bandwidth(cpu_profile, dram_bandwidth, sockets)
    drives = _drives(fields)
    pool = _attention_pool(fields)
    host_link = _resolved(fields, "host_link", link) if fields.string("host_link", "") else None
    result = System(
        id=fields.string("id"),
        name=fields.string("name"),
        accelerator=device,
        accelerator_count=count,
        cpu=cpu_profile,
        sockets=sockets,
        dram_bytes=dram_bytes,
        storage=drives,
        host_link=host_link or (device.host_link if device else None),
        notes=fields.string("notes", ""),
        attention_pool=pool,
        numa=numa,
    )
    fields.string("kind", choices=("system",))
    fields.notes("sources")
    fields.finish()
    return result


def _typical_server(device: Accelerator) -> System:
    """One accelerator in the typical server its profile describes."""
    server = device.server
    storage_items = ((storage(server["storage"]), 1),) if server["storage"] else ()
    return System(
        id=device.id,
        name=f"{device.name} in a typical server",
        accelerator=device,
        accelerator_count=1,
        cpu=cpu(server["cpu"]),
        sockets=server["sockets"],
        dram_bytes=server["dram_bytes"],
        storage=storage_items,
        host_link=device.host_link,
    )


@functools.cache
def _system(hardware_id: str) -> System:
    """A reference system by its id, or an accelerator in its typical server by the accelerator's id."""
    if hardware_id in hardware_files("systems"):
        return load_system(_one("systems", hardware_id, "system"))
    if hardware_id in hardware_files("gpus"):
        return _typical_server(accelerator(hardware_id))
    raise UnknownIdError("hardware", hardware_id, hardware_ids())


@functools.cache
def profile_system(path: str) -> System:
    """A GPU or system profile YAML that is not shipped (a new device, a private system), so that
    hardware can be tried before it joins the catalog. A GPU stands in its typical server, as a
    shipped GPU id does; the CPUs, drives and links it names are shipped ones."""
    fields = load_yaml(Path(path))
    if fields.string("kind", choices=("gpu", "system")) == "gpu":
        return _typical_server(hardware_yaml.load_accelerator(fields, links(), backend_kernels()))
    return load_system(fields)


def system(hardware_id: str, count: int | None = None) -> System:
    """A loaded System for a system id, an accelerator id, or the path of a GPU or system profile
    YAML; `count` overrides its GPU count."""
    is_path = hardware_id.endswith((".yaml", ".yml"))
    loaded = profile_system(hardware_id) if is_path else _system(hardware_id)
    return loaded.with_count(count) if count is not None else loaded


def model_ids() -> list[str]:
    """Ids of the shipped model profiles, sorted."""
    return sorted(model_files())


@functools.cache
def model(name: str) -> Model:
    """A model by shipped id, by a profile YAML path, or by a HuggingFace config.json path."""
    if name.endswith(".json"):
        return hf_config.from_hf_config(Path(name))
    if name.endswith((".yaml", ".yml")):
        return model_yaml.load_model(load_yaml(Path(name)))
    return model_yaml.load_model(_shipped(model_files(), name, "model"))


def _shipped(files: dict[str, Path], item_id: str, what: str) -> Fields:
    """The fields of the shipped profile `item_id` among `files`; `what` names the kind in errors."""
    if item_id not in files:
        raise UnknownIdError(what, item_id, list(files))
    fields = load_yaml(files[item_id])
    _checked_id(fields, item_id)
    return fields


@functools.cache
def engine_files() -> dict[str, Path]:
    """Shipped serving-engine profiles: id -> path."""
    return ids_in(data_dir("engines"))


@functools.cache
def engine(name: str) -> EngineConfig:
    """A shipped serving-engine profile by id (`vllm-v1`)."""
    return engine_yaml.load_engine(_shipped(engine_files(), name, "engine"))


def _release(version: str) -> tuple[int, ...]:
    """`0.14.0` as (0, 14, 0); the leading numbers only (`1.0rc2` is (1, 0))."""
    numbers = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)


def nearest_engine(software: str) -> str | None:
    """The shipped engine profile nearest to the software a measurement names (`name[-version]`,
    the schema's `engine` column), or None when no profile is near (FlexGen, plain PyTorch, ...).

    vLLM's V1 engine became the default in 0.8; TensorRT-LLM served `trtllm-build` engines from its
    C++ runtime before 1.0 and its PyTorch backend since; NVIDIA NIM for LLMs 1.x runs TensorRT-LLM
    engines built for the GPU (its optimized profiles), so it maps to the C++ runtime."""
    found = re.fullmatch(r"(.*?)(?:-b?(\d[\w.]*))?", software.strip().lower())  # llama.cpp-b2824: a build
    family, version = (found.group(1), _release(found.group(2) or "")) if found else ("", ())
    if family == "vllm":
        return "vllm-0.6" if version and version < (0, 8) else "vllm-v1"
    if family == "tensorrt-llm":
        return "tensorrt-llm-cpp" if version and version < (1,) else "tensorrt-llm"
    return {"sglang": "sglang", "nim": "tensorrt-llm-cpp", "llama.cpp": "llama.cpp-server"}.get(family)


def workload_ids() -> list[str]:
    """Names of the shipped workload presets, sorted."""
    return sorted(path.stem for path in data_dir("workloads").glob("*.yaml"))


def workload(name: str) -> Workload:
    """A workload by preset name (`chat`) or by the path of a workload YAML."""
    if name.endswith((".yaml", ".yml")):
        return workload_yaml.load_workload(Path(name))
    path = data_dir("workloads") / f"{name}.yaml"
    if not path.exists():
        raise UnknownIdError("workload", name, workload_ids())
    return workload_yaml.load_workload(path)
