"""A stderr progress bar with an ETA for runs that last more than a couple of seconds.

On a terminal the bar is redrawn in place at most `interval_s` apart; elsewhere (a log
file, a pipe) it writes one plain line per tenth of the run, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

AFTER_S = 2.0  # runs shorter than this show no bar
INTERVAL_S = 0.1  # at most ~10 redraws a second on a terminal
WIDTH = 30


def _duration(s: float) -> str:
    """`42 s`, `3 min 05 s`, `1 h 02 min`."""
    s = max(0.0, s)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


class ProgressBar:
    """`bar(done, total)` as a backend's `progress` callback; `close()` ends the line.

    `clock`, `stream` and `tty` can be given (tests); `tty=None` asks the stream;
    `after_s` / `interval_s` default to the module's AFTER_S / INTERVAL_S.
    """

    def __init__(self, unit: str = "steps", *, stream: TextIO | None = None,
                 clock: Callable[[], float] | None = None, tty: bool | None = None,
                 after_s: float | None = None, interval_s: float | None = None) -> None:
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock or time.monotonic
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.after_s = AFTER_S if after_s is None else after_s
        self.interval_s = INTERVAL_S if interval_s is None else interval_s
        self.t0 = self.clock()
        self.first: tuple[float, int] | None = None  # (time, done) of the first report
        self.last_draw = -1e30
        self.last_tenth = -1
        self.shown = False  # something was written
        self.open = False  # a terminal line waits for its newline
        self.finished = False  # the final line was written

    def eta_s(self, done: int, total: int, now: float) -> float | None:
        """Seconds left at the rate seen since the first report (None before a rate exists)."""
        if self.first is None or done >= total:
            return None if done < total else 0.0
        t1, d1 = self.first
        if done <= d1 or now <= t1:
            return None
        return (total - done) * (now - t1) / (done - d1)

    def line(self, done: int, total: int, now: float) -> str:
        """The bar's text: `[#####     ] 400/1000 steps  40%  3 s  ETA 4 s`."""
        frac = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
        bar = "#" * int(WIDTH * frac)
        text = (f"[{bar:<{WIDTH}}] {done}/{total} {self.unit} {100 * frac:3.0f}%  "
                f"{_duration(now - self.t0)}")
        if done >= total:
            return text + "  done"
        eta = self.eta_s(done, total, now)
        return text + ("  ETA --" if eta is None else f"  ETA {_duration(eta)}")

    def __call__(self, done: int, total: int) -> None:
        if self.finished:
            return
        now = self.clock()
        if self.first is None:
            self.first = (now, done)
        if now - self.t0 < self.after_s:
            return
        finished = done >= total
        if self.tty:
            if not finished and now - self.last_draw < self.interval_s:
                return
            self.stream.write(f"\r  {self.line(done, total, now)}\x1b[K")
            self.open = not finished
            if finished:
                self.stream.write("\n")
        else:
            tenth = int(10 * done / total) if total > 0 else 10
            if not finished and (tenth <= self.last_tenth or self.eta_s(done, total, now) is None):
                return
            self.last_tenth = tenth
            self.stream.write(f"  {self.line(done, total, now)}\n")
        self.last_draw = now
        self.shown = True
        self.finished = finished
        self.stream.flush()

    def close(self) -> None:
        """End a bar left open (a run that stopped early) with a newline."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False
