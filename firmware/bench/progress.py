"""A one-line progress bar on stderr for benchmark runs that take a while.

Drawn only when the stream is a terminal (a `\\r`-updated line, at most
~10 redraws a second) and only once the run has lasted `delay` seconds, so
short runs and logs (CI, pipes) get nothing at all.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class Progress:
    """`with Progress(total, "label") as p: p.advance()`; total may grow via `add_total`."""

    def __init__(self, total: float, label: str = "", stream: TextIO | None = None,
                 delay: float = 2.0, force: bool = False):
        self.total = float(total)
        self.done = 0.0
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or _isatty(self.stream)
        self._start = time.monotonic()
        self._delay = delay
        self._next = self._start + delay
        self._drawn = False

    def add_total(self, n: float) -> None:
        self.total += n

    def set_label(self, label: str) -> None:
        self.label = label

    def advance(self, n: float = 1.0) -> None:
        self.done += n
        if self.enabled:
            now = time.monotonic()
            if now >= self._next:
                self._next = now + 0.1
                self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The text of the bar (no control characters)."""
        now = time.monotonic() if now is None else now
        share = min(self.done / self.total, 1.0) if self.total > 0 else 0.0
        fill = int(share * WIDTH)
        return f"{self.label} [{'#' * fill}{'.' * (WIDTH - fill)}] {share * 100:3.0f}% {now - self._start:5.1f} s"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.line(now) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:  # leave the terminal on a clean line for the results
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
