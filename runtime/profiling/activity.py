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


def activity(program: Program, spikes: dict[str, np.ndarray]) -> Activity:
    """Count spikes, synaptic ops, messages, hops and learning updates per core and step."""
    net = program.network
    pops = list(net.populations)
    pre_pops = {p.pre for p in net.projections.values()}
    needed = [p for p in pops if p in program.core_of or p in pre_pops]
    steps = _check_spikes(program, spikes, needed)
    gx, gy, chip = core_positions(program)
    C = gx.shape[0]

    # one global index space over the needed populations
    offset, n_tot = {}, 0
    for p in needed:
        offset[p] = n_tot
        n_tot += net.populations[p].size
    own = np.full(n_tot, -1, np.int64)  # core of each neuron, -1 = host
    updated = np.zeros(n_tot, bool)  # neurons whose state is updated each step
    for p in needed:
        if p in program.core_of:
            sl = slice(offset[p], offset[p] + net.populations[p].size)
            own[sl] = np.asarray(program.core_of[p], np.int64)
            updated[sl] = not net.populations[p].is_source

    # synapses per (pre neuron, destination core)
    rows, cols = [], []
    for proj in net.projections.values():
        if proj.post not in program.core_of or proj.n_synapses == 0:
            continue
        rows.append(offset[proj.pre] + np.asarray(proj.pre_idx, np.int64))
        cols.append(np.asarray(program.core_of[proj.post], np.int64)[proj.post_idx])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    syn = sp.csr_matrix((np.ones(r.size, np.int64), (r, c)), shape=(n_tot, C))
    syn.sum_duplicates()
    inc = syn.tocoo()  # one entry per (neuron, destination core)
    ir, ic = inc.row.astype(np.int64), inc.col.astype(np.int64)
    src = own[ir]
    is_local = src == ic
    is_remote = (src >= 0) & ~is_local
    is_host = src < 0

    def mat(mask: np.ndarray) -> sp.csr_matrix:
        """The (neuron, destination core) incidence restricted to `mask`."""
        return sp.csr_matrix((np.ones(int(mask.sum())), (ir[mask], ic[mask])), shape=(n_tot, C))

    rr, rc, rs = ir[is_remote], ic[is_remote], src[is_remote]
    dist = np.abs(gx[rs] - gx[rc]) + np.abs(gy[rs] - gy[rc])
    chipd = np.abs(chip[rs] - chip[rc])
    placed = np.flatnonzero(own >= 0)
    firing = np.flatnonzero(updated)  # compartments that fire (placed sources only relay)

    def per_sender(vals: np.ndarray) -> sp.csr_matrix:
        """A (neurons, cores) matrix holding each placed neuron's summed `vals` in its own core's column."""
        v = np.bincount(rr, weights=vals, minlength=n_tot)
        return sp.csr_matrix((v[placed], (placed, own[placed])), shape=(n_tot, C))

    blocks = [
        syn,  # synops by receiver
        mat(is_local),  # local deliveries
        mat(is_remote),  # packets in by receiver
        mat(is_host),  # host messages by receiver
        sp.csr_matrix((np.ones(firing.size), (firing, own[firing])), shape=(n_tot, C)),  # spikes
        per_sender(np.ones(rr.size)),  # packets out
        per_sender(dist.astype(np.float64)),  # hops
        per_sender((chipd > 0).astype(np.float64)),  # chip packets
        per_sender(chipd.astype(np.float64)),  # chip hops
    ]
    S = sp.csr_matrix(np.concatenate([np.asarray(spikes[p], bool) for p in needed], axis=1)
                      if needed else np.zeros((steps, 0), bool), dtype=np.float64)
    M = sp.hstack(blocks, format="csr").astype(np.float64)
    R = np.rint((S @ M).toarray()).astype(np.int64) if n_tot else np.zeros((steps, 9 * C), np.int64)
    parts = [R[:, k * C:(k + 1) * C] for k in range(len(blocks))]

    max_hops = _max_per_step(S, rr, dist, n_tot)
    max_chip = _max_per_step(S, rr, chipd, n_tot)

    fired = np.asarray(S.sum(axis=0)).ravel()  # spikes per neuron over the run
    onehot = sp.csr_matrix((np.ones(placed.size), (own[placed], placed)), shape=(C, n_tot))
    msgs = mat(is_local | is_remote).multiply(fired[:, None]).tocsr()
    traffic = np.rint((onehot @ msgs).toarray()).astype(np.int64)
    host_traffic = np.rint(np.asarray(mat(is_host).multiply(fired[:, None]).sum(axis=0)).ravel()).astype(np.int64)

    learning = np.zeros((steps, C), np.int64)
    t1 = np.arange(1, steps + 1)
    for proj in net.projections.values():
        if proj.plasticity is None or proj.post not in program.core_of:
            continue
        t_epoch = max(int(proj.plasticity.params.get("t_epoch", 1)), 1)
        per_core = np.bincount(np.asarray(program.core_of[proj.post], np.int64)[proj.post_idx], minlength=C)
        learning += (t1 % t_epoch == 0)[:, None] * per_core[None, :]

    neurons = np.bincount(own[updated], minlength=C).astype(np.int64)
    return Activity(steps=steps, neurons=neurons, spikes=parts[4], synops=parts[0], local=parts[1],
                    packets_out=parts[5], packets_in=parts[2], host_in=parts[3], hops=parts[6],
                    chip_packets=parts[7], chip_hops=parts[8], learning=learning,
                    max_hops=max_hops, max_chip_hops=max_chip, traffic=traffic,
                    host_traffic=host_traffic)
