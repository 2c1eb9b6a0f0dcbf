"""Lowering plan (pure numpy, no Lava): which Lava processes to build and how to wire them.

`grouped`: one LIF per population, one synapse process per projection.
`core`: one LIF per (population, compiled core) and, per such slice, one synapse process
merging every static projection into it (`bus_blocks`): its input is the spike bus, the
concatenation of all slices' spikes (`procs/bus.py`), so the process count grows with the
cores, not with core pairs. A plastic projection has one learning process per destination
slice, on the bus too. `chip`: the same with one slice per (population, chip).
At every granularity a convolution that Lava's Conv reproduces exactly (`conv_plan`)
between two populations that are one process each is a Conv process of its own, fed by
its pre process directly.
"""

from __future__ import annotations

import numpy as np

from compiler.errors import BackendError
from compiler.ir import NetworkIR, Population, Projection
from compiler.lava_weights import sign_mode
from compiler.program import Program

from .bus_blocks import add_bus_blocks
from .conv_plan import conv_lowering
from .plan_types import (
    BUS,
    GRANULARITIES,
    MAX_DELAY,
    MERGED_BITS,
    MERGED_MODE,
    SPARSE_BELOW,
    SYNAPSE_KINDS,
    LavaPlan,
    NeuronGroup,
    Slices,
    SynapseBlock,
    choose_kind,
    link_name,
)

__all__ = ["BUS", "GRANULARITIES", "MAX_DELAY", "MERGED_BITS", "MERGED_MODE", "SPARSE_BELOW",
           "SYNAPSE_KINDS", "LavaPlan", "NeuronGroup", "Slices", "SynapseBlock", "choose_kind",
           "link_name", "make_plan", "unit_of", "on_bus", "check_projection",
           "has_duplicate_pairs"]

def _end(g: NeuronGroup) -> str:
    if g.core is not None:
        return f"c{g.core}"
    return g.pop if g.chip is None else f"chip{g.chip}"


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


def unit_of(program: Program, pop: str, granularity: str) -> np.ndarray | None:
    """Per neuron of `pop`: its core id ('core'), its chip id ('chip'), or None when the
    population is one Lava process (granularity 'grouped', spike sources, unplaced)."""
    p = program.network.populations[pop]
    if granularity == "grouped" or p.is_source or pop not in program.core_of:
        return None
    core_of = np.asarray(program.core_of[pop])
    if granularity == "core":
        return core_of
    chip = np.zeros(1 + max((c.id for c in program.cores), default=0), np.int64)
    for c in program.cores:
        chip[c.id] = c.chip
    return chip[core_of]


def _groups_for(pop: Population, program: Program, granularity: str) -> list[NeuronGroup]:
    if pop.is_source:
        return [NeuronGroup(pop.name, pop.name, np.arange(pop.size), None, True)]
    units = unit_of(program, pop.name, granularity)
    if units is None:
        return [NeuronGroup(pop.name, pop.name, np.arange(pop.size))]
    if np.unique(units).size > 1 and program.network.uses_wta(pop.name):
        raise BackendError(f"population '{pop.name}': winner-take-all (wta) needs the whole "
                           "population in one Lava process; use granularity 'grouped'")
    groups = []
    tag = "c" if granularity == "core" else "chip"
    for unit in np.unique(units):
        idx = np.flatnonzero(units == unit)
        where = {"core": int(unit)} if granularity == "core" else {"chip": int(unit)}
        groups.append(NeuronGroup(f"{pop.name}@{tag}{int(unit)}", pop.name, idx, **where))
    return groups


def _add_groups(plan: LavaPlan, program: Program, granularity: str) -> Slices:
    out = Slices()
    for pop in program.network.populations.values():
        groups = _groups_for(pop, program, granularity)
        gid = np.zeros(pop.size, dtype=np.int64)
        lid = np.zeros(pop.size, dtype=np.int32)  # int32 keeps the pickled job small
        for i, g in enumerate(groups):
            plan.groups[g.key] = g
            gid[g.index] = i
            lid[g.index] = np.arange(g.index.size, dtype=np.int32)
        out.keys[pop.name], out.gid[pop.name], out.lid[pop.name] = [g.key for g in groups], gid, lid
    return out


def on_bus(proj: Projection, granularity: str) -> bool:
    """Whether the projection goes through the spike bus: all at 'core' / 'chip' (but the
    convolutions lowered to Lava's Conv, see `make_plan`)."""
    return granularity != "grouped"


def make_plan(program: Program, granularity: str = "grouped",
              dense_projections: frozenset[str] = frozenset(), check: bool = True,
              conv: bool = True) -> LavaPlan:
    """Lower a compiled program to Lava processes at the given granularity.

    `dense_projections` are lowered to (Delay)Dense whatever their density (e.g. when
    their weights are probed, since Lava returns Dense weights as a plain matrix), in a
    process of their own per destination slice.
    `check=False` skips the per-projection checks (done by `capabilities.check_program`).
    `conv=False` keeps every convolution on Sparse/Dense (no Lava Conv process).
    """
    if granularity not in GRANULARITIES:
        raise BackendError(f"unknown granularity '{granularity}'; allowed: {', '.join(GRANULARITIES)}")
    net = program.network
    plan = LavaPlan(precision=net.precision, granularity=granularity)
    slices = _add_groups(plan, program, granularity)
    bus_projs = []
    for proj in net.projections.values():
        if check:
            check_projection(net, proj)
        if _add_conv_block(plan, proj, slices, proj.name in dense_projections, conv):
            continue
        if on_bus(proj, granularity):
            bus_projs.append(proj)
            continue
        _add_direct_blocks(plan, proj, slices, proj.name in dense_projections)
    if bus_projs:
        add_bus_blocks(plan, bus_projs, slices, dense_projections)
    plan.links = _links(plan)
    return plan


def _add_conv_block(plan: LavaPlan, proj: Projection, slices: Slices, dense: bool,
                    allowed: bool) -> bool:
    """Lower a convolution to one Lava Conv block, fed by its pre process directly (not the
    spike bus), when it maps exactly and both populations are one Lava process each (every
    granularity: at 'core' / 'chip' a layer on one core / chip); record in
    `plan.conv_lowering` either "conv" or why it stays on Sparse/Dense."""
    if proj.conv is None:
        return False
    split = [p for p in (proj.pre, proj.post) if len(slices.keys[p]) > 1]
    if not allowed:
        why = "Conv turned off (option conv=False)"
    elif split:
        why = (f"granularity '{plan.granularity}' splits '{split[0]}' over "
               f"{len(slices.keys[split[0]])} processes (Conv needs a whole layer in one "
               "process on each side)")
    elif dense:
        why = "weights probed or scaled by a phase (they need a Dense matrix)"
    else:
        conv = conv_lowering(proj, plan.precision)
        why = conv if isinstance(conv, str) else ""
    if why:
        plan.conv_lowering[proj.name] = why
        return False
    plan.conv_lowering[proj.name] = "conv"
    pre, post = plan.groups[slices.keys[proj.pre][0]], plan.groups[slices.keys[proj.post][0]]
    grouped = plan.granularity == "grouped"
    none = np.zeros(0, np.int32)  # the kernel replaces the unrolled synapses (a smaller job)
    key = proj.name if grouped else f"{proj.name}@{pre.key}->{post.key}"
    plan.blocks[key] = SynapseBlock(
        key=key, proj=proj.name, pre_group=pre.key, post_group=post.key,
        shape=(post.index.size, pre.index.size), rows=none, cols=none,
        weight=none, delay=none.astype(np.int16), kind="conv", sign_mode=sign_mode(proj.weight),
        weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits),
        name=proj.name if grouped else f"{proj.name}@{_end(pre)}->{_end(post)}", conv=conv)
    return True


def _add_direct_blocks(plan: LavaPlan, proj: Projection, slices: Slices, dense: bool) -> None:
    """One block per (source slice, destination slice) with synapses, fed by the source
    slice directly (granularity 'grouped': one block for the whole projection)."""
    grouped = plan.granularity == "grouped"
    mode = sign_mode(proj.weight)  # absent synapses (zeros) never change it
    pre_g, pre_l = slices.gid[proj.pre], slices.lid[proj.pre]
    post_g, post_l = slices.gid[proj.post], slices.lid[proj.post]
    n_dst = len(slices.keys[proj.post])
    for s, d, sel in _split_by_groups(pre_g[proj.pre_idx], post_g[proj.post_idx], n_dst):
        pre_key, post_key = slices.keys[proj.pre][s], slices.keys[proj.post][d]
        pre_grp, post_grp = plan.groups[pre_key], plan.groups[post_key]
        shape = (post_grp.index.size, pre_grp.index.size)
        pick = (lambda a: a) if sel is None else (lambda a, sel=sel: a[sel])
        delay = pick(proj.delay)
        kind = choose_kind(delay.size, shape, bool(delay.size and delay.max() > 0), dense)
        key = proj.name if grouped else f"{proj.name}@{pre_key}->{post_key}"
        name = proj.name if grouped else f"{proj.name}@{_end(pre_grp)}->{_end(post_grp)}"
        plan.blocks[key] = SynapseBlock(
            key=key, proj=proj.name, pre_group=pre_key, post_group=post_key, shape=shape,
            rows=post_l[pick(proj.post_idx)], cols=pre_l[pick(proj.pre_idx)],
            weight=pick(proj.weight), delay=delay, kind=kind, sign_mode=mode,
            weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits),
            name=name)


def _links(plan: LavaPlan) -> list[tuple[str, str]]:
    """Links from the first part (connected component) to every other part holding a LIF."""
    parent = {k: k for k in plan.groups}

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for b in plan.blocks.values():
        if not b.on_bus:
            parent[root(b.pre_group)] = root(b.post_group)
    on_bus = list(plan.bus) + [b.post_group for b in plan.blocks.values() if b.on_bus]
    for k in on_bus[1:]:  # the bus process joins everything it touches
        parent[root(k)] = root(on_bus[0])
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
