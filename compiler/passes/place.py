"""Placement: put the partition's cores onto chips and mesh positions.

Cores are laid out in a core order, filling `cores_per_chip` cores per chip, chip after
chip; chips stand in a row (chip c occupies x = c * mesh_x ... c * mesh_x + mesh_x - 1).
Inside a chip, consecutive cores take consecutive positions of a snake (boustrophedon)
walk over the (x, y) mesh, so neighbours in the core order are mesh neighbours.

The core order is the better (by hop-weighted traffic) of the partition's own order and a
reverse Cuthill-McKee order of the core-to-core traffic graph, which keeps heavily
communicating cores close when core ids carry no locality (e.g. after METIS). RCM is
skipped when cores exchange messages with more than RCM_MAX_DEGREE others on average
(e.g. sequential fill of a random net: 25k cores x 4k partners), where no order helps.

A message from core a to core b travels |dX| + |dY| mesh hops (XY routing, with the
chips' meshes side by side), |chip_a - chip_b| of which cross a chip boundary.
Traffic = distinct (lif neuron, destination core) pairs: one message each when every lif
neuron spikes once (`resources.core_traffic`, or the matrix the partitioner counted with
its usage, `usage.traffic`, which placement consumes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from ..ir import NetworkIR
from ..target import Target
from .partition import Partition
from .resources import core_traffic, too_many_cores

RCM_MAX_DEGREE = 64  # cores talking to more others than this on average: no order helps


@dataclass
class Placement:
    """Per-core (indexed by partition core id) chip, core-in-chip and mesh position."""

    chip: np.ndarray
    core: np.ndarray
    x: np.ndarray
    y: np.ndarray
    stats: dict = field(default_factory=dict)

    @property
    def n_chips(self) -> int:
        return int(self.chip.max()) + 1 if self.chip.size else 0


def snake_positions(mesh: tuple[int, int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the first n positions of a snake walk over a mesh_x-wide grid."""
    mx = max(int(mesh[0]), 1)
    i = np.arange(n)
    y = i // mx
    x = i % mx
    x = np.where(y % 2 == 1, mx - 1 - x, x)
    return x.astype(np.int32), y.astype(np.int32)


def slot_layout(order: np.ndarray, target: Target):
    """chip, core, x, y per core id when cores take slots in `order` (slot i gets order[i])."""
    n = order.size
    per = max(int(target.cores_per_chip), 1)
    slot = np.empty(n, np.int64)
    slot[order] = np.arange(n)
    chip = (slot // per).astype(np.int32)
    core = (slot % per).astype(np.int32)
    x, y = snake_positions(target.mesh, per)
    return chip, core, x[core], y[core]


def hops(chip: np.ndarray, x: np.ndarray, y: np.ndarray, mesh_x: int, a, b) -> np.ndarray:
    """XY-routing hop counts between cores a and b (arrays of core ids)."""
    gx = chip.astype(np.int32) * np.int32(mesh_x) + x.astype(np.int32)
    h = gx[a]
    h -= gx[b]
    np.abs(h, out=h)
    d = y.astype(np.int32)[a]  # int32 and in place: 100M-entry traffic at 1M neurons
    d -= y.astype(np.int32)[b]
    np.abs(d, out=d)
    h += d
    return h


def place(net: NetworkIR, partition: Partition, target: Target,
          lif_rate: float = 0.03) -> Placement:
    """Place cores on chips/mesh; FitError when the target has too few cores.

    `lif_rate` (spikes per neuron per step; 3 % is the activity of bench/cpu_step.py's
    networks) only scales the per-step inter-chip estimate in `stats`.
    """
    n = partition.n_cores
    if n > target.total_cores:
        lb = partition.stats.get("lower_bound") or {}
        why = f" (best partition found: {partition.method}"
        if lb.get("cores"):
            why += f"; lower bound {lb['cores']} cores, binding limit {lb['binding']}"
        raise too_many_cores(net, target, n, "", why + ")")
    if n == 0:
        e = np.zeros(0, np.int32)
        return Placement(e, e, e, e, {"chips": 0, "hops_per_spike": 0.0})
    t = _traffic(net, partition)
    r = np.repeat(np.arange(n, dtype=np.int32), np.diff(t.indptr))  # CSR rows, no COO copy
    c, v = t.indices, t.data.astype(np.int64, copy=False)
    cost, name, chip, core, x, y = _best_layout(t, r, c, v, target)
    senders = partition.usage.lif_senders
    dchip = chip[r]
    dchip -= chip[c]
    np.abs(dchip, out=dchip)
    inter = int(v[dchip != 0].sum())
    crossings = int(np.dot(dchip, v))
    stats = {
        "order": name,
        "chips": int(chip.max()) + 1,
        "hop_weighted_traffic": cost,
        "hops_per_spike": cost / senders if senders else 0.0,
        "interchip_messages_per_spike": inter / senders if senders else 0.0,
        "chip_crossings_per_spike": crossings / senders if senders else 0.0,
        "interchip_packets_per_step": inter * lif_rate,
        "lif_rate_assumed": lif_rate,
        "host_messages_per_step": partition.usage.source_messages_per_step,
    }
    return Placement(chip, core, x.astype(np.int32), y.astype(np.int32), stats)


def _traffic(net: NetworkIR, partition: Partition) -> sp.csr_matrix:
    """Core-to-core messages: the matrix counted with the partition's usage (consumed:
    it is not kept beyond placement), else counted here."""
    counted, partition.usage.traffic = partition.usage.traffic, None
    n = partition.n_cores
    if counted is not None and counted.messages.shape == (n, n):
        return counted.messages
    return core_traffic(net, partition.core_of, n)


def _best_layout(t: sp.csr_matrix, r: np.ndarray, c: np.ndarray, v: np.ndarray,
                 target: Target) -> tuple:
    """(hop-weighted traffic, order name, chip, core, x, y) of the cheaper of the
    partition's own core order and RCM's (`t`: traffic; r, c, v: its rows, columns, values)."""
    n = t.shape[0]
    mx = max(int(target.mesh[0]), 1)
    orders = {"partition": np.arange(n)}
    if n > 2 and t.nnz <= RCM_MAX_DEGREE * n:
        sym = sp.csr_matrix(t + t.T)
        orders["rcm"] = np.asarray(reverse_cuthill_mckee(sym, symmetric_mode=True))
    best = None
    for name, order in orders.items():
        chip, core, x, y = slot_layout(order, target)
        h = hops(chip, x, y, mx, r, c)
        cost = int(np.dot(h, v))
        if best is None or cost < best[0]:
            best = (cost, name, chip, core, x, y)
    return best
