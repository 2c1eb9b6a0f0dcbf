"""Building a network on the ranks of a distributed run without ever holding it whole.

`describe` parses a network file (or builder) with no synapses: a skeleton NetworkIR
(populations, probes, phases; every projection empty) and each projection's rule. From
those alone `decompose` cuts the LIF neurons into K contiguous runs of about equal
expected cost (in-degree from the rule times the pre population's expected rate),
aligned to the frontend's blocks of post neurons (`synapses.POST_BLOCK`). `build_rank`
then parses the file again drawing only the synapses onto rank r's neurons (compiler/
frontend/draws.py: every random draw is per post block, so these are exactly the
synapses the whole build has there) and returns the rank's shard as the mpi backend runs
it: (Program, Decomposition, projection facts). The facts that depend on a whole
projection (sign mode, effective weight range, one delay or several, the fixed weight
range check) come from the rank's own synapses and one `reduce` over the ranks.

Networks that only the whole build can make are refused with an InputError naming the
field: list connectivity, local (positions) connectivity and weight matrices (`file:` /
`data:`), NIR graphs, compiled programs and already built NetworkIRs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .ir import NetworkIR
from .lava_weights import EXCITATORY, INHIBITORY, MIXED, effective_weights
from .program import Program
from .sharding import (
    EVENT_COST,
    NEURON_COST,
    Decomposition,
    ProjectionFacts,
    balanced_cuts,
    expected_rate,
    owners,
)

Reduce = Callable[[np.ndarray, str], np.ndarray]  # (values, "min" | "max") over all ranks
WHOLE_ONLY = "use --build whole (build the whole network in one process)"


@dataclass
class Description:
    """A network as given (its spec and where it came from), its skeleton (no synapses)
    and each projection's rule (`draws.DrawScope.rules`); picklable for launched ranks."""

    spec: Any
    source_file: str | None
    locations: dict[str, Any] | None
    base_dir: str
    target: str | None
    skeleton: NetworkIR
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    partitioner: str = "sequential"  # what each rank runs on its own neurons

    def parse(self, posts: dict[str, tuple[int, int]] | None) -> tuple[NetworkIR, dict]:
        """The network with only the synapses onto `posts` (None: no synapses; random
        projections in the block-major order they are drawn in, not sorted by (pre,
        post): the ranks sort their synapses themselves), and the rules the parse saw."""
        from .frontend.draws import drawing_posts
        from .frontend.network import network_from_dict

        with drawing_posts(posts, sort=False) as scope:
            net = network_from_dict(self.spec, source_file=self.source_file,
                                    locations=self.locations, base_dir=self.base_dir)
        return net, scope.rules

    def skeleton_program(self) -> Program:
        """A Program of the skeleton (what rank 0 assembles results with)."""
        from .pipeline import resolve_target

        return Program(network=self.skeleton, target=resolve_target(self.skeleton, self.target),
                       core_of={}, cores=[], partitioner="none")


def describe(network: Any, target: str | None = None, partitioner: str = "auto"
             ) -> Description:
    """The description of a network file (.yaml) or builder; InputError for anything the
    ranks cannot build themselves (also a partitioner no rank can run alone)."""
    from .distributed_cores import rank_method

    method = rank_method(partitioner)
    spec, source, locs, base = _spec_of(network)
    desc = Description(spec, source, locs, str(base), target, NetworkIR(name=""),
                       partitioner=method)
    desc.skeleton, desc.rules = desc.parse(None)
    refuse_whole_only(desc.rules)
    from .pipeline import resolve_target
    from .plasticity import check_network

    check_network(desc.skeleton, resolve_target(desc.skeleton, target))
    return desc


def _spec_of(network: Any) -> tuple[Any, str | None, dict | None, Path]:
    """(spec, source file, line marks, base folder) of a YAML path or a builder."""
    if isinstance(network, (str, os.PathLike)):
        path = Path(network)
        if path.suffix not in (".yaml", ".yml"):
            raise InputError(f"{path}: --build ranks builds a network file (.yaml, .yml); "
                             f"a '{path.suffix}' file is built whole: {WHOLE_ONLY}")
        from .yamlio import load_yaml

        data, locs = load_yaml(path)
        return data, str(path), locs, path.parent
    if hasattr(network, "to_dict") and hasattr(network, "build"):  # the Python builder
        return network.to_dict(), None, None, Path(network.base_dir)
    raise InputError(f"--build ranks: cannot build a {type(network).__name__} on the ranks "
                     "(it holds its synapses already); give a network file (.yaml) or a "
                     f"compiler.Network builder, or {WHOLE_ONLY}")


def refuse_whole_only(rules: dict[str, dict[str, Any]]) -> None:
    """InputError naming the first projection field that needs the whole network."""
    for name, rule in rules.items():
        kind = rule["connectivity"].get("kind")
        if kind in ("list", "local"):
            what = "list connectivity (an edge list)" if kind == "list" else \
                "local connectivity (neighbours by position)"
            raise InputError(f"projections.{name}.connectivity: {what} is built from the "
                             "whole network, not per rank; allowed with --build ranks: "
                             f"all_to_all, one_to_one, random; or {WHOLE_ONLY}")
        if not ({"const", "dist", "dataset_mean"} & set(rule["weight"])):
            raise InputError(f"projections.{name}.weight: a weight matrix (file or data) is "
                             "read whole, not per rank; allowed with --build ranks: a "
                             "constant, {dist: uniform, low, high}, {dataset_mean: H}; or "
                             f"{WHOLE_ONLY}")


def decompose(desc: Description, n_ranks: int) -> Decomposition:
    """Contiguous runs of LIF neurons of about equal expected cost, cut at post-block
    boundaries (or population starts); a winner-take-all population stays on one rank."""
    from .frontend.synapses import POST_BLOCK

    net = desc.skeleton
    pops = list(net.neuron_populations)
    costs = expected_costs(desc)
    seq = np.concatenate([costs[p.name] for p in pops]) if pops else np.zeros(0)
    legal = []
    for pop in pops:
        ok = np.zeros(pop.size, dtype=bool)
        ok[0] = True
        if not pop.lif.wta:
            ok[::POST_BLOCK] = True
        legal.append(ok)
    at = np.concatenate(legal) if legal else np.zeros(0, dtype=bool)
    cuts = balanced_cuts(seq, at, at, n_ranks)
    own = owners([p.size for p in pops], cuts)
    owner = {p.name: o for p, o in zip(pops, own, strict=True)}
    rank_cost = np.zeros(n_ranks)
    for pop in pops:
        rank_cost += np.bincount(owner[pop.name], weights=costs[pop.name], minlength=n_ranks)
    return Decomposition(n_ranks=n_ranks, owner=owner, cost=rank_cost)


def expected_costs(desc: Description) -> dict[str, np.ndarray]:
    """Per LIF neuron: one update plus the expected synaptic events onto it per step
    (expected in-degree from the projection's rule times the pre population's rate)."""
    net = desc.skeleton
    cost = {p.name: np.full(p.size, NEURON_COST) for p in net.neuron_populations}
    for rule in desc.rules.values():
        if rule["post"] not in cost:
            continue
        pre = net.populations[rule["pre"]]
        conn = rule["connectivity"]
        rate = EVENT_COST * expected_rate(pre)
        if conn["kind"] == "one_to_one":
            cost[rule["post"]][:pre.size] += rate
        else:
            cost[rule["post"]] += rate * pre.size * float(conn.get("p", 1.0))
    return cost


def build_rank(desc: Description, rank: int, n_ranks: int, reduce: Reduce
               ) -> tuple[Program, Decomposition, dict[str, ProjectionFacts]]:
    """Rank `rank`'s shard: the skeleton with only the synapses onto its neurons (global
    indices) and its neurons' cores (distributed_cores.py), the decomposition and every
    projection's facts (`reduce` calls made by every rank)."""
    from .distributed_cores import rank_cores
    from .pipeline import check_fits_target, resolve_target

    decomp = decompose(desc, n_ranks)
    posts = {}
    for pop, own in decomp.owner.items():
        mine = np.flatnonzero(own == rank)
        posts[pop] = (int(mine[0]), int(mine[-1]) + 1) if mine.size else (0, 0)
    net, _ = desc.parse(posts)
    facts = projection_facts(net, reduce)
    net.validate()
    tgt = resolve_target(net, desc.target)
    check_fits_target(net, tgt)
    core_of = rank_cores(net, posts, tgt, desc.partitioner, rank, n_ranks, reduce)
    program = Program(network=net, target=tgt, core_of=core_of, cores=[],
                      partitioner=f"{desc.partitioner} per rank")
    return program, decomp, facts


def projection_facts(net: NetworkIR, reduce: Reduce) -> dict[str, ProjectionFacts]:
    """Every projection's facts from this rank's synapses and one min-reduce over the ranks
    (raw weight range, effective weight range, delay range); the fixed-precision weight
    range check of the whole projection."""
    fixed = net.precision == "fixed"
    names = list(net.projections)
    local = np.zeros((len(names), 4))  # per projection: min w, -max w, min d, -max d
    for i, name in enumerate(names):
        w, d = np.asarray(net.projections[name].weight), np.asarray(net.projections[name].delay)
        local[i, :2] = (float(w.min()), -float(w.max())) if w.size else (np.inf, np.inf)
        local[i, 2:] = (float(d.min()), -float(d.max())) if d.size else (np.inf, np.inf)
    whole = reduce(local.ravel(), "min").reshape(-1, 4)
    modes = [_mode(lo, -mhi) for lo, mhi in whole[:, :2]]
    eff = np.zeros((len(names), 2))
    for i, name in enumerate(names):
        proj = net.projections[name]
        if fixed:
            _check_range(name, whole[i, 0], -whole[i, 1])
            e = effective_weights(np.asarray(proj.weight).astype(np.int64), proj.num_weight_bits,
                                  mode=modes[i])
            eff[i] = float(e.min(initial=0)), -float(e.max(initial=0))
    eff = reduce(eff.ravel(), "min").reshape(-1, 2) if fixed else eff
    out = {}
    for i, name in enumerate(names):
        d_lo, d_hi = whole[i, 2], -whole[i, 3]
        out[name] = ProjectionFacts(modes[i], float(eff[i, 0]), float(-eff[i, 1]),
                                    bool(not np.isfinite(d_lo) or d_lo == d_hi), modes[i])
    return out


def _mode(lo: float, hi: float) -> str:
    """The sign mode of weights in [lo, hi] (`lava_weights.sign_mode`; none: excitatory)."""
    if not np.isfinite(lo) or lo >= 0:
        return EXCITATORY
    return INHIBITORY if hi <= 0 else MIXED


def _check_range(name: str, lo: float, hi: float) -> None:
    """The frontend's fixed weight check, on the whole projection's range."""
    from .frontend.projections import WEIGHT_RANGES, fixed_weight_problem

    if np.isfinite(lo):
        problem = fixed_weight_problem(lo, hi)
        if problem:
            raise InputError(f"projections.{name}.weight: {problem}; allowed: {WEIGHT_RANGES}")


def sequential_reduce(values: np.ndarray, op: str) -> np.ndarray:
    """`reduce` for one rank (the values themselves)."""
    return np.array(values, dtype=np.float64, copy=True)

