"""The auto method: a race of candidates that keeps the fewest packets per spike.

Candidates run in order: tile (when some population has positions), graph (if its
estimated time fits the budget, or, when over budget by at most PROMISING_BUDGETS
budgets, if `graph.locality_probe` predicts a clear win over sequential that no earlier
candidate already has), then sequential (always), then greedy (if time is left). A
candidate is abandoned as soon as it needs more cores than the current limit
(`core_limit`: CORE_TOLERANCE above the fewest so far, never above sequential's). Of the
candidates within that limit, `pick` keeps the fewest packets per spike, so auto never
needs more cores than sequential.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ...errors import FitError
from .candidate import run_candidate
from .context import Context, Partition, Worse
from .graph import graph_cost_estimate, locality_probe

PROMISING_CUT_RATIO = 0.5  # graph is "promising" when its probe cut < this x sequential's
PROMISING_BUDGETS = 4.0  # a promising graph may take up to this many time budgets
CORE_TOLERANCE = 0.02  # candidates within 2 % of the fewest cores compete on packets
GREEDY_COST = 1.5  # greedy's estimated time, in units of sequential's


@dataclass
class _Race:
    """The state of one auto run: candidates kept, and what each one did."""

    ctx: Context
    budget: float
    t0: float
    kept: list[Partition] = field(default_factory=list)
    cands: dict = field(default_factory=dict)  # per method: its summary, or why it stopped
    seq_time: float = 0.0
    seq_cores: int | None = None


def race(ctx: Context, time_budget_s: float, t0: float) -> Partition:
    """auto's choice among the candidates; `t0`: when the budget started."""
    r = _Race(ctx, time_budget_s, t0)
    ctx.racing = True
    order = ("tile",) if has_positions(ctx) else ()
    for m in order + ("graph", "sequential", "greedy"):
        _enter(r, m)
    best = pick(r.kept, r.seq_cores)
    if best.n_cores > ctx.target.total_cores:  # fewest cores first when the target is short
        best = min(r.kept, key=lambda c: c.n_cores)
    best.method = f"auto:{best.method}"
    best.stats["candidates"] = r.cands
    return best


def _enter(r: _Race, m: str) -> None:
    """Run candidate `m` unless its estimated time does not fit what is left."""
    tc = time.perf_counter()
    left = r.budget - (time.perf_counter() - r.t0)
    probe = None
    est = None
    if m == "graph":
        est = graph_cost_estimate(r.ctx.net)
        if left < est <= PROMISING_BUDGETS * r.budget:
            left, probe = _probe_graph(r, est, left)
    elif m == "greedy":
        est = GREEDY_COST * r.seq_time
    if est is not None and est > left:
        r.cands[m] = {"skipped": f"estimated {est:.1f} s > {left:.1f} s left"}
        if probe is not None:
            r.cands[m]["probe"] = probe
        return
    c = _attempt(r, m, tc)
    if c is None:
        return
    if m == "sequential":
        r.seq_cores = c.n_cores
    r.cands[m] = _summary(c)
    if probe is not None:
        r.cands[m]["probe"] = probe
    r.kept.append(c)


def _probe_graph(r: _Race, est: float, left: float) -> tuple[float, dict]:
    """An over-budget graph: runs anyway (returns `est` as the time left) when a cheap
    probe predicts a clear win over sequential that no earlier candidate already got
    (sequential is then abandoned early, so the total stays small). The probe's
    sequential cut estimates id-order blocks', comparable to a candidate's real one."""
    g, q = locality_probe(r.ctx, int(r.ctx.lb["cores"]))
    probe = {"graph_cut": round(g, 3), "sequential_cut": round(q, 3)}
    won = any(c.stats["synapses_cut_fraction"] < PROMISING_CUT_RATIO * q for c in r.kept)
    if g < PROMISING_CUT_RATIO * q and not won:
        left = est
    elif won:
        probe["tiles_won"] = True
    return left, probe


def _attempt(r: _Race, m: str, tc: float) -> Partition | None:
    """Candidate `m` bounded by the current core limit; None (and why, in `cands`) when it
    failed or was abandoned. Sequential's failure is the network's: it is raised."""
    try:
        return run_candidate(r.ctx, m, bound=core_limit(r.kept, r.seq_cores))
    except FitError as e:  # e.g. a neuron whose targets this method spread too far
        if m == "sequential":
            raise
        r.cands[m] = {"failed": str(e)}
    except Worse as e:
        r.cands[m] = {"abandoned": f"needs at least {e.args[0]} cores",
                      "time_s": time.perf_counter() - tc}
    finally:
        if m == "sequential":
            r.seq_time = time.perf_counter() - tc
    return None


def has_positions(ctx: Context) -> bool:
    """Whether some lif population declares neuron positions (tile can run)."""
    return any(ctx.net.populations[p].positions is not None for p in ctx.pops)


def core_limit(kept: list[Partition], seq_cores: int | None) -> int | None:
    """Most cores a candidate may use and still be kept: within CORE_TOLERANCE of the
    fewest so far, and never more than sequential's."""
    if not kept:
        return None
    fewest = min(c.n_cores for c in kept)
    limit = fewest + int(fewest * CORE_TOLERANCE)
    return limit if seq_cores is None else min(limit, max(seq_cores, fewest))


def pick(kept: list[Partition], seq_cores: int | None) -> Partition:
    """auto's choice: fewest packets per spike among the candidates within the core limit
    (ties: fewer cores, then the earlier candidate)."""
    limit = core_limit(kept, seq_cores)
    ok = [c for c in kept if c.n_cores <= limit]
    return min(ok, key=lambda c: (c.stats["packets_per_spike"], c.n_cores))


def _summary(p: Partition) -> dict:
    out = {"cores": p.n_cores, "packets_per_spike": p.stats["packets_per_spike"],
           "synapses_cut": p.stats["synapses_cut"], "time_s": p.stats["time_s"]}
    if "graph_refine" in p.stats:
        out["refine"] = p.stats["graph_refine"]
    return out
