"""The CPU simulator: steps a Program's network with numpy, bit-exact to Lava's fixed_pt models.

Per step t: sources emit row t of `source_spikes`; every LIF population reads its input
ring row t, updates and spikes; all spikes of step t are then delivered through their
projections (arriving at t + d + 1); then learners, if any, see the step's spikes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler.errors import BackendError, InputError, suggest
from compiler.ir import PROBE_VARS, NetworkIR, Probe, Projection
from compiler.lava_weights import scaled_weights
from compiler.program import Program
from compiler.sources import source_spikes

from .learning import make_learner
from .neurons import LIFState
from .ring import InputRing
from .synapses import Synapses
from .timing import StepClock

# learner_factory(projection, synapses, network) -> object with .step(t, pre_spikes, post_spikes)
LearnerFactory = Callable[[Projection, Synapses, NetworkIR], Any]


def parse_probe(probe: Probe | str, net: NetworkIR) -> Probe:
    """A Probe from `"<pop>.spikes|v|u"` / `"<proj>.weights"` (or a Probe), checked against `net`."""
    if isinstance(probe, str):
        target, _, var = probe.rpartition(".")
        probe = Probe(target, var)
    if probe.target in net.populations:
        pop = net.populations[probe.target]
        allowed = ("spikes",) if pop.is_source else PROBE_VARS
        if probe.var in allowed:
            return probe
        raise InputError(f"probe '{probe.key}': population '{pop.name}' has no '{probe.var}'; "
                         f"allowed: {', '.join(allowed)}")
    if probe.target in net.projections:
        if probe.var == "weights":
            return probe
        raise InputError(f"probe '{probe.key}': projections record only 'weights'")
    names = list(net.populations) + list(net.projections)
    raise InputError(f"probe '{probe.key}': no population or projection '{probe.target}'"
                     f"{suggest(probe.target, names)}; allowed: {', '.join(names)}")


def parse_probes(probes: Iterable[Probe | str] | None, net: NetworkIR) -> list[Probe]:
    """`probes` (default: the network's own) as checked Probes (see `parse_probe`)."""
    return [parse_probe(p, net) for p in (net.probes if probes is None else probes)]


def is_fixed(net: NetworkIR) -> bool:
    """True for fixed precision, False for float; BackendError for anything else."""
    if net.precision not in ("fixed", "float"):
        raise BackendError(f"unknown precision '{net.precision}'")
    return net.precision == "fixed"


@dataclass
class RunBuffers:
    """What one `Simulator.run` records into, and the fan-out it delivers through."""

    spikes: dict[str, np.ndarray]  # (steps, size) bool per population
    sources: dict[str, np.ndarray]  # (steps, size) spikes of each source for this run
    state_probes: list[Probe]  # u / v probes, recorded every step
    records: dict[str, np.ndarray]  # (steps, size) per state probe key
    by_pre: dict[str, list[tuple[Synapses, InputRing, str]]]  # pre -> (synapses, post ring, name)
    synops: dict[str, np.ndarray]  # (steps,) synaptic ops per projection


def default_learner_factory() -> LearnerFactory | None:
    """The learner factory used when a Simulator is given none: the CPU learning engine."""
    return make_learner


class PhaseSwitches:
    """The phase controls shared by every simulator that holds `network`, `fixed`,
    `source_overrides`, `learners`, `paused_learners`, `neurons` (LIFState by population),
    `_lif_params` and `_bound_inputs()`: source replacement, learning on/off, LIF changes."""

    network: NetworkIR
    fixed: bool
    source_overrides: dict[str, np.ndarray]
    learners: dict[str, Any]
    paused_learners: dict[str, Any]
    neurons: dict[str, LIFState]
    _lif_params: dict[str, Any]

    def _bound_inputs(self) -> None:
        """Re-derive input bounds after a change (subclasses that check ranges)."""

    def set_source_spikes(self, name: str, spikes: np.ndarray) -> None:
        """Spikes of source `name` for the next `run` only (bool (steps, size)), instead of its own."""
        pop = self.network.populations[name]
        arr = np.asarray(spikes, dtype=bool)
        if not pop.is_source or arr.ndim != 2 or arr.shape[1] != pop.size:
            raise BackendError(f"set_source_spikes('{name}'): needs a source and (steps, {pop.size})")
        self.source_overrides[name] = arr

    def set_plastic(self, name: str, on: bool) -> None:
        """Switch learning of plastic projection `name` on/off (its traces and tags are kept)."""
        if name in self.learners and not on:
            self.paused_learners[name] = self.learners.pop(name)
        elif name in self.paused_learners and on:
            self.learners[name] = self.paused_learners.pop(name)
        elif name not in self.learners and name not in self.paused_learners:
            raise BackendError(f"set_plastic('{name}'): not a plastic projection")

    def set_lif_param(self, pop: str, param: str, value: float) -> None:
        """Change LIF parameter vth | bias_mant | bias_exp | du | dv | wta, or adapt.increment |
        adapt.tau, of population `pop`; u, v and the adaptive threshold are kept."""
        params = self._lif_params[pop]
        if param.startswith("adapt."):
            if params.adapt is None:
                raise BackendError(f"set_lif_param('{pop}', '{param}'): no adapt block")
            adapt = dataclasses.replace(params.adapt, **{param[6:]: value})
            params = dataclasses.replace(params, adapt=adapt)
        else:
            params = dataclasses.replace(params, **{param: value})
        old = self.neurons[pop]
        new = LIFState(pop, old.size, params, self.fixed)
        new.u, new.v = old.u, old.v
        if old.th is not None:
            new.th = old.th
        self.neurons[pop], self._lif_params[pop] = new, params
        if self.fixed:
            self._bound_inputs()


class Simulator(PhaseSwitches):
    """A running simulation of `program.network`; `run(steps)` may be called repeatedly.

    State (u, v, thresholds, in-flight spikes, the step counter `t`, weights) carries
    over between runs, so training and testing phases can follow each other.
    `learner_factory(projection, synapses, network)` builds a learner for each projection
    with `plasticity`; its `.step(t, pre_spikes, post_spikes)` (bool arrays of step t)
    runs after the step's spikes were delivered, so weight changes act from step t + 1.
    Without a factory, `default_learner_factory()` (the CPU learning engine) is used.
    """

    def __init__(self, program: Program, probes: Iterable[Probe | str] | None = None,
                 learner_factory: LearnerFactory | None = None):
        net = program.network
        self.program, self.network = program, net
        self.fixed = is_fixed(net)
        self.t = 0
        self.probes = parse_probes(probes, net)
        self.neurons = self._build_neurons()
        if learner_factory is None and any(p.plasticity for p in net.projections.values()):
            learner_factory = default_learner_factory()
        self.synapses: dict[str, Synapses] = {}
        self.learners: dict[str, Any] = {}
        ring_len = self._build_synapses(learner_factory)
        if self.fixed:
            self._bound_inputs()
        self.rings = {name: InputRing(self.neurons[name].size, ring_len[name])
                      for name in self.neurons}
        self.source_overrides: dict[str, np.ndarray] = {}  # set by phases, see below
        self.paused_learners: dict[str, Any] = {}
        self._w0: dict[str, np.ndarray] = {}
        self._lif_params = {name: net.populations[name].lif for name in self.neurons}
        self.timing = False  # True: each run's result.meta["timing"] says where the time went
        self.time_parts: dict[str, float] = {}  # with timing: seconds per part, all runs

    def _build_neurons(self) -> dict[str, LIFState]:
        """The state of every LIF population; sources must have a source, models must be LIF."""
        neurons: dict[str, LIFState] = {}
        for pop in self.network.populations.values():
            if pop.is_source:
                if pop.source is None:
                    raise BackendError(f"population '{pop.name}': spike source without a source")
                continue
            if pop.model != "lif" or pop.lif is None:
                raise BackendError(f"population '{pop.name}': model '{pop.model}' is not supported")
            neurons[pop.name] = LIFState(pop.name, pop.size, pop.lif, self.fixed)
        return neurons

    def _build_synapses(self, learner_factory: LearnerFactory | None) -> dict[str, int]:
        """Fill `synapses` and `learners` from the projections; the input ring length each
        LIF population needs (longest incoming delay + 2)."""
        net = self.network
        ring_len: dict[str, int] = {name: 1 for name in self.neurons}
        for proj in net.projections.values():
            for end in (proj.pre, proj.post):
                if end not in net.populations:
                    raise BackendError(f"projection '{proj.name}': no population '{end}'")
            if proj.post not in self.neurons:
                raise BackendError(f"projection '{proj.name}': post '{proj.post}' is not a LIF population")
            plastic = proj.plasticity is not None
            if plastic and learner_factory is None:
                raise BackendError(
                    f"projection '{proj.name}': plasticity rule '{proj.plasticity.rule}' needs a "
                    "learning engine (backends.cpu.learning.make_learner is not available)")
            syn = self._make_synapses(proj, plastic)
            self.synapses[proj.name] = syn
            ring_len[proj.post] = max(ring_len[proj.post], syn.max_delay + 2)
            if plastic:
                self.learners[proj.name] = learner_factory(proj, syn, net)
        return ring_len

    def _make_synapses(self, proj: Projection, plastic: bool) -> Synapses:
        """The synapse store of one projection."""
        pops = self.network.populations
        return Synapses(proj, pops[proj.pre].size, pops[proj.post].size, self.fixed,
                        plastic=plastic)

    def _bound_inputs(self) -> None:
        """Tell each population the largest |a_in| its static synapses can ever produce."""
        total = {name: np.zeros(lif.size) for name, lif in self.neurons.items()}
        for pname, syn in self.synapses.items():
            post = self.network.projections[pname].post
            if syn.plastic:  # a learner may write any weight: keep checking every step
                total[post] += np.inf
                continue
            scale = 2.0 ** max(syn.weight_exp, 0)
            total[post] += np.bincount(syn.post, np.abs(syn.weight) * scale, minlength=syn.n_post)
        for name, lif in self.neurons.items():
            lif.set_input_bound(float(total[name].max(initial=0.0)))

    def run(self, steps: int, progress: Callable[[int, int], None] | None = None) -> RunResult:
        """Advance `steps` steps from the current state; returns this run's recordings."""
        steps = int(steps)
        if steps < 0:
            raise InputError(f"steps: {steps}; allowed: a non-negative number of steps")
        t0 = self.t
        wall0 = time.perf_counter()
        clock = StepClock() if self.timing else None
        buf = self._start_run(steps, t0)
        if clock is not None:
            clock.lap("host_input")
        every = max(1, steps // 100)
        for i in range(steps):
            t = t0 + i
            if clock is None:
                fired = self._fire(i, t, buf)
                self._deliver(i, t, fired, buf)
                if self.learners:
                    self._learn(t, fired)
            else:
                self._timed_step(i, t, buf, clock)
            if progress is not None and ((i + 1) % every == 0 or i + 1 == steps):
                progress(i + 1, steps)
        self.t = t0 + steps
        result = self._finish_run(buf, t0, steps, time.perf_counter() - wall0)
        if clock is not None:
            clock.lap("probes")
            result.meta["timing"] = clock.parts
            for part, sec in clock.parts.items():
                self.time_parts[part] = self.time_parts.get(part, 0.0) + sec
        return result

    def _timed_step(self, i: int, t: int, buf: RunBuffers, clock: StepClock) -> None:
        """One step as in `run`, each part's wall time charged to `clock`."""
        clock.start()
        fired = self._update_neurons(i, t, buf)
        clock.lap("neurons")
        self._record_probes(i, buf)
        clock.lap("probes")
        self._add_sources(i, buf, fired)
        clock.lap("host_input")
        self._deliver(i, t, fired, buf)
        clock.lap("delivery")
        if self.learners:
            self._learn(t, fired)
            clock.lap("learning")

    def _start_run(self, steps: int, t0: int) -> RunBuffers:
        """Recording buffers for `steps` steps, with the sources' spikes already filled in."""
        net, pops = self.network, self.network.populations
        spikes = {name: np.zeros((steps, p.size), dtype=bool) for name, p in pops.items()}
        sources = {p.name: self.source_overrides.pop(p.name, None)  # phases' replacements
                   for p in net.source_populations}
        sources = {k: v if v is not None else source_spikes(pops[k], steps, net.seed, start=t0)
                   for k, v in sources.items()}
        for name, arr in sources.items():
            spikes[name][:] = arr
        vdtype = np.int64 if self.fixed else np.float64
        state_probes = [p for p in self.probes if p.var in ("u", "v")]
        records = {p.key: np.zeros((steps, pops[p.target].size), dtype=vdtype)
                   for p in state_probes}
        by_pre: dict[str, list[tuple[Synapses, InputRing, str]]] = {name: [] for name in pops}
        for name, proj in net.projections.items():
            by_pre[proj.pre].append((self.synapses[name], self.rings[proj.post], name))
        by_pre = {pre: outs for pre, outs in by_pre.items() if outs}  # population order kept
        return RunBuffers(spikes=spikes, sources=sources, state_probes=state_probes,
                           records=records, by_pre=by_pre,
                           synops={name: np.zeros(steps, dtype=np.int64) for name in self.synapses})

    def _fire(self, i: int, t: int, buf: RunBuffers) -> dict[str, np.ndarray]:
        """Update every LIF population from its input ring at step t; the step's spikes of
        neurons and sources by population (state probes record u / v here)."""
        fired = self._update_neurons(i, t, buf)
        self._record_probes(i, buf)
        self._add_sources(i, buf, fired)
        return fired

    def _update_neurons(self, i: int, t: int, buf: RunBuffers) -> dict[str, np.ndarray]:
        """Step t of every LIF population: its spikes, recorded into row i of `buf.spikes`."""
        fired: dict[str, np.ndarray] = {}
        for name, lif in self.neurons.items():
            s = lif.step(self.rings[name].take(t))
            buf.spikes[name][i] = s
            fired[name] = s
        return fired

    def _record_probes(self, i: int, buf: RunBuffers) -> None:
        """Row i of every u / v probe."""
        for p in buf.state_probes:
            buf.records[p.key][i] = getattr(self.neurons[p.target], p.var)

    def _add_sources(self, i: int, buf: RunBuffers, fired: dict[str, np.ndarray]) -> None:
        """The sources' spikes of row i, into `fired`."""
        for name, arr in buf.sources.items():
            fired[name] = arr[i]

    def _deliver(self, i: int, t: int, fired: dict[str, np.ndarray], buf: RunBuffers) -> None:
        """Send the step's spikes through every outgoing projection into the post rings."""
        for pre, outs in buf.by_pre.items():
            idx = np.flatnonzero(fired[pre])
            if idx.shape[0] == 0:
                continue
            for syn, ring, pname in outs:
                buf.synops[pname][i] = syn.deliver(idx, t, ring)

    def _learn(self, t: int, fired: dict[str, np.ndarray]) -> None:
        """Let each active learner see step t's pre, post (and modulator) spikes."""
        for pname, learner in self.learners.items():
            proj = self.network.projections[pname]
            mod = getattr(learner, "modulator", None)  # the third factor's spikes
            if mod is not None:
                learner.step(t, fired[proj.pre], fired[proj.post], modulators={mod: fired[mod]})
            else:
                learner.step(t, fired[proj.pre], fired[proj.post])

    def _finish_run(self, buf: RunBuffers, t0: int, steps: int, wall: float) -> RunResult:
        """The run's RunResult: probed values (u / v, spikes, final weights) and run metadata."""
        values: dict[str, np.ndarray] = dict(buf.records)
        for p in self.probes:
            if p.var == "spikes":
                values[p.key] = buf.spikes[p.target]
        for p in self.probes:
            if p.var == "weights":
                values[p.key] = self.synapses[p.target].dense()
        meta = {"precision": self.network.precision, "t_start": t0, "t_end": self.t,
                "synops": {k: int(v.sum()) for k, v in buf.synops.items()},
                "synops_per_step": buf.synops, "ms_per_step": 1e3 * wall / max(steps, 1)}
        return RunResult(backend="cpu", steps=steps, spikes=buf.spikes, values=values,
                         wall_s=wall, meta=meta)

    # --- phase control (used by runtime/phases.py) ----------------------------------------

    def set_weight_scale(self, name: str, scale: float) -> None:
        """Weights of static projection `name` become `scale` times the compiled ones.

        Fixed: `effective_weights(rint(scale * w0), num_weight_bits)` (Lava's clip/truncation
        of the scaled weights); float: `scale * w0`. Scales are absolute, not cumulative.
        """
        syn = self.synapses[name]
        if syn.plastic:
            raise BackendError(f"set_weight_scale('{name}'): plastic projections cannot be scaled")
        w0 = self._w0.setdefault(name, syn.weight.copy())
        w = scaled_weights(w0, scale, syn.num_weight_bits) if self.fixed else float(scale) * w0
        syn.set_weights(w.astype(w0.dtype))
        if self.fixed:
            self._bound_inputs()  # larger weights may now overflow u: re-derive the checks

    # --- end phase control ---
