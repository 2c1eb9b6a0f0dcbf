"""The compiled cpu engine: the Simulator with its neuron update and spike delivery in numba.

Same results as the numpy engine (backends/cpu/simulator.py): the same integers in fixed
precision; in float precision the same values where the numpy engine sums a neuron's input
in the same order (one delay per projection), else equal up to rounding (see docs/cli.md).
Results do not depend on the thread count: each neuron's input is summed by the thread
that owns its block, in an order that does not depend on the blocks.
"""

from __future__ import annotations

import os
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


def _scalar_or_row(val: Any, n: int, dtype: type = np.float64) -> float | np.ndarray:
    """A parameter as one float when every neuron has the same value, else a row."""
    arr = np.broadcast_to(np.asarray(val, dtype=np.float64), (n,))
    if n == 0 or np.all(arr == arr[0]):
        return float(arr[0]) if n else 0.0
    return np.ascontiguousarray(arr, dtype=dtype)


_WAIT_CHOSEN = False  # choose_openmp_wait ran in this process


def choose_openmp_wait() -> None:
    """How the compiled engine's OpenMP threads wait between a step's parallel regions.

    Spinning briefly (GOMP_SPINCOUNT 10000, about 0.1 ms) keeps a woken thread's start
    cheap: 100k neurons on 2 idle cores, 0.35-0.39 ms/step against 0.51 sleeping. When
    other processes hold the cores, a spinning thread takes the core the working one
    needs (1 busy core: 2.09 against 1.05 ms/step; OpenMP's unbounded default spin: 7.9
    ms per region), so then threads sleep (passive). Decided once per process, when the
    first compiled simulator is built (numba starts its threads at the first
    `set_num_threads` or parallel kernel, both later); a user's setting wins.
    """
    global _WAIT_CHOSEN
    if _WAIT_CHOSEN or "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    _WAIT_CHOSEN = True
    if _alone():
        os.environ["GOMP_SPINCOUNT"] = "10000"
    else:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _alone() -> bool:
    """Whether the engine's threads have cores to themselves: other processes running now
    (state R in /proc) plus numba's threads fit the cores."""
    me = os.getpid()
    others = 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and int(entry.name) != me:
                try:
                    with open(f"/proc/{entry.name}/stat") as f:
                        others += f.read().rsplit(")", 1)[1].split()[0] == "R"
                except OSError:  # ended meanwhile
                    continue
    except OSError:  # no /proc: keep the safe choice
        return False
    return others + int(numba.config.NUMBA_NUM_THREADS) <= (os.cpu_count() or 1)


def kernel_params(lif: LIFState) -> tuple[Any, ...]:
    """(cu, cv, thr, bias, adapt) of one population for kernels._lif_block: each of cu, cv,
    thr, bias a float or a row per neuron (bias int32 in fixed precision), and (mode, decay
    factor, increment, tau) of the adaptive threshold."""
    n = lif.size
    cu, cv, thr = (_scalar_or_row(x, n) for x in (lif.cu, lif.cv, lif.thr))
    bias = _scalar_or_row(lif.bias, n, np.int32 if lif.fixed else np.float64)
    adapt = np.zeros(4)
    if lif.adapt is not None:
        inc, tau = float(lif.adapt.increment), float(lif.adapt.tau)
        if lif.fixed:
            adapt[:] = (1, (4096 - adapt_decay_fixed(tau)) / 4096.0, round(inc * 64), tau)
        else:
            adapt[:] = (2, 1.0, inc, tau)
    return cu, cv, thr, bias, adapt


def ring_dtype(bound: float) -> type:
    """int32 for a fixed precision ring whose every sum stays below 2**31 in magnitude
    (`bound`: the largest input one step can bring any neuron), else float64."""
    return np.int32 if bound < 2.0**31 else np.float64


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
        choose_openmp_wait()
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
        self.kparams = {name: kernel_params(lif) for name, lif in self.neurons.items()}
        self.spk_idx = {name: np.zeros(lif.size, dtype=np.int64)
                        for name, lif in self.neurons.items()}
        self.spk_cnt = {name: np.zeros(len(b) - 1, dtype=np.int64) for name, b in self.bounds.items()}
        self.packed: dict[str, Packed] = {}
        for pname, syn in self.synapses.items():
            post = self.network.projections[pname].post
            self.packed[pname] = pack(syn, self.bounds[post]) if syn.plastic else syn.packed
        if self.fixed:  # u, v in int32: Lava's ranges (u after its wraps, v clipped to 24 bits)
            for lif in self.neurons.values():
                lif.u, lif.v = lif.u.astype(np.int32), lif.v.astype(np.int32)
        self.ring = {name: np.zeros((self.rings[name].length, lif.size), dtype=self._ring_dtype(name))
                     for name, lif in self.neurons.items()}
        self._no_th = np.zeros(1)
        self._one = np.zeros(1, dtype=np.int64)

    def input_bound(self, pop: str) -> float:
        """The largest |input| one step can bring a neuron of `pop`: per neuron the sum of
        |weight| * 2**weight_exp over its incoming synapses (+1 for a floor-shifted
        projection's rounding); inf with a plastic incoming projection."""
        total = np.zeros(self.neurons[pop].size)
        for pname, pk in self.packed.items():
            if self.network.projections[pname].post != pop:
                continue
            if self.synapses[pname].plastic:  # a learner may write any weight
                return np.inf
            csr = pk.csr
            k.post_abs_sum(csr.bounds, csr.ptr, csr.post, pk.weight, pk.scale, total)
            if pk.shift:
                total += 1.0
        return float(total.max(initial=0.0))

    def _ring_dtype(self, pop: str) -> type:
        """The input ring's dtype of `pop`: int32 where input_bound proves no sum overflows."""
        return ring_dtype(self.input_bound(pop)) if self.fixed else np.float64

    @property
    def resident_bytes(self) -> int:
        """Bytes of the engine's synapse, neuron state and ring arrays."""
        total = sum(p.nbytes for p in self.packed.values())
        total += sum(r.nbytes for r in self.ring.values())
        for name, lif in self.neurons.items():
            total += lif.u.nbytes + lif.v.nbytes + self.spk_idx[name].nbytes
            total += sum(np.asarray(x).nbytes for x in self.kparams[name])
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
            cu, cv, thr, bias, adapt = self.kparams[name]
            th = lif.th if lif.th is not None else self._no_th
            idx, cnt = self.spk_idx[name], self.spk_cnt[name]
            step = k.lif_par if len(bounds) > 2 and self.threads > 1 else k.lif_ser
            step(bounds, lif.fixed, a, lif.u, lif.v, th, cu, cv, thr, bias, lif.wta, adapt,
                 spk, idx, cnt)
            if lif.wta:
                cnt[0] = k.lif_wta_finish(lif.size, lif.v, th, thr, adapt, spk, idx)
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
                ring = self.ring[self.network.projections[pname].post]
                scale = pk.scale if ring.dtype.kind == "f" else int(pk.scale)
                deliver = k.deliver_par if pk.nblk > 1 and self.threads > 1 else k.deliver_ser
                buf.synops[pname][i] = deliver(
                    pk.csr.bounds, pk.csr.ptr, pk.csr.post, w, pk.perm, pk.csr.delay,
                    pk.csr.uniform_delay, scale, pk.shift, t, ring, pk.scratch, idx, start, cnt)

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
        """Widen an int32 input ring to float64 once changed weights could overflow it (the
        LIF kernel checks u's and v's ranges itself)."""
        for name, ring in getattr(self, "ring", {}).items():
            if ring.dtype == np.int32 and self._ring_dtype(name) is np.float64:
                self.ring[name] = ring.astype(np.float64)

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


__all__ = ["CompiledSimulator", "ENGINES", "OPTIONS", "choose_openmp_wait", "make_simulator",
           "resolve_threads"]
