"""Errors meant for people: one line naming where, what, and what was expected."""
from __future__ import annotations

import difflib
import reprlib

MAX_SHOWN = 60  # characters of a bad value an error repeats: enough to recognize it, short enough to read
_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxtuple, _BRIEF.maxdict, _BRIEF.maxset = 2, 4, 4, 4, 4
_BRIEF.maxstring = _BRIEF.maxlong = _BRIEF.maxother = MAX_SHOWN


def brief(value: object) -> str:
    """`value` as written in an error, cut short when long: a 400-digit number, a pasted list, or YAML
    aliases nested into a billion elements (whose full repr would never finish) all stay one short line."""
    text = _BRIEF.repr(value)
    return text if len(text) <= 2 * MAX_SHOWN else f"{text[:2 * MAX_SHOWN - 3]}..."


def one_line(text: object) -> str:
    """`text` with any line break or other unprintable character escaped (a YAML key may hold one),
    so that an error always prints as the one line the CLI promises."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class HwsimError(Exception):
    """Any error caused by the user's input. The CLI prints it on one line and exits 2."""


class InputError(HwsimError):
    """A bad value in a file or on the command line, located by file and field path."""

    def __init__(self, source: str, field: str, message: str):
        self.source = source
        self.field = field
        self.message = message
        where = f"{one_line(source)}: {one_line(field)}" if field else one_line(source)
        super().__init__(f"{where}: {one_line(message)}")

    def __reduce__(self):
        """Rebuild from the three parts, so the error survives a process pool or a copy intact."""
        return type(self), (self.source, self.field, self.message)


class UnknownIdError(HwsimError):
    """An id that names no shipped or given profile; lists the close matches."""

    def __init__(self, what: str, wanted: str, known: list[str]):
        self.what = what
        self.wanted = wanted
        self.known = list(known)
        close = difflib.get_close_matches(wanted, known, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(known))}"
        super().__init__(f"unknown {what} {wanted!r}{hint}")

    def __reduce__(self):
        """Rebuild from what, wanted and known, so the error survives a process pool or a copy intact."""
        return type(self), (self.what, self.wanted, self.known)


class DoesNotFitError(HwsimError):
    """A configuration whose memory needs exceed what the hardware has."""
