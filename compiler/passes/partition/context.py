"""What every partitioner shares: the per-network context, the result type, the verdicts.

A method returns either `Fill` (fill cores in gid order, new cores at given breaks) or
`Cores` (its own core per neuron); `candidate.run_candidate` turns that into a valid
`Partition`. Lif neurons are numbered by global id ("gid") in population order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import Diagnostic, FitError
from ...ir import NetworkIR
from ...target import Target
from ..resources import (
    BLOCK_SYNAPSES,
    Usage,
    all_offsets,
    lif_offsets,
    on_chip_projections,
    projection_format,
    synapse_list_bits,
)


@dataclass
class Partition:
    """A valid assignment: lif population -> int32 core id per neuron, and its usage."""

    core_of: dict[str, np.ndarray]
    n_cores: int
    usage: Usage
    method: str
    stats: dict = field(default_factory=dict)


@dataclass
class Fill:
    """A method's answer: fill cores in gid order, starting a new core at every break;
    `shared`: also fill without breaks (populations share cores), keep the fewer cores."""

    breaks: np.ndarray | None
    shared: bool = False


@dataclass
class Cores:
    """A method's answer: its own core per gid, `count` cores; `unrefined`: the cores
    before a refinement, assigned too when the refined ones need more cores; `fill`: a
    fill also assigned, the fewer cores kept."""

    cores: np.ndarray
    count: int
    unrefined: Cores | None = None
    fill: Fill | None = None


class Worse(Exception):
    """A candidate already needs more cores than the best one found so far (args[0])."""


class Context:
    """Per-network precomputations shared by all partitioners.

    Synapse lists are identified by "pslots", one per (projection, presynaptic neuron).
    """

    def __init__(self, net: NetworkIR, target: Target, lb: dict):
        self.net, self.target, self.lb = net, target, lb
        self.cap = target.core
        self.loff, self.n = lif_offsets(net)
        self.aoff, _ = all_offsets(net)
        self.projs = on_chip_projections(net)
        self.pops = [p.name for p in net.neuron_populations]
        self._pslots()
        self.one_slot_per_pre = len({pr.pre for pr in self.projs}) == len(self.projs)
        self.est_out = self._out_estimate()
        self.bits_total = self._bits_total()
        self.bound: int | None = None  # abandon a candidate needing more cores than this
        self.rest = None  # `cores_left(self)` once a bounded fill needs it
        self.info: dict = {}  # method-specific facts reported in Partition.stats
        self.racing = False  # auto's race runs the methods (sequential among them)
        self.keep_table = False  # keep sequential's fill table for a second fill
        self.table = None  # that table (`table.FillTable`) while kept

    def _pslots(self) -> None:
        """pslot offsets per projection, each pslot's presynaptic gid (over all
        populations) and width index, and the bits-added table `delta_lut`."""
        self.pslot_off, off = [], 0
        gids, bits = [], []
        for pr in self.projs:
            size = self.net.populations[pr.pre].size
            self.pslot_off.append(off)
            off += size
            gids.append(self.aoff[pr.pre] + np.arange(size, dtype=np.int64))
            bits.append(np.full(size, projection_format(pr, self.target).bits, np.int64))
        self.pslot_gid = np.concatenate(gids) if gids else np.zeros(0, np.int64)
        pslot_bits = np.concatenate(bits) if bits else np.zeros(0, np.int64)
        # bits added by the kth synapse of a list depend only on (width, kth % 64):
        # delta_lut[fmt * 64 + kth % 64], with fmt the index of the list's width
        widths = np.unique(pslot_bits)
        self.pslot_fmt = np.searchsorted(widths, pslot_bits).astype(np.int64)
        kk = np.where(np.arange(BLOCK_SYNAPSES) == 0, BLOCK_SYNAPSES, np.arange(BLOCK_SYNAPSES))
        self.delta_lut = (synapse_list_bits(kk[None, :], widths[:, None])
                          - synapse_list_bits(kk[None, :] - 1, widths[:, None])).ravel()

    def _out_estimate(self) -> np.ndarray:
        """Running estimate of out axons: distinct destination populations per lif gid."""
        net = self.net
        est = np.zeros(self.n, np.int64)
        dests: dict[str, dict[str, np.ndarray]] = {}
        for pr in self.projs:
            if net.populations[pr.pre].is_source or pr.n_synapses == 0:
                continue
            has = np.bincount(pr.pre_idx, minlength=net.populations[pr.pre].size) > 0
            d = dests.setdefault(pr.pre, {})
            d[pr.post] = d[pr.post] | has if pr.post in d else has
        for pre, d in dests.items():
            o = self.loff[pre]
            for has in d.values():
                est[o:o + has.size] += has
        return est

    def _bits_total(self) -> int:
        """Synapse bits of every (projection, pre) list stored once, as the lower bound counts."""
        total = 0
        for pr in self.projs:
            cnt = np.bincount(pr.pre_idx, minlength=self.net.populations[pr.pre].size)
            total += int(synapse_list_bits(cnt[cnt > 0],
                                           projection_format(pr, self.target).bits).sum())
        return total

    def split(self, cg: np.ndarray) -> dict[str, np.ndarray]:
        """Global core array (per lif gid) -> per-population int32 arrays."""
        out = {}
        for name in self.pops:
            o = self.loff[name]
            out[name] = np.ascontiguousarray(cg[o:o + self.net.populations[name].size],
                                             dtype=np.int32)
        return out

    def gid_array(self, per_pop: dict[str, np.ndarray]) -> np.ndarray:
        """Per-population int arrays -> one int64 array per lif gid (0 where missing)."""
        out = np.zeros(self.n, np.int64)
        for name, arr in per_pop.items():
            o = self.loff[name]
            out[o:o + arr.size] = arr
        return out

    def population_of(self, gid: int) -> tuple[str, int]:
        """(population, index in it) of a lif gid."""
        pop = next(p for p in reversed(self.pops) if self.loff[p] <= gid)
        return pop, gid - self.loff[pop]


def unfit_neuron_error(ctx: Context, gid: int) -> FitError:
    """FitError for a neuron that fits on no core even alone."""
    pop, i = ctx.population_of(gid)
    msg = (f"population '{pop}' neuron {i} fits on no core of target "
           f"'{ctx.target.name}' even alone (its inputs and outputs exceed a per-core "
           f"limit); remedy: fewer weight bits, smaller fan-in or fan-out, or a bigger target")
    return FitError(Diagnostic.at(ctx.net.loc(f"populations.{pop}"), msg))
