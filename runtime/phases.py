"""Run a network's `phases:` in order on one backend session (state carried over), then the readout.

Results (keys of `RunResult.values`, the same names in the results .npz):
* phase with samples: `<phase>.<pop>.counts` int32 (n_samples, size), the spikes of every
  lif population per shown sample (over its present + rest steps, the phase's own where
  `samples` gives them); `<phase>.labels`
  int64 (n_samples,) and `<phase>.samples` (dataset indices), in the order shown;
* phase with steps: `<phase>.<pop>.spikes` bool (steps, size) for every population and
  `<phase>.<pop>.v|u` for state probes (sample phases record counts only, no v/u);
* `<proj>.weights`: final (post, pre) weights of every plastic or probed projection;
* with `readout:` `readout.assignment` int64 (size,) (-1: never fired),
  `readout.predictions` int64 and `readout.accuracy` (scalar), see runtime/readout.py.
At the start of each phase its `plastic` switches and `set:` overrides are applied (they
stay until changed). Dataset sources are silent in phases without samples.
Backends: cpu runs the phases on one Simulator; lava runs them as one Lava network, one
`run()` per phase (backends/lava/phases.py), and its recordings are cut into the same
results by the same functions (`sample_chunks`, `sample_counts`), so both agree exactly.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler.datasets import encode, epoch_order, epoch_rng
from compiler.errors import BackendError, InputError
from compiler.ir import DATASET_KIND, Dataset, NetworkIR, Phase, Probe
from compiler.program import Program
from compiler.sources import source_spikes

from . import readout as ro
from .budget_check import check_phases

CHUNK_STEPS = 20000  # steps simulated per call (bounds the recorded spike arrays)


def dataset_population(net: NetworkIR) -> str | None:
    """The name of the network's dataset source (the frontend allows one with samples)."""
    names = [p.name for p in net.source_populations
             if p.source is not None and p.source.kind == DATASET_KIND]
    return names[0] if names else None


def shown_dataset(net: NetworkIR, phase: Phase) -> Dataset:
    """The dataset source's samples as a sample phase shows them: its own `present` and
    `rest` where the phase gives them, the source's otherwise."""
    ds = net.populations[dataset_population(net)].source.dataset
    if phase.present is None and phase.rest is None:
        return ds
    return dataclasses.replace(ds, present=ds.present if phase.present is None else phase.present,
                               rest=ds.rest if phase.rest is None else phase.rest)


def phase_steps(net: NetworkIR, phase: Phase) -> int:
    """How many steps a phase runs."""
    if phase.steps is not None:
        return int(phase.steps)
    ds = shown_dataset(net, phase)
    n = len(ds.splits[phase.split]) if phase.count is None else phase.count
    return n * phase.epochs * ds.period


def run_phases(program: Program, backend: str = "cpu", probes: Iterable[Probe | str] | None = None,
               *, progress: Callable[[int, int], None] | None = None, **options: Any) -> RunResult:
    """Run every phase of `program.network` on `backend` and evaluate the readout."""
    net = program.network
    if not net.phases:
        raise InputError("the network has no phases; run it with a number of steps")
    if backend not in ("cpu", "lava"):
        from backends import get_backend

        get_backend(backend)  # InputError for unknown names
        raise BackendError(f"phases are supported on the cpu and lava backends, not '{backend}'")
    chosen = list(net.probes if probes is None else probes)
    chosen = [Probe(*p.rsplit(".", 1)) if isinstance(p, str) else p for p in chosen]
    state_probes = [p for p in chosen if p.var in ("v", "u")]
    weights = [name for name, proj in net.projections.items() if proj.plasticity is not None
               or any(p.key == f"{name}.weights" for p in chosen)]
    check_phases(program, backend, state_probes, weights)  # before anything is sized by them
    total = sum(phase_steps(net, ph) for ph in net.phases)
    wall0 = time.perf_counter()
    if backend == "lava":
        values, info, extra = _lava_phases(program, state_probes, weights, progress, options)
    else:
        values, info, extra = _cpu_phases(program, state_probes, weights, progress, options)
    if net.readout is not None:
        values.update(evaluate_readout(net, values))
    wall = time.perf_counter() - wall0
    meta = {"precision": net.precision, "phases": info, "t_end": total, **extra}
    if "readout.accuracy" in values:
        meta["accuracy"] = float(values["readout.accuracy"])
    return RunResult(backend=backend, steps=total, values=values, wall_s=wall, meta=meta)


def _cpu_phases(program: Program, state_probes: list[Probe], weights: list[str],
                progress: Callable[[int, int], None] | None, options: dict[str, Any]
                ) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """The phases on one cpu Simulator (state carried over); (values, per-phase info, meta)."""
    from backends.cpu import Simulator

    net = program.network
    sim = Simulator(program, [], learner_factory=options.get("learner_factory"))
    total = sum(phase_steps(net, ph) for ph in net.phases)
    done = [0]

    def tick(n: int, partial: bool = False) -> None:
        """Report `n` more steps done; `partial`: within a chunk (counted by the final tick)."""
        if progress is not None:
            progress(done[0] + n, total)
        if not partial:
            done[0] += n

    values: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    for phase in net.phases:
        t0 = time.perf_counter()
        _apply(sim, phase)
        if phase.split is not None:
            values.update(_run_samples(sim, net, phase, tick))
        else:
            values.update(_run_steps(sim, net, phase, state_probes, tick))
        info[phase.name] = {"steps": phase_steps(net, phase), "wall_s": time.perf_counter() - t0}
    for name in weights:
        values[f"{name}.weights"] = sim.synapses[name].dense()
    return values, info, {}


def _lava_phases(program: Program, state_probes: list[Probe], weights: list[str],
                 progress: Callable[[int, int], None] | None, options: dict[str, Any]
                 ) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """The phases as one Lava network (backends/lava/phases.py), cut into the same results
    as on cpu: the sources' spikes of the whole timeline are built here, as the cpu runs them."""
    from backends.lava.phases import run_phased

    net = program.network
    steps = [phase_steps(net, ph) for ph in net.phases]
    total = sum(steps)
    src = dataset_population(net)
    sources = {p.name: source_spikes(p, total, net.seed) for p in net.source_populations
               if p.name != src}
    shown: dict[str, list[np.ndarray]] = {}
    if src is not None:
        parts = []
        for phase, n in zip(net.phases, steps, strict=True):
            if phase.split is None:
                parts.append(np.zeros((n, net.populations[src].size), dtype=bool))
                continue
            shown[phase.name] = []
            for idx, spikes in sample_chunks(net, phase):
                shown[phase.name].append(idx)
                parts.append(spikes)
        sources[src] = np.concatenate(parts) if parts else np.zeros((0, net.populations[src].size), bool)
    probes = list(state_probes) + [Probe(name, "weights") for name in weights]
    opts = {k: v for k, v in options.items() if k != "learner_factory"}  # a cpu option
    res = run_phased(program, net.phases, steps, sources, probes, progress=progress, **opts)
    values: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    run_s = res.meta.get("phase_run_s") or [float("nan")] * len(steps)
    lif = [p.name for p in net.neuron_populations]
    t = 0
    for phase, n, wall in zip(net.phases, steps, run_s, strict=True):
        if phase.split is not None:
            idx = shown[phase.name]
            k = int(sum(len(i) for i in idx))
            period = shown_dataset(net, phase).period
            counts = {p: [sample_counts(res.spikes[p][t:t + n], k, period)] for p in lif}
            values.update(_sample_values(net, phase, idx, counts))
        else:
            for p in net.populations:
                values[f"{phase.name}.{p}.spikes"] = res.spikes[p][t:t + n]
            for p in state_probes:
                values[f"{phase.name}.{p.key}"] = res.values[p.key][t:t + n]
        info[phase.name] = {"steps": n, "wall_s": wall}
        t += n
    for name in weights:
        values[f"{name}.weights"] = res.values[f"{name}.weights"]
    extra = {k: v for k, v in res.meta.items() if k != "phase_run_s"}
    extra["lava_wall_s"] = res.wall_s
    return values, info, extra


def evaluate_readout(net: NetworkIR, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`readout.assignment`, `readout.predictions`, `readout.accuracy` from the phases' counts."""
    r = net.readout
    ds = net.populations[dataset_population(net)].source.dataset
    n_classes = int(ds.y.max()) + 1 if ds.y.size else 1
    means = ro.class_means(values[f"{r.assign}.{r.population}.counts"],
                           values[f"{r.assign}.labels"], n_classes)
    assignment = ro.best_class(means)
    pred = ro.predict_vote(r.vote, means, values[f"{r.evaluate}.{r.population}.counts"])
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


def sample_chunks(net: NetworkIR, phase: Phase) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(sample indices, dataset source spikes bool (len(idx) * period, size)) of a sample
    phase, in the order shown, in chunks of at most CHUNK_STEPS steps; the concatenated
    spikes do not depend on the chunking (one generator per epoch)."""
    src = dataset_population(net)
    ds = shown_dataset(net, phase)
    orders = epoch_order(ds, phase.split, phase.count, phase.epochs, phase.shuffle, net.seed,
                         phase.name)
    chunk = max(1, CHUNK_STEPS // ds.period)
    for epoch, order in enumerate(orders):
        rng = epoch_rng(net.seed, src, phase.name, epoch)
        for lo in range(0, len(order), chunk):
            idx = order[lo:lo + chunk]
            yield idx, encode(ds, idx, rng)


def sample_counts(spikes: np.ndarray, n_samples: int, period: int) -> np.ndarray:
    """Spikes per shown sample: (n_samples * period, size) bool -> int32 (n_samples, size)."""
    return spikes.reshape(n_samples, period, -1).sum(axis=1, dtype=np.int32)


def _sample_values(net: NetworkIR, phase: Phase, shown_parts: list[np.ndarray],
                   counts: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """`<phase>.<pop>.counts`, `<phase>.labels`, `<phase>.samples` of a sample phase."""
    ds = net.populations[dataset_population(net)].source.dataset
    shown = np.concatenate(shown_parts) if shown_parts else np.zeros(0, np.int64)
    out = {f"{phase.name}.{p}.counts": np.concatenate(c) if c else
           np.zeros((0, net.populations[p].size), np.int32) for p, c in counts.items()}
    out[f"{phase.name}.labels"] = ds.y[shown]
    out[f"{phase.name}.samples"] = shown
    return out


def _run_samples(sim: Any, net: NetworkIR, phase: Phase,
                 tick: Callable[..., None]) -> dict[str, np.ndarray]:
    src = dataset_population(net)
    period = shown_dataset(net, phase).period
    lif = [p.name for p in net.neuron_populations]
    counts: dict[str, list[np.ndarray]] = {p: [] for p in lif}
    shown = []
    for idx, spikes in sample_chunks(net, phase):
        sim.set_source_spikes(src, spikes)
        res = sim.run(len(idx) * period, progress=lambda k, _n: tick(k, partial=True))
        for p in lif:
            counts[p].append(sample_counts(res.spikes[p], len(idx), period))
        shown.append(idx)
        tick(len(idx) * period)
    return _sample_values(net, phase, shown, counts)


def _run_steps(sim: Any, net: NetworkIR, phase: Phase, state_probes: list[Probe],
               tick: Callable[..., None]) -> dict[str, np.ndarray]:
    src = dataset_population(net)
    sim.probes = list(state_probes)
    parts: list[RunResult] = []
    left = int(phase.steps)
    while left > 0:
        n = min(left, CHUNK_STEPS)
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
