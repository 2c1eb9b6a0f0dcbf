"""The simulator of one rank: the cpu engine's parts (LIFState, Synapses, InputRing, the
Learner) on this rank's neurons, spikes exchanged with the other ranks every step.

Step t, as in `backends.cpu.simulator`: every local LIF neuron reads its input ring and
fires; the fired ids go to the ranks holding their targets (`SpikeExchange`); sources are
drawn on every rank from the same seeded streams; every pre population's spikes (sorted
ids) are delivered in the cpu engine's order; learners (on the post neuron's rank) see
the step's pre, post and modulator spikes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.cpu.learning import Learner
from backends.cpu.neurons import LIFState
from backends.cpu.ring import InputRing
from backends.cpu.simulator import PhaseSwitches, is_fixed, parse_probes
from backends.cpu.synapses import Synapses
from compiler.errors import BackendError, InputError
from compiler.ir import Probe
from compiler.lava_weights import effective_weights
from compiler.plasticity import lower_projection
from compiler.program import Program
from compiler.sources import source_spikes

from .decompose import Decomposition
from .exchange import SpikeExchange, alltoallv_ids
from .local import (
    Facts,
    emptied,
    local_params,
    local_projection,
    projection_facts,
    scale_mode,
    synapses_of,
)


@dataclass
class LocalRun:
    """What one rank recorded in one `run`: its neurons' spikes and u / v, per-projection
    synaptic events per step, and where its time went."""

    steps: int
    spikes: dict[str, np.ndarray]  # LIF population -> (steps, n_local) bool
    records: dict[str, np.ndarray]  # probe key -> (steps, n_local)
    synops: dict[str, np.ndarray]  # projection -> (steps,) int64
    timing: dict[str, float] = field(default_factory=dict)  # compute / exchange / wait s
    sources: dict[str, np.ndarray] = field(default_factory=dict)  # (steps, size) per source


def injected_failure(rank: int) -> tuple[int, bool] | None:
    """(step, hang) at which this rank fails on purpose: SNNC_MPI_FAIL="RANK:STEP" raises,
    "RANK:STEP:hang" stops answering (tests of the failure handling); None normally."""
    parts = os.environ.get("SNNC_MPI_FAIL", "").split(":")
    if len(parts) in (2, 3) and parts[0].isdigit() and parts[1].isdigit() \
            and int(parts[0]) == rank:
        return int(parts[1]), parts[-1] == "hang"
    return None


def fail_on_purpose(step: int, hang: bool) -> None:
    """What SNNC_MPI_FAIL asks for at `step`: hang (sleep for good) or raise."""
    while hang:
        time.sleep(1.0)
    raise BackendError(f"failure injected at step {step} (SNNC_MPI_FAIL)")


class RankSimulator(PhaseSwitches):
    """Rank `comm.Get_rank()`'s part of `program` under decomposition `decomp`."""

    def __init__(self, program: Program, probes: Iterable[Probe | str] | None,
                 decomp: Decomposition, comm: Any, facts: dict[str, Facts] | None = None,
                 release: bool = False):
        """`program` may be the whole program or this rank's shard (`local.shard`, then
        with the whole projections' `facts`); `release`: the shard's synapse arrays are
        emptied as soon as the engine holds them (lower peak memory; a shard only)."""
        self._release = release
        net = program.network
        self.program, self.network, self.comm = program, net, comm
        self.rank = comm.Get_rank()
        self.fixed = is_fixed(net)
        self.t = 0
        self.probes = parse_probes(probes, net)
        self.ids = {p.name: decomp.local(p.name, self.rank) for p in net.neuron_populations}
        self._lif_params = {n: local_params(net.populations[n].lif, ids, net.populations[n].size)
                            for n, ids in self.ids.items()}
        self.neurons = {n: LIFState(n, ids.shape[0], self._lif_params[n], self.fixed)
                        for n, ids in self.ids.items()}
        self.synapses: dict[str, Synapses] = {}
        self.learners: dict[str, Learner] = {}
        self.paused_learners: dict[str, Learner] = {}
        self.facts = projection_facts(net) if facts is None else facts
        self._w0: dict[str, np.ndarray] = {}
        ring_len = self._build_synapses()
        if self.fixed:
            self._bound_inputs()
        self.rings = {n: InputRing(self.neurons[n].size, ring_len[n]) for n in self.neurons}
        self.source_overrides: dict[str, np.ndarray] = {}
        self._build_routes(decomp)
        self.fail_at = injected_failure(self.rank)

    # --- construction ------------------------------------------------------------------

    def _build_synapses(self) -> dict[str, int]:
        """Local synapses and learners of every projection; the ring length per population."""
        net = self.network
        ring_len = {n: 1 for n in self.neurons}
        for proj in net.projections.values():
            if proj.post not in self.neurons:
                raise BackendError(f"projection '{proj.name}': post '{proj.post}' is not a "
                                   "LIF population")
            n_pre = net.populations[proj.pre].size
            plastic = proj.plasticity is not None
            facts = self.facts[proj.name]
            ids = self.ids[proj.post]
            sub = local_projection(proj, ids, n_pre, self.fixed, facts)
            if self._release:
                net.projections[proj.name] = emptied(proj)
            syn = synapses_of(sub, n_pre, int(ids.shape[0]), self.fixed, plastic, facts)
            del sub
            self.synapses[proj.name] = syn
            ring_len[proj.post] = max(ring_len[proj.post], syn.max_delay + 2)
            if plastic:
                spec = lower_projection(net, proj.name)
                mod = net.populations[spec.modulator].size if spec.modulator else None
                self.learners[proj.name] = Learner(spec, syn, n_pre, syn.n_post,
                                                   facts.learn_mode, mod)
        return ring_len

    def _bound_inputs(self) -> None:
        """The largest |a_in| the local static synapses can give each neuron (see cpu)."""
        total = {n: np.zeros(lif.size) for n, lif in self.neurons.items()}
        for pname, syn in self.synapses.items():
            post = self.network.projections[pname].post
            if self.network.projections[pname].plasticity is not None:
                total[post] += np.inf
                continue
            scale = 2.0 ** max(syn.weight_exp, 0)
            total[post] += np.bincount(syn.post, np.abs(syn.weight) * scale, minlength=syn.n_post)
        for n, lif in self.neurons.items():
            lif.set_input_bound(float(total[n].max(initial=0.0)))

    def _build_routes(self, decomp: Decomposition) -> None:
        """Global id offsets; which local neurons fire to which ranks (each rank asks the
        owners for the neurons it needs: pre neurons of its synapses, LIF modulators of its
        learners); the delivery order."""
        net = self.network
        names = list(self.ids)
        self.offset = dict(zip(names, np.cumsum([0] + [net.populations[n].size for n in names]),
                               strict=False))
        self.gids = np.concatenate([self.offset[n] + self.ids[n] for n in names]) \
            if names else np.zeros(0, np.int64)
        self.needed: set[str] = set()  # LIF populations whose spikes this rank receives
        asks: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for proj in net.projections.values():
            if proj.pre in self.ids:
                self.needed.add(proj.pre)
                asks[proj.pre].append(np.unique(self.synapses[proj.name].pre))
            mod = proj.plasticity.modulator_name if proj.plasticity is not None else None
            if mod in self.ids:  # a LIF modulator: all of it where the post neurons are
                self.needed.add(mod)
                if self.ids[proj.post].shape[0]:
                    asks[mod].append(np.arange(net.populations[mod].size))
        size = self.comm.Get_size()
        parts: list[list[np.ndarray]] = [[] for _ in range(size)]
        for n, lists in asks.items():
            if lists:
                idx = np.unique(np.concatenate(lists))
                dest = decomp.owner[n][idx]
                for r in np.unique(dest):
                    parts[r].append(self.offset[n] + idx[dest == r])
        flat = [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]
        route = np.zeros((size, self.gids.shape[0]), dtype=bool)
        for r, wanted in enumerate(alltoallv_ids(self.comm, flat, "routing set-up")):
            route[r, np.searchsorted(self.gids, wanted)] = True
        self.exchange = SpikeExchange(self.comm, route)
        self.by_pre: list[tuple[str, list[tuple[str, Synapses]]]] = []
        for pop in net.populations:
            outs = [(name, self.synapses[name]) for name, p in net.projections.items()
                    if p.pre == pop]
            if outs:
                self.by_pre.append((pop, outs))

    # --- stepping ----------------------------------------------------------------------

    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> LocalRun:
        """Advance `steps` steps (every rank together); this rank's recordings."""
        steps = int(steps)
        if steps < 0:
            raise InputError(f"steps: {steps}; allowed: a non-negative number of steps")
        net, t0 = self.network, self.t
        sources = {p.name: self.source_overrides.pop(p.name, None) for p in net.source_populations}
        sources = {k: v if v is not None else source_spikes(net.populations[k], steps, net.seed,
                                                             start=t0)
                   for k, v in sources.items()}
        spikes = {n: np.zeros((steps, ids.shape[0]), dtype=bool) for n, ids in self.ids.items()}
        state = [p for p in self.probes if p.var in ("u", "v")]
        vdtype = np.int64 if self.fixed else np.float64
        records = {p.key: np.zeros((steps, self.ids[p.target].shape[0]), dtype=vdtype)
                   for p in state}
        synops = {n: np.zeros(steps, dtype=np.int64) for n in self.synapses}
        ex = self.exchange
        w0, e0, compute, since = ex.wait_s, ex.exchange_s, 0.0, 0.0
        every = max(1, steps // 100)
        for i in range(steps):
            t = t0 + i
            if self.fail_at is not None and t == self.fail_at[0]:
                fail_on_purpose(t, self.fail_at[1])
            c0 = time.perf_counter()
            local = [self.neurons[n].step(self.rings[n].take(t)) for n in self.ids]
            for n, s in zip(self.ids, local, strict=True):
                spikes[n][i] = s
            for p in state:
                records[p.key][i] = getattr(self.neurons[p.target], p.var)
            fired_pos = np.flatnonzero(np.concatenate(local)) if local else np.zeros(0, np.int64)
            c1 = time.perf_counter()
            recv = np.sort(ex.exchange(fired_pos, self.gids, since + (c1 - c0)))
            c2 = time.perf_counter()
            fired = self._fired(recv, sources, i)
            for pre, outs in self.by_pre:
                idx = fired[pre]
                if idx.shape[0]:
                    for name, syn in outs:
                        synops[name][i] = syn.deliver(idx, t, self.rings[self.network.projections[name].post])
            if self.learners:
                self._learn(t, fired, {n: s for n, s in zip(self.ids, local, strict=True)})
            since = time.perf_counter() - c2  # compute after the exchange, until the next
            compute += (c1 - c0) + since
            if progress is not None and ((i + 1) % every == 0 or i + 1 == steps):
                progress(i + 1, steps)
        self.t = t0 + steps
        timing = {"compute": compute, "exchange": ex.exchange_s - e0, "wait": ex.wait_s - w0}
        return LocalRun(steps, spikes, records, synops, timing, sources)

    def _fired(self, recv: np.ndarray, sources: dict[str, np.ndarray], i: int
               ) -> dict[str, np.ndarray]:
        """Sorted spiking ids of every pre population at step index i."""
        fired = {n: np.flatnonzero(arr[i]) for n, arr in sources.items()}
        for n in self.needed:
            lo, size = self.offset[n], self.network.populations[n].size
            a, b = np.searchsorted(recv, [lo, lo + size])
            fired[n] = recv[a:b] - lo
        return fired

    def _learn(self, t: int, fired: dict[str, np.ndarray], local: dict[str, np.ndarray]) -> None:
        """Every active learner sees step t's spikes: pre (all), post (local), modulator."""
        pops = self.network.populations
        for pname, learner in self.learners.items():
            proj = self.network.projections[pname]
            pre = np.zeros(pops[proj.pre].size, dtype=bool)
            pre[fired[proj.pre]] = True
            post = local[proj.post]
            mod = learner.modulator
            if mod is None:
                learner.step(t, pre, post)
                continue
            m = np.zeros(pops[mod].size, dtype=bool)
            m[fired[mod]] = True
            if m.size > 1 and m.size == pops[proj.post].size:  # one modulator neuron per post
                m = m[self.ids[proj.post]]
            learner.step(t, pre, post, modulators={mod: m})

    # --- phase control (the cpu Simulator's API, on this rank's share) ----------------

    def set_weight_scale(self, name: str, scale: float) -> None:
        """Static projection `name`'s weights become `scale` times the compiled ones, clipped
        and truncated in the whole projection's sign mode (as one process would)."""
        syn = self.synapses[name]
        if self.network.projections[name].plasticity is not None:
            raise BackendError(f"set_weight_scale('{name}'): plastic projections cannot be scaled")
        w0 = self._w0.setdefault(name, syn.weight.copy())
        if self.fixed:
            f = self.facts[name]
            w = effective_weights(np.rint(float(scale) * w0), syn.num_weight_bits,
                                  mode=scale_mode(f.w_min, f.w_max, scale))
        else:
            w = float(scale) * w0
        syn.set_weights(w.astype(w0.dtype))
        if self.fixed:
            self._bound_inputs()

