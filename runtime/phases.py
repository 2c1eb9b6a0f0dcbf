"""Run a network's `phases:` in order on one backend session (state carried over), then the readout.

Results (keys of `RunResult.values`, the same names in the results .npz):
* phase with samples: `<phase>.<pop>.counts` int32 (n_samples, size), the spikes of every
  lif population per shown sample (over its present + rest steps); `<phase>.labels`
  int64 (n_samples,) and `<phase>.samples` (dataset indices), in the order shown;
* phase with steps: `<phase>.<pop>.spikes` bool (steps, size) for every population and
  `<phase>.<pop>.v|u` for state probes (sample phases record counts only, no v/u);
* `<proj>.weights`: final (post, pre) weights of every plastic or probed projection;
* with `readout:` `readout.assignment` int64 (size,) (-1: never fired),
  `readout.predictions` int64 and `readout.accuracy` (scalar), see runtime/readout.py.
At the start of each phase its `plastic` switches and `set:` overrides are applied (they
stay until changed). Dataset sources are silent in phases without samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler.datasets import encode, epoch_order, epoch_rng
from compiler.errors import BackendError, InputError
from compiler.ir import DATASET_KIND, NetworkIR, Phase, Probe
from compiler.program import Program

from . import readout as ro

CHUNK_STEPS = 20000  # steps simulated per call (bounds the recorded spike arrays)
LAVA_MESSAGE = "phases are supported on the cpu backend only in this version"


def dataset_population(net: NetworkIR) -> str | None:
    """The name of the network's dataset source (the frontend allows one with samples)."""
    names = [p.name for p in net.source_populations
             if p.source is not None and p.source.kind == DATASET_KIND]
    return names[0] if names else None


def phase_steps(net: NetworkIR, phase: Phase) -> int:
    """How many steps a phase runs."""
    if phase.steps is not None:
        return int(phase.steps)
    ds = net.populations[dataset_population(net)].source.dataset
    n = len(ds.splits[phase.split]) if phase.count is None else phase.count
    return n * phase.epochs * ds.period


def run_phases(program: Program, backend: str = "cpu", probes: Iterable[Probe | str] | None = None,
               *, progress: Callable[[int, int], None] | None = None, **options: Any) -> RunResult:
    """Run every phase of `program.network` on `backend` and evaluate the readout."""
    net = program.network
    if not net.phases:
        raise InputError("the network has no phases; run it with a number of steps")
    if backend == "lava":
        raise BackendError(LAVA_MESSAGE)
    if backend != "cpu":
        from backends import get_backend

        get_backend(backend)  # InputError for unknown names
        raise BackendError(LAVA_MESSAGE)
    from backends.cpu import Simulator

    chosen = list(net.probes if probes is None else probes)
    chosen = [Probe(*p.rsplit(".", 1)) if isinstance(p, str) else p for p in chosen]
    state_probes = [p for p in chosen if p.var in ("v", "u")]
    sim = Simulator(program, [], learner_factory=options.get("learner_factory"))
    total = sum(phase_steps(net, ph) for ph in net.phases)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    values: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    wall0 = time.perf_counter()
    for phase in net.phases:
        t0 = time.perf_counter()
        _apply(sim, phase)
        if phase.split is not None:
            values.update(_run_samples(sim, net, phase, tick))
        else:
            values.update(_run_steps(sim, net, phase, state_probes, tick))
        info[phase.name] = {"steps": phase_steps(net, phase), "wall_s": time.perf_counter() - t0}
    for name, syn in sim.synapses.items():
        proj = net.projections[name]
        if proj.plasticity is not None or any(p.key == f"{name}.weights" for p in chosen):
            values[f"{name}.weights"] = syn.dense()
    if net.readout is not None:
        values.update(evaluate_readout(net, values))
    wall = time.perf_counter() - wall0
    meta = {"precision": net.precision, "phases": info, "t_end": sim.t}
    if "readout.accuracy" in values:
        meta["accuracy"] = float(values["readout.accuracy"])
    return RunResult(backend=backend, steps=total, values=values, wall_s=wall, meta=meta)


def evaluate_readout(net: NetworkIR, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`readout.assignment`, `readout.predictions`, `readout.accuracy` from the phases' counts."""
    r = net.readout
    ds = net.populations[dataset_population(net)].source.dataset
    n_classes = int(ds.y.max()) + 1 if ds.y.size else 1
    assignment = ro.assign_labels(values[f"{r.assign}.{r.population}.counts"],
                                  values[f"{r.assign}.labels"], n_classes)
    pred = ro.predict(values[f"{r.evaluate}.{r.population}.counts"], assignment, n_classes)
    acc = ro.accuracy(pred, values[f"{r.evaluate}.labels"])
    return {"readout.assignment": assignment, "readout.predictions": pred,
            "readout.accuracy": np.asarray(acc)}


def _apply(sim: Any, phase: Phase) -> None:
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


def _run_samples(sim: Any, net: NetworkIR, phase: Phase,
                 tick: Callable[[int], None]) -> dict[str, np.ndarray]:
    src = dataset_population(net)
    ds = net.populations[src].source.dataset
    lif = [p.name for p in net.neuron_populations]
    orders = epoch_order(ds, phase.split, phase.count, phase.epochs, phase.shuffle, net.seed,
                         phase.name)
    chunk = max(1, CHUNK_STEPS // ds.period)
    counts: dict[str, list[np.ndarray]] = {p: [] for p in lif}
    for epoch, order in enumerate(orders):
        rng = epoch_rng(net.seed, src, phase.name, epoch)
        for lo in range(0, len(order), chunk):
            idx = order[lo:lo + chunk]
            sim.set_source_spikes(src, encode(ds, idx, rng))
            res = sim.run(len(idx) * ds.period)
            for p in lif:
                s = res.spikes[p].reshape(len(idx), ds.period, -1)
                counts[p].append(s.sum(axis=1, dtype=np.int32))
            tick(len(idx) * ds.period)
    shown = np.concatenate(orders) if orders else np.zeros(0, np.int64)
    out = {f"{phase.name}.{p}.counts": np.concatenate(c) if c else
           np.zeros((0, net.populations[p].size), np.int32) for p, c in counts.items()}
    out[f"{phase.name}.labels"] = ds.y[shown]
    out[f"{phase.name}.samples"] = shown
    return out


def _run_steps(sim: Any, net: NetworkIR, phase: Phase, state_probes: list[Probe],
               tick: Callable[[int], None]) -> dict[str, np.ndarray]:
    src = dataset_population(net)
    sim.probes = list(state_probes)
    parts: list[RunResult] = []
    left = int(phase.steps)
    while left > 0:
        n = min(left, CHUNK_STEPS)
        if src is not None:
            sim.set_source_spikes(src, np.zeros((n, net.populations[src].size), dtype=bool))
        parts.append(sim.run(n))
        tick(n)
        left -= n
    sim.probes = []
    out = {f"{phase.name}.{p}.spikes": np.concatenate([r.spikes[p] for r in parts])
           for p in net.populations}
    for p in state_probes:
        out[f"{phase.name}.{p.key}"] = np.concatenate([r.values[p.key] for r in parts])
    return out
