"""Partitioners: assign every lif neuron to a neuro-core so that all per-core limits hold.

One module per method, all ending with the same exact check-and-repair (`repair`):

- `sequential`: fill cores in population and index order (like Lava's mapper).
- `blocks`: `greedy` (equal index blocks per population, like nengo-loihi) and `tile`
  (near-square tiles of positioned populations, `tiles`).
- `graph`: METIS k-way partition of the neuron graph, smoothed by `refine`.
- `auto` (default): a race of the above that keeps the fewest packets per spike within
  2 % of the fewest cores, never more cores than sequential.

`candidate` runs one method to a valid `Partition`; `context` holds what all methods
share; `table` is sequential fill's sorted synapse table. A method that cannot finish (a
neuron's targets spread over too many cores) falls back to sequential and says so in
`method` and `stats["fallback"]`.
"""

from __future__ import annotations

import time

import numpy as np

from ...errors import Diagnostic, FitError, InputError
from ...ir import NetworkIR
from ...target import Target
from ..resources import check_fit, core_usage
from .auto import CORE_TOLERANCE, PROMISING_CUT_RATIO, core_limit, pick, race
from .candidate import RUNS, run_candidate
from .context import Context, Partition, Worse
from .graph import graph_cost_estimate, locality_probe
from .tiles import tile_blocks

METHODS = ("auto", *RUNS)  # auto races the methods of RUNS (candidate.py)

__all__ = [
    "CORE_TOLERANCE", "METHODS", "PROMISING_CUT_RATIO", "RUNS", "Context", "Partition",
    "Worse", "core_limit", "graph_cost_estimate", "locality_probe", "partition", "pick",
    "tile_blocks",
]


def partition(net: NetworkIR, target: Target, method: str = "auto",
              time_budget_s: float = 30.0) -> Partition:
    """Assign every lif neuron to a core so all limits of `target` hold (see module doc).

    FitError when the network cannot fit (checked before any method runs); `time_budget_s`
    bounds auto's race (sequential always runs). A method whose partition needs more
    cores than the target has is followed by auto's race, and the fewer cores kept, so
    placement reports a misfit only for the best partition found.
    """
    if method not in METHODS:
        raise InputError(Diagnostic(f"unknown partitioner {method!r}", field="partitioner",
                                    allowed=", ".join(METHODS)))
    t0 = time.perf_counter()
    lb = check_fit(net, target)
    ctx = Context(net, target, lb)
    if ctx.n == 0:
        return _empty(ctx, method, dict(lb))
    if method == "auto":
        best = race(ctx, time_budget_s, t0)
    else:
        best = _single(ctx, method)
        if best.n_cores > target.total_cores:  # the network may still fit: try them all
            other = race(ctx, time_budget_s, time.perf_counter())
            if other.n_cores < best.n_cores:
                other.stats["fallback"] = (f"{best.method} needs {best.n_cores} cores > "
                                           f"{target.total_cores} of target '{target.name}'")
                other.method = f"{best.method}->{other.method}"
                best = other
    best.stats["lower_bound"] = dict(lb)
    best.stats["cores_over_lb"] = best.n_cores / max(lb["cores"], 1)
    best.stats["total_time_s"] = time.perf_counter() - t0
    return best


def _single(ctx: Context, method: str) -> Partition:
    """One method; when it spread some neuron's targets too far (FitError), sequential,
    which keeps populations aligned to cores, and the reason in stats["fallback"]."""
    try:
        return run_candidate(ctx, method)
    except FitError as e:
        if method == "sequential":
            raise
        best = run_candidate(ctx, "sequential")
        best.method = f"{method}->sequential"
        best.stats["fallback"] = str(e)
        return best


def _empty(ctx: Context, method: str, lb: dict) -> Partition:
    """The partition of a network without lif neurons: no cores."""
    usage = core_usage(ctx.net, {}, 0, ctx.target)
    return Partition({p: np.zeros(0, np.int32) for p in ctx.pops}, 0, usage, method,
                     {"lower_bound": lb, "time_s": 0.0, "synapses_cut": 0,
                      "packets_per_spike": 0.0})
