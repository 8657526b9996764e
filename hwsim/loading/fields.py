"""Strict reading of YAML mappings: every key is used, every value checked, every error located.

A `Fields` wraps one mapping from one file. Accessors consume keys; `finish()` rejects any key
that no accessor asked for, so a typo in a profile is an error instead of a silent default.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from hwsim.base import units
from hwsim.base.errors import InputError

_MISSING = object()
REQUIRED = _MISSING  # pass as `default` to make a field required explicitly


class Fields:
    """One mapping read from `source`, at field path `path` within it (empty at the top level).

    Every accessor takes a key and an optional `default`; without one the key is required.
    Errors are `InputError`s naming the file and the dotted field path.
    """

    def __init__(self, data: dict, source: str, path: str = ""):
        self.data = data
        self.source = source
        self.path = path
        self._used: set[str] = set()

    def error(self, key: str, message: str) -> InputError:
        return InputError(self.source, self._field(key), message)

    def _field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        return list(self.data)

    def __iter__(self) -> Iterator[str]:
        """The keys in file order, as iterating the mapping gives them; iterating marks none as used."""
        return iter(list(self.data))

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self._used.add(key)
        if key not in self.data or self.data[key] is None:
            if default is _MISSING:
                raise self.error(key, "missing required field")
            return default
        return self.data[key]

    def quantity(self, key: str, dimension: str, default: Any = _MISSING, positive: bool = True) -> float:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        try:
            parsed = units.parse(value, dimension)
        except units.UnitError as exc:
            raise self.error(key, str(exc)) from None
        if positive and parsed <= 0:
            raise self.error(key, f"must be greater than zero; got {value!r}")
        return parsed

    def number(self, key: str, default: Any = _MISSING, low: float | None = None, high: float | None = None) -> float:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, str):  # YAML 1.1 reads 671e9 (no dot) as text
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a plain number; got {value!r}")
        if low is not None and value < low:
            raise self.error(key, f"must be at least {low}; got {value!r}")
        if high is not None and value > high:
            raise self.error(key, f"must be at most {high}; got {value!r}")
        return float(value)

    def integer(self, key: str, default: Any = _MISSING, low: int | None = 1) -> int:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number; got {value!r}")
        if low is not None and value < low:
            raise self.error(key, f"must be at least {low}; got {value!r}")
        return value

    def string(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] | None = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected text; got {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}; got {value!r}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false; got {value!r}")
        return value

    def section(self, key: str, default: Any = _MISSING) -> Fields:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return Fields({}, self.source, self._field(key))
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping; got {value!r}")
        return Fields(value, self.source, self._field(key))

    def sections(self, key: str, default: Any = _MISSING) -> list[Fields]:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(key, "expected a list of mappings")
        return [Fields(item, self.source, f"{self._field(key)}[{i}]") for i, item in enumerate(value)]

    def finish(self) -> None:
        """Reject keys nobody asked for: they are typos or fields this version does not know."""
        unknown = [key for key in self.data if key not in self._used]
        if unknown:
            raise self.error(unknown[0], f"unknown field; expected one of {', '.join(sorted(self._used))}")


def load_yaml(path: Path) -> Fields:
    """Read a YAML file whose top level is a mapping."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise InputError(str(path), "", "file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(str(path), "", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "", "expected a mapping at the top level")
    return Fields(data, str(path))
