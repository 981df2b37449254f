"""A text progress bar on stderr for long CLI steps: redrawn in place on a terminal, a line
every tenth of the way otherwise (logs stay short)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO

WIDTH = 30


class Progress:
    """Call with ``(done, total)``; use as a context manager to end the line."""

    def __init__(self, label: str, unit: str, stream: IO[str] | None = None) -> None:
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.shown_tenth = -1
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        tenth = int(share * 10)
        if not self.tty and tenth == self.shown_tenth:
            return
        self.shown_tenth = tenth
        filled = int(share * WIDTH)
        bar = "#" * filled + "." * (WIDTH - filled)
        elapsed = time.monotonic() - self.started
        text = f"{self.label} [{bar}] {done}/{total} {self.unit} ({elapsed:.0f} s)"
        self.stream.write(("\r" + text) if self.tty else text + "\n")
        self.stream.flush()
        self.drawn = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
