"""Writing results completely or not at all (see `compiler.fileio`: checked destination,
temp file beside it, fsync, atomic rename; OS failures are `InputError`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from compiler.fileio import write_atomic


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write `arrays` to an .npz (keys kept as given, e.g. `hid.spikes`), atomically."""

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    return write_atomic(path, _write)
