"""Population `positions`: where each neuron sits in the model's space (1-3 dimensions).

    positions: {grid: [1000, 1000]}   # neuron i at np.unravel_index(i, grid) (row-major,
                                      # like a Lava process of that shape)
    positions: {file: xy.npy}         # float array (size, d), d = 1..3 (or (size,) for 1-D)
    positions: {data: array}          # the same in memory (Python builder; bare arrays too)

Positions are partitioning hints only (the `tile` partitioner cuts positioned lif
populations into compact tiles); they never change what the network computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .checks import INVALID, Checker, array_field, is_int, show

POSITION_KEYS = ("grid", "file", "data")
MAX_DIMS = 3
ALLOWED = "{grid: [n1, n2, ...]} | {file: positions.npy} (float array (size, d), d = 1..3)"


def population_positions(ck: Checker, spec: Any, path: str, size: int | Any) -> np.ndarray | Any:
    """Validated (size, d) float64 positions of one population (INVALID after an error)."""
    if isinstance(spec, (np.ndarray, list, tuple)):
        spec = {"data": spec}
    n_err = len(ck.errors.items)
    m = ck.mapping(spec, path, POSITION_KEYS, what="a mapping {grid | file}")
    if m is INVALID or len(ck.errors.items) > n_err:
        return INVALID
    if "grid" in m:
        if "file" in m or "data" in m:
            return ck.error(path, "give positions either as 'grid' or as an array", ALLOWED)
        return _grid(ck, m["grid"], f"{path}.grid", size)
    arr = array_field(ck, m, path, "positions array")
    if arr is INVALID:
        return INVALID
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not 1 <= arr.shape[1] <= MAX_DIMS or arr.dtype.kind not in "biuf":
        return ck.error(path, f"found an array of shape {arr.shape} and type {arr.dtype}; "
                        "expected numbers of shape (size, d) with d = 1..3", ALLOWED)
    if size is not INVALID and arr.shape[0] != size:
        return ck.error(path, f"found {arr.shape[0]} positions; the population has {size} "
                        "neurons", f"an array of shape ({size}, d)")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        return ck.error(path, f"neuron {bad} has a non-finite position {arr[bad].tolist()}",
                        "finite numbers")
    return arr


def _grid(ck: Checker, value: Any, path: str, size: int | Any) -> np.ndarray | Any:
    if isinstance(value, Mapping) or not isinstance(value, (list, tuple)) or \
            not 1 <= len(value) <= MAX_DIMS or not all(is_int(v) and v >= 1 for v in value):
        return ck.error(path, f"found {show(value)}; expected a list of 1 to 3 positive "
                        "integers", "[n1, n2, ...] whose product is the population size")
    dims = tuple(int(v) for v in value)
    if size is not INVALID and int(np.prod(dims)) != size:
        return ck.error(path, f"grid {list(dims)} holds {int(np.prod(dims))} neurons; the "
                        f"population has {size}", "[n1, n2, ...] whose product is the size")
    idx = np.unravel_index(np.arange(int(np.prod(dims)), dtype=np.int64), dims)
    return np.stack(idx, axis=1).astype(np.float64)
