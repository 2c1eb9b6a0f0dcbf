"""The exact check every method ends with: split each core over a limit until none is.

Each round counts exact usage (`resources.usage_with_traffic`) and splits every core
over a limit into ceil(worst usage / cap) equal pieces; splitting only shrinks cores, so
it terminates. A core of one neuron over a limit is a FitError naming the neuron.
"""

from __future__ import annotations

import numpy as np

from ...errors import Diagnostic, FitError
from ..resources import LIMITS, Usage, runs, usage_with_traffic
from .context import Context

MAX_ROUNDS = 64


def repair(ctx: Context, cg: np.ndarray, n_cores: int, usage: Usage | None = None,
           max_rounds: int = MAX_ROUNDS) -> tuple[np.ndarray, int, Usage]:
    """Split every core over a limit into ceil(worst ratio) pieces until all limits hold.

    Returns (per-gid cores, cores, exact usage); `usage`: the exact usage of `cg`, when
    already counted.
    """
    for _ in range(max_rounds):
        if usage is None:
            usage = usage_with_traffic(ctx.net, ctx.split(cg), n_cores, ctx.target)
        bad = usage.bad_cores(ctx.target)
        if not bad.size:
            return cg, n_cores, usage
        ratio = np.max([getattr(usage, lim)[bad] / getattr(ctx.cap, lim) for lim in LIMITS],
                       axis=0)
        pieces = np.zeros(n_cores, np.int64)
        pieces[bad] = np.maximum(2, np.ceil(ratio)).astype(np.int64)
        n_cores = _split(ctx, cg, n_cores, pieces, usage)
        usage = None
    raise FitError(f"partition repair did not converge after {max_rounds} rounds")


def _split(ctx: Context, cg: np.ndarray, n_cores: int, pieces: np.ndarray,
           usage: Usage) -> int:
    """Cut each core c with pieces[c] > 0 into that many equal runs of its neurons (in
    gid order), the first keeping id c, the others new ids; updates `cg`, returns the
    new core count."""
    sel = np.flatnonzero(pieces[cg] > 0)
    cores = cg[sel]
    o = np.argsort(cores, kind="stable")
    sel, cores = sel[o], cores[o]
    starts, lengths = runs(cores)
    if (lengths == 1).any():
        c = int(cores[starts[lengths == 1][0]])
        gid = int(sel[starts[lengths == 1][0]])
        over = [lim for lim in LIMITS if getattr(usage, lim)[c] > getattr(ctx.cap, lim)]
        raise _limit_error(ctx, gid, over[0], int(getattr(usage, over[0])[c]))
    run = np.repeat(np.arange(starts.size), lengths)
    pos = np.arange(sel.size) - np.repeat(starts, lengths)
    m = np.minimum(pieces[cores], np.repeat(lengths, lengths))
    piece = pos * m // np.repeat(lengths, lengths)  # 0 .. m-1, equal sizes
    extra_base = n_cores + np.concatenate(([0], np.cumsum(m[starts] - 1)))[:-1]
    cg[sel] = np.where(piece == 0, cores, extra_base[run] + piece - 1)
    return n_cores + int((m[starts] - 1).sum())


def _limit_error(ctx: Context, gid: int, limit: str, value: int) -> FitError:
    pop, i = ctx.population_of(gid)
    capv = getattr(ctx.cap, limit)
    msg = (f"population '{pop}' neuron {i} alone needs {limit} {value} > "
           f"{capv} on target '{ctx.target.name}'; remedy: reduce its fan-out or fan-in, "
           f"split the population, or use a bigger target")
    return FitError(Diagnostic.at(ctx.net.loc(f"populations.{pop}"), msg,
                                  allowed=f"{limit} <= {capv}"))


def renumber(cg: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Relabel cores 0..n-1 in order of their first (lowest-id) neuron, dropping empty ids.

    Returns the new per-gid cores, n, and the old id of each new id.
    """
    if cg.size == 0:
        return cg, 0, np.zeros(0, np.int64)
    ids, first = np.unique(cg, return_index=True)
    order = ids[np.argsort(first)]
    lut = np.full(int(ids.max()) + 1, -1, np.int32)
    lut[order] = np.arange(order.size, dtype=np.int32)
    return lut[cg], int(order.size), order
