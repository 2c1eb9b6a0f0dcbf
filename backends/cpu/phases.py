"""A network's `phases:` on one cpu Simulator, state carried over from phase to phase.

At the start of each phase its `plastic` switches and `set:` overrides are applied (they
stay until changed); sample phases feed the dataset source chunk by chunk
(`compiler.schedule.sample_chunks`) and keep spike counts per sample, step phases record
spikes and v/u probes (the dataset source is silent).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler import schedule
from compiler.errors import BackendError
from compiler.ir import NetworkIR, Phase, Probe
from compiler.program import Program

from .compiled import OPTIONS, make_simulator
from .simulator import LearnerFactory, Simulator

Tick = Callable[..., None]


def progress_ticker(progress: Callable[[int, int], None] | None, total: int) -> Tick:
    """`tick(n, partial=False)`: report `n` more steps done of `total` to `progress`;
    `partial`: within a chunk (the chunk's final tick counts its steps)."""
    done = [0]

    def tick(n: int, partial: bool = False) -> None:
        if progress is not None:
            progress(done[0] + n, total)
        if not partial:
            done[0] += n
    return tick


def run_phases(program: Program, probes: Iterable[Probe | str] | None = None, *,
               progress: Callable[[int, int], None] | None = None,
               learner_factory: LearnerFactory | None = None, **options: Any) -> RunResult:
    """Every phase of `program.network` on one Simulator (see `backends.contract.Backend`).

    `engine`, `threads` and `timing` as in `backends.cpu.run` (timing: seconds per part
    of the step over all phases in `meta["timing"]`); other options are meant for other
    backends (listed in `meta["ignored_options"]`).
    """
    own = {k: options[k] for k in OPTIONS if options.get(k) is not None}
    ignored = sorted(k for k in options if k not in OPTIONS)
    net = program.network
    recorded = schedule.phase_probes(net, probes)
    state_probes = [p for p in recorded if p.var in ("v", "u")]
    weights = [p.target for p in recorded if p.var == "weights"]
    sim = make_simulator(program, [], learner_factory=learner_factory, **own)
    total = sum(schedule.phase_steps(net, ph) for ph in net.phases)
    tick = progress_ticker(progress, total)

    values: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    for phase in net.phases:
        t0 = time.perf_counter()
        apply_phase(sim, phase)
        if phase.split is not None:
            values.update(_run_samples(sim, net, phase, tick))
        else:
            values.update(_run_steps(sim, net, phase, state_probes, tick))
        info[phase.name] = {"steps": schedule.phase_steps(net, phase),
                            "wall_s": time.perf_counter() - t0}
    for name in weights:
        values[f"{name}.weights"] = sim.synapses[name].dense()
    meta: dict[str, Any] = {"phases": info, "engine": own.get("engine", "compiled")}
    if sim.timing:
        meta["timing"] = dict(sim.time_parts)
    if ignored:
        meta["ignored_options"] = ignored
    return RunResult(backend="cpu", steps=total, values=values, meta=meta)


def apply_phase(sim: Simulator, phase: Phase) -> None:
    """The phase's plasticity switches and `set:` overrides."""
    for name, on in phase.plastic.items():
        sim.set_plastic(name, on)
    for ov in phase.overrides:
        if ov.kind == "weight_scale":
            sim.set_weight_scale(ov.target, ov.value)
        elif ov.kind == "lif":
            sim.set_lif_param(ov.target, ov.param, ov.value)
        elif ov.kind == "adapt":
            sim.set_lif_param(ov.target, f"adapt.{ov.param}", ov.value)
        elif ov.kind != "plastic":  # plastic was folded into phase.plastic by the frontend
            raise BackendError(f"unknown override kind '{ov.kind}' ({ov.path})")


def _run_samples(sim: Simulator, net: NetworkIR, phase: Phase, tick: Tick
                 ) -> dict[str, np.ndarray]:
    """A sample phase: spike counts per shown sample of every lif population."""
    src = schedule.dataset_population(net)
    period = schedule.shown_dataset(net, phase).period
    lif = [p.name for p in net.neuron_populations]
    counts: dict[str, list[np.ndarray]] = {p: [] for p in lif}
    shown = []
    for idx, spikes in schedule.sample_chunks(net, phase):
        sim.set_source_spikes(src, spikes)
        res = sim.run(len(idx) * period, progress=lambda k, _n: tick(k, partial=True))
        for p in lif:
            counts[p].append(schedule.sample_counts(res.spikes[p], len(idx), period))
        shown.append(idx)
        tick(len(idx) * period)
    return schedule.sample_values(net, phase, shown, counts)


def _run_steps(sim: Simulator, net: NetworkIR, phase: Phase, state_probes: list[Probe],
               tick: Tick) -> dict[str, np.ndarray]:
    """A steps phase: spikes of every population and the v/u probes, in chunks."""
    src = schedule.dataset_population(net)
    sim.probes = list(state_probes)
    parts: list[RunResult] = []
    left = int(phase.steps)
    while left > 0:
        n = min(left, schedule.CHUNK_STEPS)
        if src is not None:
            sim.set_source_spikes(src, np.zeros((n, net.populations[src].size), dtype=bool))
        parts.append(sim.run(n, progress=lambda k, _n: tick(k, partial=True)))
        tick(n)
        left -= n
    sim.probes = []
    out = {f"{phase.name}.{p}.spikes": np.concatenate([r.spikes[p] for r in parts])
           for p in net.populations}
    for p in state_probes:
        out[f"{phase.name}.{p.key}"] = np.concatenate([r.values[p.key] for r in parts])
    return out
