"""Progress of the long commands (simulate, plan, report, capacity) on stderr.

On a terminal a tqdm bar shows the count, the elapsed time and, when the total is known, the time
left. Redirected, a bar's carriage returns would fill a log with noise, so instead one plain line is
written at most every `interval_s` (`plan: 57/200 candidates, 12 s elapsed, about 31 s left`) and
a final line when the run took longer than that. A run that ends within the interval writes nothing
at all, so short commands and captured outputs stay clean.

Which runs get a bar: any run long enough to matter, whatever its size. The bar waits `delay_s`
(one second) before it first draws, so a run that ends sooner leaves no trace. A threshold on the
count instead (say 1000 requests) would hide the bar from a slow run of a few hundred long requests.
`--no-progress` turns all of this off.

tqdm is imported only when a bar is drawn: importing the CLI stays fast.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

INTERVAL_S = 10.0  # between two log lines when stderr is not a terminal
DELAY_S = 1.0  # before a terminal bar first draws


def _seconds(duration_s: float) -> str:
    """A duration as people say it: `43 s`, `12 min 5 s`."""
    whole_s = round(duration_s)
    return f"{whole_s} s" if whole_s < 100 else f"{whole_s // 60} min {whole_s % 60} s"


def _is_terminal(stream: IO[str]) -> bool:
    """Whether `stream` is a terminal, where a bar redraws in place; a log or a pipe is not."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _bar_format(total: int | None) -> str:
    """A bar with the time left when the total is known; else the count and the elapsed time."""
    if total:
        return "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}]{postfix}"
    return "{desc}: {n_fmt} {unit} [{elapsed}]{postfix}"


class Progress:
    """Progress of one command's run: `update(done, total)` with counts, or `step(text)` once per
    finished step when the total is not known. Use it as a context manager so the bar closes, or the
    final line is written, even when the run fails."""

    def __init__(self, name: str, total: int | None = None, unit: str = "", enabled: bool = True,
                 stream: IO[str] | None = None, interval_s: float | None = None, delay_s: float = DELAY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.total, self.unit, self.done = name, total, unit, 0
        self._stream = sys.stderr if stream is None else stream
        self._interval_s = INTERVAL_S if interval_s is None else interval_s  # read per run: a module-wide setting
        self._clock = clock
        self._start_s = self._last_line_s = clock()
        self._note = ""
        self._bar: Any = None
        self._enabled = enabled
        if enabled and _is_terminal(self._stream):
            self._bar = self._tqdm(delay_s)

    def _tqdm(self, delay_s: float) -> Any:
        """The terminal bar, drawn to a fixed format so the unit reads as a word (`57/200 candidates`)."""
        from tqdm import tqdm

        return tqdm(total=self.total, desc=self.name, unit=self.unit, file=self._stream, delay=delay_s,
                    bar_format=_bar_format(self.total), dynamic_ncols=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, done: int, total: int | None = None) -> None:
        """`done` of `total` finished: the signature of simulate's and plan's `progress` callbacks."""
        if total is not None and total != self.total:
            self.total = total
            if self._bar is not None:
                self._bar.total, self._bar.bar_format = total, _bar_format(total)
        self.done = done
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
        elif self._enabled:
            self._maybe_log()

    def step(self, text: str = "") -> None:
        """One more step finished, `text` saying which: the signature of report's `progress` callback."""
        self._note = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
        self.update(self.done + 1)

    def close(self) -> None:
        """End the bar; redirected, write the final line when the run took longer than the interval."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._enabled and (elapsed_s := self._clock() - self._start_s) > self._interval_s:
            self._write(f"{self._counted()} in {_seconds(elapsed_s)}")
        self._enabled = False

    def _maybe_log(self) -> None:
        """One line once `interval_s` has passed since the start or the previous line."""
        now_s = self._clock()
        if now_s - self._last_line_s < self._interval_s:
            return
        self._last_line_s = now_s
        elapsed_s = now_s - self._start_s
        line = f"{self._counted()}, {_seconds(elapsed_s)} elapsed"
        if self.total and 0 < self.done < self.total:
            line += f", about {_seconds(elapsed_s * (self.total - self.done) / self.done)} left"
        self._write(line + (f" ({self._note})" if self._note else ""))

    def _counted(self) -> str:
        """`plan: 57/200 candidates`, or `report: 5 steps` when the total is not known."""
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        return f"{self.name}: {count} {self.unit}".rstrip()

    def _write(self, line: str) -> None:
        print(line, file=self._stream, flush=True)


@contextmanager
def timed(name: str, verb: str, enabled: bool = True, stream: IO[str] | None = None,
          interval_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """For a run whose steps cannot be seen (the capacity search): one line, `capacity: searched in
    43 s`, once it is over, when it took longer than the interval and stderr is not a terminal."""
    stream = sys.stderr if stream is None else stream
    interval_s = INTERVAL_S if interval_s is None else interval_s
    start_s = clock()
    yield
    elapsed_s = clock() - start_s
    if enabled and elapsed_s > interval_s and not _is_terminal(stream):
        print(f"{name}: {verb} in {_seconds(elapsed_s)}", file=stream, flush=True)
