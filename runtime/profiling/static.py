"""Static utilization of a compiled program: per core and per chip, used / limit / percent.

Numbers come from `program.cores`, which the pipeline fills from the resource model
(`compiler.passes.resources.core_usage`); nothing is recomputed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.program import Program

RESOURCES = ("neurons", "synapse_bits", "in_axons", "out_axons")


def _percent(used: np.ndarray, limit: float) -> np.ndarray:
    """used / limit in percent; +inf where a zero limit is used at all (reported as None)."""
    used = np.asarray(used, dtype=np.float64)
    if limit > 0:
        return used * 100.0 / limit
    return np.where(used > 0, np.inf, 0.0)


def _num(x: float) -> float | None:
    """A JSON-safe number: rounded to 0.01, None for inf/nan."""
    x = float(x)
    return round(x, 2) if np.isfinite(x) else None


def limits_of(program: Program) -> dict[str, int]:
    """Per-core limits of the program's target, by resource name."""
    lim = program.target.core
    return {r: int(getattr(lim, r)) for r in RESOURCES}


def usage_arrays(program: Program) -> dict[str, np.ndarray]:
    """Per-core used amounts (int64 arrays indexed like `program.cores`) of every resource."""
    cores = program.cores
    out = {"neurons": np.array([c.n_neurons for c in cores], dtype=np.int64)}
    for r in RESOURCES[1:]:
        out[r] = np.array([getattr(c, r) for c in cores], dtype=np.int64)
    return out


def _core_entries(program: Program, used: dict[str, np.ndarray], limits: dict[str, int],
                  pct_mat: np.ndarray) -> list[dict[str, Any]]:
    """Per core: placement, populations, used / limit / percent of each resource, binding one."""
    cores = []
    for i, c in enumerate(program.cores):
        row = pct_mat[i]
        k = int(np.argmax(row))
        entry: dict[str, Any] = {"id": int(c.id), "chip": int(c.chip), "core": int(c.core),
                                 "x": int(c.x), "y": int(c.y),
                                 "populations": {p: int(len(v)) for p, v in c.neurons.items()}}
        for j, r in enumerate(RESOURCES):
            entry[r] = {"used": int(used[r][i]), "limit": limits[r], "percent": _num(row[j])}
        entry["max_percent"] = _num(row[k])
        entry["binding"] = RESOURCES[k]
        cores.append(entry)
    return cores


def _chip_entries(program: Program, used: dict[str, np.ndarray],
                  limits: dict[str, int]) -> list[dict[str, Any]]:
    """Per chip in use: cores used of the chip's cores, and each resource summed over them."""
    chip_ids = np.array([c.chip for c in program.cores], dtype=np.int64)
    cpc = int(program.target.cores_per_chip)
    chips = []
    for ch in np.unique(chip_ids):
        sel = chip_ids == ch
        entry = {"chip": int(ch), "cores_used": int(sel.sum()), "cores_limit": cpc,
                 "cores_percent": _num(100.0 * sel.sum() / cpc) if cpc else None}
        for r in RESOURCES:
            u = int(used[r][sel].sum())
            entry[r] = {"used": u, "limit": limits[r] * cpc,
                        "percent": _num(_percent(np.array([u]), limits[r] * cpc)[0])}
        chips.append(entry)
    return chips


def _totals(used: dict[str, np.ndarray], limits: dict[str, int], pct: dict[str, np.ndarray],
            n: int) -> dict[str, dict[str, Any]]:
    """Per resource: total used, the per-core limit, mean and max percent over the cores."""
    return {r: {"used": int(used[r].sum()), "limit_per_core": limits[r],
                "mean_percent": _num(pct[r].mean()) if n else 0.0,
                "max_percent": _num(pct[r].max()) if n else 0.0} for r in RESOURCES}


def _lower_bound_fields(program: Program, n: int) -> dict[str, Any]:
    """The compile report's lower bound (per resource where known) and cores used over it."""
    out: dict[str, Any] = {}
    lb = program.report.lower_bound
    by_limit = program.report.lower_bound_by_limit
    if isinstance(lb, dict):  # per-resource bounds: the overall bound is their maximum
        by_limit, lb = lb, max(lb.values(), default=None)
    if isinstance(by_limit, dict):
        out["lower_bound_by_resource"] = {k: int(v) for k, v in by_limit.items()
                                          if isinstance(v, (int, float, np.integer, np.floating))}
    out["lower_bound"] = int(lb) if lb is not None else None
    out["cores_over_lower_bound"] = _num(n / lb) if lb else None
    return out


def _fullest_fields(program: Program, pct_mat: np.ndarray) -> dict[str, Any]:
    """The fullest core and its resource (the binding limit), and every core over a limit."""
    if not len(program.cores):
        return {"fullest_core": None, "binding_limit": None, "over_limit_cores": []}
    flat = int(np.argmax(pct_mat))
    ci, ri = divmod(flat, len(RESOURCES))
    return {
        "fullest_core": {"id": int(program.cores[ci].id), "resource": RESOURCES[ri],
                         "percent": _num(pct_mat[ci, ri])},
        # the binding limit: the resource that is closest to its limit on its fullest core
        "binding_limit": RESOURCES[ri],
        "over_limit_cores": [int(program.cores[i].id)
                             for i in np.flatnonzero((pct_mat > 100.0).any(axis=1))],
    }


def static_profile(program: Program) -> dict[str, Any]:
    """Utilization per core and per chip, cores used vs the lower bound, fullest core and
    binding limit."""
    limits = limits_of(program)
    used = usage_arrays(program)
    n = len(program.cores)
    pct = {r: _percent(used[r], limits[r]) for r in RESOURCES}
    pct_mat = np.stack([pct[r] for r in RESOURCES], axis=1) if n else np.zeros((0, len(RESOURCES)))
    chips = _chip_entries(program, used, limits)
    summary: dict[str, Any] = {"cores_used": n, "cores_available": int(program.target.total_cores),
                               "chips_used": len(chips), "chips_available": int(program.target.chips)}
    summary.update(_lower_bound_fields(program, n))
    summary.update(_fullest_fields(program, pct_mat))
    return {"limits": limits, "summary": summary, "totals": _totals(used, limits, pct, n),
            "chips": chips, "cores": _core_entries(program, used, limits, pct_mat)}
