"""Errors meant for people: one line naming where, what, and what was expected."""
from __future__ import annotations

import difflib


class HwsimError(Exception):
    """Any error caused by the user's input. The CLI prints it on one line and exits 2."""


class InputError(HwsimError):
    """A bad value in a file or on the command line, located by file and field path."""

    def __init__(self, source: str, field: str, message: str):
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


class UnknownIdError(HwsimError):
    """An id that names no shipped or given profile; lists the close matches."""

    def __init__(self, what: str, wanted: str, known: list[str]):
        close = difflib.get_close_matches(wanted, known, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(known))}"
        super().__init__(f"unknown {what} {wanted!r}{hint}")


class DoesNotFitError(HwsimError):
    """A configuration whose memory needs exceed what the hardware has."""
