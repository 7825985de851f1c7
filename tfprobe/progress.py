"""Progress bars that suit where they are shown.

On a terminal the bar is redrawn in place (a carriage return, no colour codes).
Anywhere else (a log file, a pipe, CI, a notebook cell captured to text) it
prints plain lines, at most one per :attr:`ProgressBar.log_every` share of the
total (or every :attr:`ProgressBar.log_seconds` when the total is unknown),
so a log holds a few readable lines instead of hundreds of redraws.

``keras.utils.Progbar`` is not used: it decides that every POSIX process has a
terminal and writes ANSI colour codes and carriage returns into log files.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _value(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class ProgressBar:
    """Show progress through ``total`` items.

    Parameters
    ----------
    total : int or None
        Number of items, when known.
    unit : str
        What an item is ("stimulus", "batch", "step"), shown after the counts.
    stream : text stream, optional
        Where to write (default ``sys.stdout``).
    enabled : bool
        False makes every call a no-op.
    interactive : bool, optional
        Redraw in place; default: whether ``stream`` is a terminal.

    Examples
    --------
    >>> bar = ProgressBar(3, unit="batch", stream=sys.stdout, interactive=False)
    >>> for done in (1, 2, 3):
    ...     bar.update(done, loss=0.5)                      # doctest: +SKIP
    """

    #: Non-interactive streams get one line per this share of a known total.
    log_every = 0.1
    #: ... and one line per this many seconds when the total is unknown.
    log_seconds = 30.0
    #: Shortest interval between redraws on a terminal.
    redraw_seconds = 0.1
    width = 24

    def __init__(
        self,
        total: int | None,
        unit: str = "step",
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        interactive: bool | None = None,
    ) -> None:
        self.total = None if total is None else int(total)
        self.unit = unit
        self.stream = sys.stdout if stream is None else stream
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty()) if interactive is None else interactive
        self.start = time.perf_counter()
        self.done = 0
        self._last_draw = float("-inf")
        self._last_logged_share = -1.0
        self._line_width = 0
        self._closed = False

    def line(self, values: dict[str, float] | None = None) -> str:
        """The text of the bar for the current state (no carriage return, no newline)."""
        elapsed = time.perf_counter() - self.start
        parts = []
        if self.total:
            share = min(1.0, self.done / self.total)
            filled = round(share * self.width)
            parts.append(f"{self.done:>{len(str(self.total))}}/{self.total} {self.unit}")
            parts.append("[" + "=" * filled + "." * (self.width - filled) + f"] {share:4.0%}")
            timing = _duration(elapsed)
            if 0 < self.done < self.total:
                timing += f", {_duration(elapsed / self.done * (self.total - self.done))} left"
            parts.append(timing)
        else:
            parts.append(f"{self.done} {self.unit}")
            parts.append(_duration(elapsed))
        if self.done and elapsed > 0:
            parts.append(f"{self.done / elapsed:.3g} {self.unit}/s")
        if values:
            parts.append(", ".join(f"{name} {_value(value)}" for name, value in values.items()))
        return "  ".join(parts)

    def update(self, done: int, **values: float) -> None:
        """Record that ``done`` items are finished, with optional named values (loss, accuracy, ...)."""
        if not self.enabled or self._closed:
            return
        self.done = int(done)
        finished = self.total is not None and self.done >= self.total
        now = time.perf_counter()
        if self.interactive:
            if finished or now - self._last_draw >= self.redraw_seconds:
                self._draw(values)
                self._last_draw = now
            if finished:
                self.close(values)
            return
        if self.total:
            share = self.done / self.total
            due = finished or share - self._last_logged_share >= self.log_every
        else:
            due = now - self._last_draw >= self.log_seconds
        if due:
            self.stream.write(self.line(values) + "\n")
            self.stream.flush()
            self._last_draw = now
            self._last_logged_share = self.done / self.total if self.total else 0.0
        if finished:
            self._closed = True

    def _draw(self, values: dict[str, float]) -> None:
        text = self.line(values)
        padding = " " * max(0, self._line_width - len(text))
        self.stream.write("\r" + text + padding)
        self.stream.flush()
        self._line_width = len(text)

    def close(self, values: dict[str, float] | None = None) -> None:
        """End the bar (the last state stays on screen); called by itself when the total is reached."""
        if not self.enabled or self._closed:
            return
        self._closed = True
        if self.interactive:
            self._draw(values or {})
            self.stream.write("\n")
        elif self.done and self._last_logged_share < (self.done / self.total if self.total else float("inf")):
            self.stream.write(self.line(values) + "\n")
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
