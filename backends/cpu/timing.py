"""Where a simulation step's time goes: seconds per part, summed over a run (`--timing`)."""

from __future__ import annotations

import time

PARTS = ("delivery", "neurons", "learning", "probes", "host_input")


class StepClock:
    """Accumulates wall seconds per part; `lap(part)` charges the time since the last lap."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {p: 0.0 for p in PARTS}
        self._last = time.perf_counter()

    def start(self) -> None:
        """Begin a new lap without charging the time before it to any part."""
        self._last = time.perf_counter()

    def lap(self, part: str) -> None:
        now = time.perf_counter()
        self.parts[part] += now - self._last
        self._last = now
