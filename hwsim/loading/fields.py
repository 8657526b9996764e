"""Strict reading of YAML mappings: every key is used, every value checked, every error located.

A `Fields` wraps one mapping from one file. Accessors consume keys; `finish()` rejects any key
that no accessor asked for, so a typo in a profile is an error instead of a silent default.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hwsim.base import units
from hwsim.base.errors import InputError, brief

_MISSING = object()
REQUIRED = _MISSING  # pass as `default` to make a field required explicitly
MAX_INTEGER = 2**53  # the largest whole number a float holds exactly: any count beyond it is a typo


def text_of(value: object) -> str | None:
    """A scalar YAML value as text (a source note, a date), None for a list or a mapping."""
    if isinstance(value, (list, dict, tuple, set)):
        return None
    return str(value)


def _finite(value: int | float) -> float | None:
    """`value` as a float, or None when it is NaN, infinite, or an integer too large for a float."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


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
            raise self.error(key, f"must be greater than zero; got {brief(value)}")
        if parsed < 0:
            raise self.error(key, f"must not be negative; got {brief(value)}")
        return parsed

    def number(self, key: str, default: Any = _MISSING, low: float | None = None, high: float | None = None) -> float:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, str):  # YAML 1.1 reads 671e9 (no dot) as text
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a plain number; got {brief(value)}")
        number = _finite(value)
        if number is None:
            raise self.error(key, f"expected a finite number; got {brief(value)}")
        if low is not None and number < low:
            raise self.error(key, f"must be at least {low}; got {brief(value)}")
        if high is not None and number > high:
            raise self.error(key, f"must be at most {high}; got {brief(value)}")
        return number

    def integer(self, key: str, default: Any = _MISSING, low: int | None = 1, high: int = MAX_INTEGER) -> int:
        """A whole number in [low, high]; `high` defaults to the largest integer a float holds exactly,
        fields whose size decides how long a computation runs give a tighter one."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number; got {brief(value)}")
        if low is not None and value < low:
            raise self.error(key, f"must be at least {low}; got {brief(value)}")
        if value > high:
            raise self.error(key, f"must be at most {high:,}; got {brief(value)}")
        return value

    def string(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] | None = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected text; got {brief(value)}")
        if choices is not None and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}; got {brief(value)}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false; got {brief(value)}")
        return value

    def section(self, key: str, default: Any = _MISSING) -> Fields:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return Fields({}, self.source, self._field(key))
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping; got {brief(value)}")
        return Fields(value, self.source, self._field(key))

    def sections(self, key: str, default: Any = _MISSING) -> list[Fields]:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(key, "expected a list of mappings")
        return [Fields(item, self.source, f"{self._field(key)}[{i}]") for i, item in enumerate(value)]

    def notes(self, key: str) -> dict[str, str]:
        """An optional mapping of names to free text (such as `sources`), both read as text."""
        value = self.raw(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping of names to text; got {brief(value)}")
        notes = {str(k): text_of(v) for k, v in value.items()}
        for name, text in notes.items():
            if text is None:
                raise self.error(f"{key}.{name}", f"expected text; got {brief(value[name])}")
        return notes  # type: ignore[return-value]

    def finish(self) -> None:
        """Reject keys nobody asked for: they are typos or fields this version does not know."""
        unknown = [key for key in self.data if key not in self._used]
        if unknown:
            raise self.error(unknown[0], f"unknown field; expected one of {', '.join(sorted(map(str, self._used)))}")


def shown(value: object) -> str:
    """A cell read by pandas or numpy as a user would write it: -1, not np.int64(-1)."""
    import numpy as np

    return brief(value.item() if isinstance(value, np.generic) else value)


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of the file at `path`; a missing file, a folder, unreadable or binary bytes are
    InputErrors naming the file, `what` saying what it should have held."""
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "", "file not found") from None
    except IsADirectoryError:
        raise InputError(source, "", f"is a folder; expected {what}") from None
    except UnicodeDecodeError as exc:
        raise InputError(source, "", f"not UTF-8 text (byte {exc.start}); expected {what}") from None
    except OSError as exc:
        raise InputError(source, "", f"cannot be read ({exc.strerror or exc}); expected {what}") from None


def parse_yaml(text: str, source: str) -> Any:
    """The document `text` holds; malformed YAML (or nesting deeper than any profile) is an InputError."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: 10x faster
    try:
        data = yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        raise InputError(source, "", f"not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise InputError(source, "", "not valid YAML: nested too deeply") from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(source, "", f"not valid YAML: nested too deeply (more than {MAX_DEPTH} levels)")
    return data


MAX_DEPTH = 64  # levels of nested mappings and lists: no profile comes near


def _depth(data: Any) -> int:
    """How deeply `data`'s mappings and lists nest (0 for a plain value), without recursing; a
    mapping or list that YAML aliases share (or that holds itself) is walked once."""
    deepest, stack, seen = 0, [(data, 0)], set()
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict | list) and id(value) not in seen:
            seen.add(id(value))
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def load_yaml(path: Path) -> Fields:
    """Read a YAML file whose top level is a mapping."""
    source = str(path)
    data = parse_yaml(read_text(path, "a YAML mapping"), source)
    if data is None:
        raise InputError(source, "", "the file is empty; expected a mapping at the top level")
    if not isinstance(data, dict):
        raise InputError(source, "", f"expected a mapping at the top level; got {_kind(data)}")
    return Fields(data, source)


def _kind(value: object) -> str:
    """What a YAML value is, in words, for errors."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return f"{type(value).__name__} {brief(value)}"
