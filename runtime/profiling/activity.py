"""Dynamic activity per core and step, counted from spikes, connectivity and placement.

Definitions (they depend only on spikes, so every backend gives the same counts for
the same spikes):
- a *message* is one (fired neuron, destination core) pair: a fired neuron sends one
  message to each distinct core holding at least one of its targets (as SANA-FE and
  Loihi's axon tables do); a message to the neuron's own core is a *local* delivery, a
  message to another core is a *packet* (it crosses the mesh);
- a *synaptic op* is one synapse of a fired presynaptic neuron, counted on the core of
  the postsynaptic neuron (where synapse memory is read), at the step of the spike;
- spike sources that are not placed on a core (absent from `program.core_of`) are host
  input: their messages are counted as `host_in` on the receiving core, without hops; a
  source that is placed sends messages from its core like a neuron, but its spikes are
  not counted as `spikes` (no compartment fires) and it is not counted in `neurons`;
- mesh hops use XY routing: |dx| + |dy| between core positions; chips are laid out in a
  row along x (global x = chip * mesh_x + x), and every chip boundary crossed counts one
  chip hop;
- learning updates: every synapse of a plastic projection once per epoch, at the steps
  t (1-based) with t % t_epoch == 0, as Lava's learning connections do; counted on the
  postsynaptic core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from compiler.errors import Diagnostic, InputError
from compiler.program import Program


@dataclass
class Activity:
    """Counts per step and core (arrays of shape (steps, n_cores) unless noted)."""

    steps: int
    neurons: np.ndarray  # (n_cores,) neurons updated every step (placed non-source neurons)
    spikes: np.ndarray  # spikes fired by (non-source) neurons on the core
    synops: np.ndarray  # synaptic ops on the receiving core
    local: np.ndarray  # messages a core sends to itself
    packets_out: np.ndarray  # messages sent to other cores (by sender)
    packets_in: np.ndarray  # messages received from other cores (by receiver)
    host_in: np.ndarray  # messages received from host-side spike sources
    hops: np.ndarray  # mesh hops of the packets sent (by sender)
    chip_packets: np.ndarray  # packets that leave their chip (by sender)
    chip_hops: np.ndarray  # chip boundaries crossed by packets (by sender)
    learning: np.ndarray  # synapse updates by plastic projections (postsynaptic core)
    max_hops: np.ndarray  # (steps,) longest route of any packet sent, in mesh hops
    max_chip_hops: np.ndarray  # (steps,) most chip crossings of any packet sent
    traffic: np.ndarray  # (n_cores, n_cores) messages from core s to core d over the run (diagonal = local)
    host_traffic: np.ndarray  # (n_cores,) host messages received over the run

    @property
    def n_cores(self) -> int:
        return int(self.neurons.shape[0])

    @property
    def messages(self) -> np.ndarray:
        """All messages sent per step and core: packets plus local deliveries."""
        return self.packets_out + self.local


def core_positions(program: Program) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global mesh x, y and chip index per core id.

    Positions come from `Core.x`/`Core.y`; if the placement left two cores of one chip on
    the same spot (positions not filled), they are derived from the core index on the
    chip, row-major on the target's mesh.
    """
    n = 1 + max((c.id for c in program.cores), default=-1)
    x = np.zeros(n, np.int64)
    y = np.zeros(n, np.int64)
    chip = np.zeros(n, np.int64)
    idx = np.zeros(n, np.int64)
    for c in program.cores:
        x[c.id], y[c.id], chip[c.id], idx[c.id] = c.x, c.y, c.chip, c.core
    ids = np.array([c.id for c in program.cores], dtype=np.int64)
    keys = np.stack([chip[ids], x[ids], y[ids]], axis=1) if n else np.zeros((0, 3))
    mx = max(int(program.target.mesh[0]), 1)
    if len(np.unique(keys, axis=0)) < len(ids):
        x, y = idx % mx, idx // mx
    return chip * mx + x, y, chip


def _check_spikes(program: Program, spikes: dict[str, np.ndarray], needed: list[str]) -> int:
    """Steps of the spike record; raises InputError naming any missing or misshapen population."""
    diags = []
    steps = None
    for name in needed:
        size = program.network.populations[name].size
        arr = spikes.get(name)
        if arr is None:
            diags.append(Diagnostic(f"no spikes recorded for population '{name}'",
                                    field=f"spikes.{name}", allowed="one bool (steps, size) array per population"))
            continue
        arr = np.asarray(arr)
        if arr.ndim != 2 or arr.shape[1] != size:
            diags.append(Diagnostic(f"spikes of '{name}' have shape {arr.shape}",
                                    field=f"spikes.{name}", allowed=f"(steps, {size})"))
            continue
        if steps is None:
            steps = arr.shape[0]
        elif arr.shape[0] != steps:
            diags.append(Diagnostic(f"spikes of '{name}' cover {arr.shape[0]} steps, others {steps}",
                                    field=f"spikes.{name}", allowed=f"{steps} steps"))
    if diags:
        raise InputError(diags)
    return int(steps or 0)


def _max_per_step(S: sp.csr_matrix, rows: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """Per step, the largest `vals` over the messages of the neurons that fired (0 if none)."""
    per_neuron = np.zeros(n)
    np.maximum.at(per_neuron, rows, vals.astype(np.float64))
    if S.shape[0] == 0 or n == 0:
        return np.zeros(S.shape[0], np.int64)
    return np.rint(S.multiply(per_neuron[None, :]).tocsr().max(axis=1).toarray().ravel()).astype(np.int64)


@dataclass
class _Index:
    """One global neuron index over the populations whose spikes are counted."""

    offset: dict[str, int]  # first global index of each population
    n: int  # neurons in all
    own: np.ndarray  # (n,) core of each neuron, -1 = host
    updated: np.ndarray  # (n,) bool: neurons whose state is updated each step (they fire)


@dataclass
class _Messages:
    """The (neuron, destination core) incidence: one entry per message a spike sends."""

    syn: sp.csr_matrix  # (n, C) synapses per (pre neuron, destination core)
    ir: np.ndarray  # sending neuron of each message
    ic: np.ndarray  # destination core of each message
    is_local: np.ndarray  # message to the neuron's own core
    is_remote: np.ndarray  # message to another core (a packet)
    is_host: np.ndarray  # message from an unplaced (host) source
    rr: np.ndarray  # sending neuron of each packet
    dist: np.ndarray  # mesh hops of each packet
    chipd: np.ndarray  # chip boundaries crossed by each packet


def activity(program: Program, spikes: dict[str, np.ndarray]) -> Activity:
    """Count spikes, synaptic ops, messages, hops and learning updates per core and step."""
    needed = _needed_populations(program)
    steps = _check_spikes(program, spikes, needed)
    gx, gy, chip = core_positions(program)
    C = gx.shape[0]
    ix = _neuron_index(program, needed)
    msg = _messages(program, ix, gx, gy, chip)
    S = _spike_matrix(spikes, needed, steps)
    parts = _per_step_counts(S, ix, msg, C, steps)
    traffic, host_traffic = _traffic(S, ix, msg, C)
    return Activity(steps=steps, neurons=np.bincount(ix.own[ix.updated], minlength=C).astype(np.int64),
                    spikes=parts[4], synops=parts[0], local=parts[1],
                    packets_out=parts[5], packets_in=parts[2], host_in=parts[3], hops=parts[6],
                    chip_packets=parts[7], chip_hops=parts[8],
                    learning=_learning(program, steps, C),
                    max_hops=_max_per_step(S, msg.rr, msg.dist, ix.n),
                    max_chip_hops=_max_per_step(S, msg.rr, msg.chipd, ix.n),
                    traffic=traffic, host_traffic=host_traffic)


def _needed_populations(program: Program) -> list[str]:
    """Populations whose spikes count: those placed on a core and those that send synapses."""
    net = program.network
    pre_pops = {p.pre for p in net.projections.values()}
    return [p for p in net.populations if p in program.core_of or p in pre_pops]


def _neuron_index(program: Program, needed: list[str]) -> _Index:
    """Global offsets, owning core and 'updated' flag of every neuron of `needed`."""
    net = program.network
    offset, n_tot = {}, 0
    for p in needed:
        offset[p] = n_tot
        n_tot += net.populations[p].size
    own = np.full(n_tot, -1, np.int64)
    updated = np.zeros(n_tot, bool)
    for p in needed:
        if p in program.core_of:
            sl = slice(offset[p], offset[p] + net.populations[p].size)
            own[sl] = np.asarray(program.core_of[p], np.int64)
            updated[sl] = not net.populations[p].is_source
    return _Index(offset=offset, n=n_tot, own=own, updated=updated)


def _synapse_incidence(program: Program, ix: _Index, C: int) -> sp.csr_matrix:
    """Synapses per (pre neuron, destination core), duplicates summed."""
    rows, cols = [], []
    for proj in program.network.projections.values():
        if proj.post not in program.core_of or proj.n_synapses == 0:
            continue
        rows.append(ix.offset[proj.pre] + np.asarray(proj.pre_idx, np.int64))
        cols.append(np.asarray(program.core_of[proj.post], np.int64)[proj.post_idx])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    syn = sp.csr_matrix((np.ones(r.size, np.int64), (r, c)), shape=(ix.n, C))
    syn.sum_duplicates()
    return syn


def _messages(program: Program, ix: _Index, gx: np.ndarray, gy: np.ndarray,
              chip: np.ndarray) -> _Messages:
    """Classify every (neuron, destination core) message as local, packet or host input."""
    syn = _synapse_incidence(program, ix, gx.shape[0])
    inc = syn.tocoo()  # one entry per (neuron, destination core)
    ir, ic = inc.row.astype(np.int64), inc.col.astype(np.int64)
    src = ix.own[ir]
    is_local = src == ic
    is_remote = (src >= 0) & ~is_local
    rr, rc, rs = ir[is_remote], ic[is_remote], src[is_remote]
    return _Messages(syn=syn, ir=ir, ic=ic, is_local=is_local, is_remote=is_remote,
                     is_host=src < 0, rr=rr,
                     dist=np.abs(gx[rs] - gx[rc]) + np.abs(gy[rs] - gy[rc]),
                     chipd=np.abs(chip[rs] - chip[rc]))


def _incidence(msg: _Messages, mask: np.ndarray, n: int, C: int) -> sp.csr_matrix:
    """The (neuron, destination core) incidence restricted to `mask`."""
    return sp.csr_matrix((np.ones(int(mask.sum())), (msg.ir[mask], msg.ic[mask])), shape=(n, C))


def _per_sender(msg: _Messages, ix: _Index, vals: np.ndarray, C: int) -> sp.csr_matrix:
    """A (neurons, cores) matrix holding each placed neuron's summed packet `vals` in its
    own core's column."""
    placed = np.flatnonzero(ix.own >= 0)
    v = np.bincount(msg.rr, weights=vals, minlength=ix.n)
    return sp.csr_matrix((v[placed], (placed, ix.own[placed])), shape=(ix.n, C))


def _spike_matrix(spikes: dict[str, np.ndarray], needed: list[str], steps: int) -> sp.csr_matrix:
    """(steps, neurons) spikes of the needed populations side by side, as a sparse matrix."""
    dense = (np.concatenate([np.asarray(spikes[p], bool) for p in needed], axis=1)
             if needed else np.zeros((steps, 0), bool))
    return sp.csr_matrix(dense, dtype=np.float64)


def _per_step_counts(S: sp.csr_matrix, ix: _Index, msg: _Messages, C: int,
                     steps: int) -> list[np.ndarray]:
    """(steps, C) counts, in order: synops, local, packets in, host in, spikes, packets out,
    hops, chip packets, chip hops; one sparse product for all of them."""
    firing = np.flatnonzero(ix.updated)  # compartments that fire (placed sources only relay)
    n = ix.n
    blocks = [
        msg.syn,  # synops by receiver
        _incidence(msg, msg.is_local, n, C),  # local deliveries
        _incidence(msg, msg.is_remote, n, C),  # packets in by receiver
        _incidence(msg, msg.is_host, n, C),  # host messages by receiver
        sp.csr_matrix((np.ones(firing.size), (firing, ix.own[firing])), shape=(n, C)),  # spikes
        _per_sender(msg, ix, np.ones(msg.rr.size), C),  # packets out
        _per_sender(msg, ix, msg.dist.astype(np.float64), C),  # hops
        _per_sender(msg, ix, (msg.chipd > 0).astype(np.float64), C),  # chip packets
        _per_sender(msg, ix, msg.chipd.astype(np.float64), C),  # chip hops
    ]
    M = sp.hstack(blocks, format="csr").astype(np.float64)
    R = np.rint((S @ M).toarray()).astype(np.int64) if n else np.zeros((steps, 9 * C), np.int64)
    return [R[:, k * C:(k + 1) * C] for k in range(len(blocks))]


def _traffic(S: sp.csr_matrix, ix: _Index, msg: _Messages, C: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Messages from core s to core d over the run, and host messages received per core."""
    placed = np.flatnonzero(ix.own >= 0)
    fired = np.asarray(S.sum(axis=0)).ravel()  # spikes per neuron over the run
    onehot = sp.csr_matrix((np.ones(placed.size), (ix.own[placed], placed)), shape=(C, ix.n))
    msgs = _incidence(msg, msg.is_local | msg.is_remote, ix.n, C).multiply(fired[:, None]).tocsr()
    traffic = np.rint((onehot @ msgs).toarray()).astype(np.int64)
    host = _incidence(msg, msg.is_host, ix.n, C).multiply(fired[:, None]).sum(axis=0)
    return traffic, np.rint(np.asarray(host).ravel()).astype(np.int64)


def _learning(program: Program, steps: int, C: int) -> np.ndarray:
    """Synapse updates per step and postsynaptic core: every plastic synapse once per epoch."""
    learning = np.zeros((steps, C), np.int64)
    t1 = np.arange(1, steps + 1)
    for proj in program.network.projections.values():
        if proj.plasticity is None or proj.post not in program.core_of:
            continue
        t_epoch = max(int(proj.plasticity.params.get("t_epoch", 1)), 1)
        post_core = np.asarray(program.core_of[proj.post], np.int64)[proj.post_idx]
        learning += (t1 % t_epoch == 0)[:, None] * np.bincount(post_core, minlength=C)[None, :]
    return learning
