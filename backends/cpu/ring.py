"""Per-population delay ring buffer of synaptic input, one slot per future step.

Slots hold an array or None (no input yet), so the common case of a single incoming
projection costs no zeroing and no copy: the array bincount returned becomes the slot.
"""

from __future__ import annotations

import numpy as np


class InputRing:
    """Input of one population for steps t .. t + length - 1, slot `step % length`."""

    def __init__(self, size: int, length: int):
        self.size, self.length = int(size), int(length)
        self.slots: list[np.ndarray | None] = [None] * self.length
        self._zeros = np.zeros(self.size)

    def take(self, t: int) -> np.ndarray:
        """The input of step t (read-only zeros if none), emptying its slot."""
        i = t % self.length
        a = self.slots[i]
        self.slots[i] = None
        return self._zeros if a is None else a

    def add(self, t: int, acc: np.ndarray) -> None:
        """Add `acc` (size,) to the input of step t; the ring may keep `acc` itself."""
        i = t % self.length
        cur = self.slots[i]
        if cur is None:
            self.slots[i] = acc
        else:
            cur += acc

    def slot(self, t: int) -> np.ndarray:
        """The writable input array of step t (created as zeros when empty)."""
        i = t % self.length
        cur = self.slots[i]
        if cur is None:
            cur = self.slots[i] = np.zeros(self.size)
        return cur
