"""The compiled cpu engine: the Simulator with its neuron update and spike delivery in numba.

Same results as the numpy engine (backends/cpu/simulator.py): the same integers in fixed
precision; in float precision the same values where the numpy engine sums a neuron's input
in the same order (one delay per projection), else equal up to rounding (see docs/cli.md).
Results do not depend on the thread count: each neuron's input is summed by the thread
that owns its block, in an order that does not depend on the blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numba
import numpy as np

from backends.result import RunResult
from compiler.errors import InputError
from compiler.ir import Probe, Projection
from compiler.neuron_math import adapt_decay_fixed
from compiler.program import Program

from . import kernels as k
from . import simulator
from .layout import block_count, partition
from .learning_compiled import make_compiled_learner
from .neurons import LIFState
from .packed import Packed, PackedSynapses, pack, pack_static
from .simulator import LearnerFactory, RunBuffers, Simulator
from .synapses import Synapses

ENGINES = ("compiled", "numpy")
OPTIONS = ("engine", "threads", "timing")  # the run options the cpu backend takes


def resolve_threads(threads: Any) -> int:
    """The thread count to use: all cores numba may use when None, else 1..that many."""
    top = int(numba.config.NUMBA_NUM_THREADS)
    if threads is None:
        return top
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
            or not 1 <= threads <= top:
        raise InputError(f"threads: {threads!r}; allowed: a whole number 1..{top} "
                         "(the cores of this machine)")
    return int(threads)


def kernel_params(lif: LIFState) -> tuple[np.ndarray, np.ndarray]:
    """(par, adapt) of one population for kernels._lif_block: per-neuron cu, cv, thr, bias
    rows, and (mode, decay factor, increment, tau) of the adaptive threshold."""
    par = np.empty((4, lif.size))
    for row, val in ((k.P_CU, lif.cu), (k.P_CV, lif.cv), (k.P_THR, lif.thr), (k.P_BIAS, lif.bias)):
        par[row] = np.broadcast_to(np.asarray(val, dtype=np.float64), (lif.size,))
    adapt = np.zeros(4)
    if lif.adapt is not None:
        inc, tau = float(lif.adapt.increment), float(lif.adapt.tau)
        if lif.fixed:
            adapt[:] = (1, (4096 - adapt_decay_fixed(tau)) / 4096.0, round(inc * 64), tau)
        else:
            adapt[:] = (2, 1.0, inc, tau)
    return par, adapt


class CompiledSimulator(Simulator):
    """`Simulator` with compiled kernels on `threads` threads (default: all cores).

    Each population is cut into one block per thread (layout.block_count) of at least
    layout.MIN_BLOCK neurons; `blocks` asks for that many blocks regardless of size
    (results do not change).
    """

    def __init__(self, program: Program, probes: Iterable[Probe | str] | None = None,
                 learner_factory: LearnerFactory | None = None, threads: int | None = None,
                 blocks: int | None = None):
        self.threads = resolve_threads(threads)
        if learner_factory is None and simulator.default_learner_factory() is not None:
            learner_factory = make_compiled_learner  # the learning engine, compiled
        core_of = program.core_of or {}
        self.bounds: dict[str, np.ndarray] = {}
        for pop in program.network.populations.values():
            n = int(pop.size)
            if pop.is_source or pop.lif is None:
                continue
            if pop.lif.wta:  # winner-take-all is decided over the whole population
                self.bounds[pop.name] = np.array([0, n], dtype=np.int64)
            elif blocks is None:
                self.bounds[pop.name] = partition(n, block_count(n, self.threads),
                                                  core_of.get(pop.name))
            else:
                self.bounds[pop.name] = partition(n, blocks, core_of.get(pop.name), min_block=1)
        super().__init__(program, probes, learner_factory)
        self.ring = {name: np.zeros((self.rings[name].length, lif.size))
                     for name, lif in self.neurons.items()}
        self.kparams = {name: kernel_params(lif) for name, lif in self.neurons.items()}
        self.spk_idx = {name: np.zeros(lif.size, dtype=np.int64)
                        for name, lif in self.neurons.items()}
        self.spk_cnt = {name: np.zeros(len(b) - 1, dtype=np.int64) for name, b in self.bounds.items()}
        self.packed: dict[str, Packed] = {}
        for pname, syn in self.synapses.items():
            post = self.network.projections[pname].post
            self.packed[pname] = pack(syn, self.bounds[post]) if syn.plastic else syn.packed
        self._no_th = np.zeros(1)
        self._one = np.zeros(1, dtype=np.int64)

    @property
    def resident_bytes(self) -> int:
        """Bytes of the engine's synapse, neuron state and ring arrays."""
        total = sum(p.nbytes for p in self.packed.values())
        total += sum(r.nbytes for r in self.ring.values())
        for name, lif in self.neurons.items():
            total += lif.u.nbytes + lif.v.nbytes + self.kparams[name][0].nbytes
            total += self.spk_idx[name].nbytes
        return total

    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> RunResult:
        numba.set_num_threads(self.threads)
        return super().run(steps, progress)

    def _update_neurons(self, i: int, t: int, buf: RunBuffers) -> dict[str, np.ndarray]:
        fired: dict[str, np.ndarray] = {}
        for name, lif in self.neurons.items():
            ring = self.ring[name]
            a = ring[t % ring.shape[0]]
            spk = buf.spikes[name][i]
            bounds = self.bounds[name]
            par, adapt = self.kparams[name]
            th = lif.th if lif.th is not None else self._no_th
            idx, cnt = self.spk_idx[name], self.spk_cnt[name]
            step = k.lif_par if len(bounds) > 2 and self.threads > 1 else k.lif_ser
            step(bounds, lif.fixed, a, lif.u, lif.v, th, par, lif.wta, adapt, spk, idx, cnt)
            if lif.wta:
                cnt[0] = k.lif_wta_finish(lif.size, lif.v, th, par, adapt, spk, idx)
            fired[name] = spk
        return fired

    def _deliver(self, i: int, t: int, fired: dict[str, np.ndarray], buf: RunBuffers) -> None:
        for pre, outs in buf.by_pre.items():  # the numpy engine's order (float sums)
            idx, start, cnt = self._spiking(pre, fired[pre])
            if not cnt.any():
                continue
            for _syn, _ring, pname in outs:
                pk = self.packed[pname]
                syn = self.synapses[pname]
                w = syn.weight if syn.plastic else pk.weight
                deliver = k.deliver_par if pk.nblk > 1 and self.threads > 1 else k.deliver_ser
                buf.synops[pname][i] = deliver(
                    pk.csr.bounds, pk.csr.ptr, pk.csr.post, w, pk.perm, pk.csr.delay,
                    pk.csr.uniform_delay, pk.scale, pk.shift, t,
                    self.ring[self.network.projections[pname].post], pk.scratch, idx, start, cnt)

    def _spiking(self, pop: str, spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, block starts, counts per block) of the spiking neurons of `pop`."""
        if pop in self.neurons:
            return self.spk_idx[pop], self.bounds[pop][:-1], self.spk_cnt[pop]
        idx = np.flatnonzero(spikes)
        return idx, self._one, np.array([idx.shape[0]], dtype=np.int64)

    def _make_synapses(self, proj: Projection, plastic: bool) -> Synapses | PackedSynapses:
        """Plastic projections as `Synapses` (the learner's store); static ones packed."""
        if plastic:
            return super()._make_synapses(proj, plastic)
        pops = self.network.populations
        return pack_static(proj, pops[proj.pre].size, pops[proj.post].size, self.fixed,
                           self.bounds[proj.post])

    def _bound_inputs(self) -> None:
        """Nothing to derive: the compiled LIF update checks each value's range itself."""

    # --- phase control: keep the compiled copies in step ----------------------------------

    def set_lif_param(self, pop: str, param: str, value: float) -> None:
        super().set_lif_param(pop, param, value)
        self.kparams[pop] = kernel_params(self.neurons[pop])


def make_simulator(program: Program, probes: Iterable[Probe | str] | None = None, *,
                   learner_factory: LearnerFactory | None = None, engine: str = "compiled",
                   threads: int | None = None, timing: bool = False) -> Simulator:
    """A Simulator of the chosen engine ("compiled" or the numpy reference "numpy")."""
    if engine not in ENGINES:
        raise InputError(f"engine: {engine!r}; allowed: {', '.join(ENGINES)}")
    if engine == "compiled":
        sim: Simulator = CompiledSimulator(program, probes, learner_factory, threads)
    else:
        resolve_threads(threads)  # checked alike, though the numpy engine runs on one
        sim = Simulator(program, probes, learner_factory)
    sim.timing = bool(timing)
    return sim


__all__ = ["CompiledSimulator", "ENGINES", "OPTIONS", "make_simulator", "resolve_threads"]
