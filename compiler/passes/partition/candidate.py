"""One partitioner run to a valid `Partition`: method, exact repair, renumbering, stats.

`RUNS` maps each method name to its function; a method answers `Fill` (sequential fill at
its breaks) or `Cores` (its own cores), which `assign` turns into an assignment that holds
every limit, then packs its partly used cores into shared ones (`pack`). With `bound`
set (auto's race), a candidate that needs more cores raises `Worse` as soon as that
shows (before packing, with one core of slack per population: packing saves at most
about one core per population's remainder).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ...errors import FitError
from ..resources import Usage, traffic_stats
from .blocks import greedy, tile
from .context import Context, Cores, Fill, Partition, Worse
from .graph import graph
from .pack import pack
from .repair import renumber, repair
from .sequential import fill_cores, sequential
from .spill import spill

RUNS: dict[str, Callable[[Context], Fill | Cores]] = {
    "sequential": sequential, "greedy": greedy, "graph": graph, "tile": tile}

FILL_GUARD = 1.1  # a method's alternative fill runs when it needs more than this x LB
SHARED_POPS = 0.02  # a fill without breaks is tried with at least this many populations
# per core (each population boundary can save at most about one core)

Assigned = tuple[np.ndarray, int, Usage]  # per-gid cores, cores, exact usage


def run_candidate(ctx: Context, method: str, bound: int | None = None) -> Partition:
    """Run `method` and make its answer valid; Worse when it needs more than `bound` cores."""
    t0 = time.perf_counter()
    ctx.bound = bound
    cg, n, usage = _assign_answer(ctx, RUNS[method](ctx), bound)
    cg, n, old_ids = renumber(cg)
    usage = usage.relabelled(old_ids)
    core_of = ctx.split(cg)
    stats = traffic_stats(ctx.net, core_of, usage)
    stats["time_s"] = time.perf_counter() - t0
    stats["cores"] = n
    stats.update(ctx.info)
    ctx.info = {}
    if stats.get("fill_kept", {}).get("kept"):
        method = f"{method}->sequential"
    return Partition(core_of, n, usage, method, stats)


def assign(ctx: Context, answer: Fill | Cores, bound: int | None) -> Assigned:
    """A method's answer -> an assignment with every limit held (repaired, packed)."""
    usage = None
    slack = pack_slack(ctx) if bound is not None else 0
    ctx.bound = None if bound is None else bound + slack
    if isinstance(answer, Fill):
        ctx.keep_table = answer.shared and len(ctx.pops) > 1
        try:
            cg, n, usage = fill_cores(ctx, answer.breaks)
            if bound is not None and n > bound + slack:
                raise Worse(n)
            cg, n, usage = _share(ctx, cg, n, usage)
            if ctx.keep_table:
                cg, n, usage = _shared_fill(ctx, (cg, n, usage))
        finally:
            ctx.keep_table, ctx.table = False, None
    else:
        if bound is not None and answer.count > bound + slack:
            raise Worse(answer.count)
        cg, n, usage = _share(ctx, answer.cores, answer.count, None)
    if bound is not None and n > bound:
        raise Worse(n)
    return cg, n, usage


def _share(ctx: Context, cg: np.ndarray, n: int, usage: Usage | None) -> Assigned:
    """Repair, then spill and pack the partly used cores (`spill`, `pack`)."""
    return pack(ctx, *spill(ctx, *repair(ctx, np.asarray(cg, np.int32), n, usage)))


def pack_slack(ctx: Context) -> int:
    """Cores a candidate may exceed the bound by before packing: one per population
    when several populations may share cores."""
    return len(ctx.pops) if len(ctx.pops) > 1 else 0


def _shared_fill(ctx: Context, aligned: Assigned) -> Assigned:
    """The fill without population breaks (consecutive populations share cores), shared
    and packed, when it needs fewer cores than the `aligned` fill's; else `aligned`."""
    if aligned[1] <= int(ctx.lb["cores"]) or len(ctx.pops) < SHARED_POPS * aligned[1]:
        return aligned
    info = ctx.info.pop("packed", None), ctx.info.pop("spilled", None)
    try:
        shared = _share(ctx, *fill_cores(ctx, None))
    except (Worse, FitError):  # e.g. a neuron whose targets the shared cores spread too far
        shared = None
    if shared is None or shared[1] >= aligned[1]:
        for key, val in zip(("packed", "spilled"), info, strict=True):
            if val is not None:
                ctx.info[key] = val
        return aligned
    ctx.info["shared_fill"] = {"cores": shared[1], "aligned_cores": aligned[1]}
    return shared


def _assign_answer(ctx: Context, answer: Fill | Cores, bound: int | None) -> Assigned:
    """`_assign_refined`, and, when that needs more than FILL_GUARD x the lower bound, a
    method's alternative fill (`Cores.fill`) too: the fewer cores kept (ties: the
    method's own)."""
    alt = answer.fill if isinstance(answer, Cores) else None
    best = _assign_refined(ctx, answer, bound)
    if alt is None or best[1] <= FILL_GUARD * int(ctx.lb["cores"]):
        return best  # within FILL_GUARD of the bound: within it of any fill too
    other = assign(ctx, alt, bound)
    kept = other[1] < best[1]
    ctx.info["fill_kept"] = {"cores": other[1], "method_cores": best[1], "kept": kept}
    return other if kept else best


def _assign_refined(ctx: Context, answer: Fill | Cores, bound: int | None) -> Assigned:
    """`assign`, and for refined cores also their unrefined ones when the refined need
    more cores than those (each unrefined part takes >= 1 core); keeps the fewer cores
    (ties: refined)."""
    unrefined = answer.unrefined if isinstance(answer, Cores) else None
    try:
        best = assign(ctx, answer, bound)
    except Worse:
        if unrefined is None:
            raise
        best = None
    del answer
    if unrefined is None:
        return best
    info = ctx.info.setdefault("graph_refine", {})
    info["kept"] = True
    if best is not None and best[1] <= unrefined.count + 1:
        return best
    try:
        other = assign(ctx, unrefined, bound)
    except Worse:
        if best is None:
            raise
        return best
    if best is None or other[1] < best[1]:
        info["kept"] = False
        return other
    return best
