"""Lowering plan (pure numpy, no Lava): which Lava processes to build and how to wire them.

`grouped`: one LIF per population, one synapse process per projection.
`core`: one LIF per (population, compiled core), one synapse process per
(projection, source core, destination core) block, faithful to the partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from compiler.errors import BackendError
from compiler.ir import NetworkIR, Population, Projection
from compiler.lava_weights import sign_mode
from compiler.program import Program

GRANULARITIES = ("grouped", "core")
SYNAPSE_KINDS = ("dense", "sparse", "delay_dense", "delay_sparse")
MAX_DELAY = 63  # Lava 0.10's DelayDense / DelaySparse
SPARSE_BELOW = 0.2  # a block with fewer synapses than this fraction of its matrix is lowered to Sparse


@dataclass
class NeuronGroup:
    """One Lava neuron process: a LIF slice of `pop` (or the RingBuffer of a spike source)."""

    key: str
    pop: str
    index: np.ndarray  # neuron indices of `pop` held by this process, ascending
    core: int | None = None  # global core id (core granularity), else None
    is_source: bool = False

    @property
    def name(self) -> str:
        """The Lava process name: `<pop>@core<id>` for a slice on one core, else `<pop>`."""
        return self.pop if self.core is None else f"{self.pop}@core{self.core}"


@dataclass
class SynapseBlock:
    """One Lava synapse process: the synapses of `proj` from `pre_group` to `post_group`.

    rows/cols index the block matrix (post-local, pre-local), as Lava's (post, pre) weights.
    """

    key: str
    proj: str
    pre_group: str
    post_group: str
    shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    kind: str
    sign_mode: str  # projection-wide: "excitatory" | "inhibitory" | "mixed"
    weight_exp: int = 0
    num_weight_bits: int = 8
    name: str = ""  # the Lava process name (`<proj>@c<src>->c<dst>` per core); key if empty

    def __post_init__(self) -> None:
        self.name = self.name or self.key

    def dense(self, values: np.ndarray) -> np.ndarray:
        """A (post, pre) matrix of this block holding `values` at its synapses."""
        out = np.zeros(self.shape, dtype=values.dtype)
        out[self.rows, self.cols] = values
        return out

    def csr(self, values: np.ndarray) -> sp.csr_matrix:
        """The same as `dense` as a canonical scipy csr matrix."""
        m = sp.csr_matrix((values, (self.rows, self.cols)), shape=self.shape)
        m.sum_duplicates()
        m.sort_indices()
        return m


@dataclass
class LavaPlan:
    """Everything the worker needs to build the Lava network, as plain data."""

    precision: str
    granularity: str
    groups: dict[str, NeuronGroup] = field(default_factory=dict)
    blocks: dict[str, SynapseBlock] = field(default_factory=dict)
    # (pre group, post group) of zero-weight Dense links that join otherwise unconnected parts:
    # Lava only runs the processes connected to the one `run()` is called on
    links: list[tuple[str, str]] = field(default_factory=list)

    def process_names(self) -> dict[str, str]:
        """Lava process name of every group, block and link key of the plan."""
        out = {k: g.name for k, g in self.groups.items()}
        out.update({k: b.name for k, b in self.blocks.items()})
        out.update({link_name(pre, post): link_name(pre, post) for pre, post in self.links})
        return out

    def process_cores(self, program: Program) -> dict[str, tuple[int, int] | None]:
        """Lava process name -> (chip, core within the chip) of the compiled core it stands
        for: a neuron slice's core, a synapse block's destination core (synapses live with
        their post neurons), a link's post core; None where a process spans no single core
        (spike sources, a population over several cores at granularity 'grouped')."""
        def of(g: NeuronGroup) -> tuple[int, int] | None:
            core = g.core
            if core is None and not g.is_source and g.pop in program.core_of:
                ids = np.unique(np.asarray(program.core_of[g.pop])[g.index])
                core = int(ids[0]) if ids.size == 1 else None
            if core is None:
                return None
            c = program.cores[core]
            return int(c.chip), int(c.core)

        out = {g.name: of(g) for g in self.groups.values()}
        out.update({b.name: of(self.groups[b.post_group]) for b in self.blocks.values()})
        out.update({link_name(pre, post): of(self.groups[post]) for pre, post in self.links})
        return out

    def groups_of(self, pop: str) -> list[NeuronGroup]:
        return [g for g in self.groups.values() if g.pop == pop]

    @property
    def n_processes(self) -> int:
        return len(self.groups) + len(self.blocks) + len(self.links)

    def matrix_elements(self) -> int:
        """Sum of the dense matrix sizes of all blocks (Lava's cost grows with it)."""
        return int(sum(b.shape[0] * b.shape[1] for b in self.blocks.values()))


def link_name(pre: str, post: str) -> str:
    """Name of the zero-weight link process from group `pre` to group `post`."""
    return f"link:{pre}->{post}"


def _end(g: NeuronGroup) -> str:
    return g.pop if g.core is None else f"c{g.core}"


def has_duplicate_pairs(net: NetworkIR, proj: Projection) -> bool:
    """Whether several synapses of `proj` join the same (post, pre) pair."""
    n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
    key = proj.post_idx.astype(np.int64) * n_pre + proj.pre_idx.astype(np.int64)
    if n_pre * n_post <= max(4 * key.size, 1 << 20):  # counting is cheaper than sorting
        return key.size > 0 and int(np.bincount(key, minlength=n_pre * n_post).max()) > 1
    key = np.sort(key)
    return bool(np.any(key[1:] == key[:-1]))


def check_projection(net: NetworkIR, proj: Projection) -> None:
    """Reject what Lava's (post, pre) matrices cannot represent, naming the projection."""
    if has_duplicate_pairs(net, proj):
        raise BackendError(
            f"projection '{proj.name}': several synapses join the same (post, pre) pair; "
            "Lava's weight matrices hold one synapse per pair (use the cpu backend)")
    if proj.delay.size and (int(proj.delay.min()) < 0 or int(proj.delay.max()) > MAX_DELAY):
        raise BackendError(f"projection '{proj.name}': delays must be 0..{MAX_DELAY} on Lava")


def _groups_for(pop: Population, program: Program, granularity: str) -> list[NeuronGroup]:
    if pop.is_source:
        return [NeuronGroup(pop.name, pop.name, np.arange(pop.size), None, True)]
    if granularity == "grouped" or pop.name not in program.core_of:
        return [NeuronGroup(pop.name, pop.name, np.arange(pop.size))]
    core_of = np.asarray(program.core_of[pop.name])
    if np.unique(core_of).size > 1 and program.network.uses_wta(pop.name):
        raise BackendError(f"population '{pop.name}': winner-take-all (wta) needs the whole "
                           "population in one Lava process; use granularity 'grouped'")
    groups = []
    for core in np.unique(core_of):
        idx = np.flatnonzero(core_of == core)
        groups.append(NeuronGroup(f"{pop.name}@c{int(core)}", pop.name, idx, int(core)))
    return groups


def choose_kind(n_syn: int, shape: tuple[int, int], has_delay: bool, force_dense: bool = False) -> str:
    """Dense unless the block is sparse (fewer than SPARSE_BELOW of its matrix); Delay* if delayed."""
    sparse = not force_dense and n_syn < SPARSE_BELOW * shape[0] * shape[1]
    base = "sparse" if sparse else "dense"
    return f"delay_{base}" if has_delay else base


def make_plan(program: Program, granularity: str = "grouped",
              dense_projections: frozenset[str] = frozenset(), check: bool = True) -> LavaPlan:
    """Lower a compiled program to Lava processes at the given granularity.

    `dense_projections` are lowered to (Delay)Dense whatever their density (e.g. when
    their weights are probed, since Lava returns Dense weights as a plain matrix).
    `check=False` skips the per-projection checks (done by `capabilities.check_program`).
    """
    if granularity not in GRANULARITIES:
        raise BackendError(f"unknown granularity '{granularity}'; allowed: {', '.join(GRANULARITIES)}")
    net = program.network
    plan = LavaPlan(precision=net.precision, granularity=granularity)
    local: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # pop -> (group number, local index) per neuron
    names: dict[str, list[str]] = {}
    for pop in net.populations.values():
        groups = _groups_for(pop, program, granularity)
        gid = np.zeros(pop.size, dtype=np.int64)
        lid = np.zeros(pop.size, dtype=np.int32)  # int32 keeps the pickled job small
        for i, g in enumerate(groups):
            plan.groups[g.key] = g
            gid[g.index] = i
            lid[g.index] = np.arange(g.index.size, dtype=np.int32)
        local[pop.name] = (gid, lid)
        names[pop.name] = [g.key for g in groups]

    for proj in net.projections.values():
        if check:
            check_projection(net, proj)
        mode = sign_mode(proj.weight)  # absent synapses (zeros) never change it
        pre_g, pre_l = local[proj.pre]
        post_g, post_l = local[proj.post]
        n_dst = len(names[proj.post])
        for s, d, sel in _split_by_groups(pre_g[proj.pre_idx], post_g[proj.post_idx], n_dst):
            pre_key, post_key = names[proj.pre][s], names[proj.post][d]
            shape = (plan.groups[post_key].index.size, plan.groups[pre_key].index.size)
            pick = (lambda a: a) if sel is None else (lambda a, sel=sel: a[sel])
            delay = pick(proj.delay)
            kind = choose_kind(delay.size, shape, bool(delay.size and delay.max() > 0),
                               proj.name in dense_projections)
            key = proj.name if granularity == "grouped" else f"{proj.name}@{pre_key}->{post_key}"
            pre_grp, post_grp = plan.groups[pre_key], plan.groups[post_key]
            name = (proj.name if granularity == "grouped"
                    else f"{proj.name}@{_end(pre_grp)}->{_end(post_grp)}")
            plan.blocks[key] = SynapseBlock(
                key=key, proj=proj.name, pre_group=pre_key, post_group=post_key, shape=shape,
                rows=post_l[pick(proj.post_idx)], cols=pre_l[pick(proj.pre_idx)],
                weight=pick(proj.weight), delay=delay, kind=kind, sign_mode=mode,
                weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits),
                name=name)
        if granularity == "core" and net.precision == "fixed" and proj.weight_exp < 0:
            _check_split_rounding(proj, post_g[proj.post_idx], pre_g[proj.pre_idx])
    plan.links = _links(plan)
    return plan


def _links(plan: LavaPlan) -> list[tuple[str, str]]:
    """Links from the first part (connected component) to every other part holding a LIF."""
    parent = {k: k for k in plan.groups}

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for b in plan.blocks.values():
        parent[root(b.pre_group)] = root(b.post_group)
    parts: dict[str, list[NeuronGroup]] = {}
    for k, g in plan.groups.items():
        parts.setdefault(root(k), []).append(g)
    with_lif = [p for p in parts.values() if any(not g.is_source for g in p)]
    if len(with_lif) < 2:
        return []
    first = min(with_lif[0], key=lambda g: g.index.size)
    return [(first.key, min((g for g in p if not g.is_source), key=lambda g: g.index.size).key)
            for p in with_lif[1:]]


def _split_by_groups(sg: np.ndarray, dg: np.ndarray, n_dst: int):
    """(source group, destination group, synapse selection) per non-empty block; the
    selection is None when one block holds every synapse (no copy)."""
    if sg.size == 0:
        return
    gk = sg.astype(np.int64) * n_dst + dg
    if gk[0] == gk[-1] and bool(np.all(gk == gk[0])):
        yield int(sg[0]), int(dg[0]), None
        return
    order = np.argsort(gk, kind="stable")
    sorted_gk = gk[order]
    cuts = np.flatnonzero(np.diff(sorted_gk)) + 1
    for sel in np.split(order, cuts):
        k = int(gk[sel[0]])
        yield k // n_dst, k % n_dst, sel


def split_rounding_conflict(dg: np.ndarray, sg: np.ndarray) -> bool:
    """Whether some destination (dg, per synapse) gets synapses from several sources (sg)."""
    if dg.size == 0:
        return False
    n_src = int(np.max(sg)) + 1  # indices >= 0: (destination, source) as one sortable key
    dest = np.unique(np.asarray(dg, np.int64) * n_src + np.asarray(sg, np.int64)) // n_src
    return bool(np.any(dest[1:] == dest[:-1]))


def _check_split_rounding(proj: Projection, dg: np.ndarray, sg: np.ndarray) -> None:
    """Lava right-shifts each block's summed input by -weight_exp: splitting a destination's
    input over several source cores would round differently from the whole projection."""
    if split_rounding_conflict(dg, sg):
        raise BackendError(
            f"projection '{proj.name}': weight_exp {proj.weight_exp} < 0 with synapses from "
            "several source cores into one core; Lava shifts each synapse block's summed "
            "input right by -weight_exp, so the 'core' granularity would round differently "
            "from the whole projection. Use granularity='grouped' or weight_exp >= 0")
