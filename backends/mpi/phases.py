"""A network's `phases:` on every rank: the cpu phase driver's logic on RankSimulators.

Each rank applies the same switches and overrides (`backends.cpu.phases.apply_phase`),
feeds the same dataset chunks, and keeps spike counts (sample phases) or spikes and u / v
(step phases) of its own neurons; rank 0 gathers them into the cpu backend's results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from backends.cpu.phases import apply_phase, progress_ticker
from backends.result import RunResult
from compiler import schedule
from compiler.ir import NetworkIR, Phase, Probe
from compiler.program import Program

from .collect import full_weights, per_rank_meta, place, rank_ids
from .decompose import Decomposition
from .rank_sim import RankSimulator
from .session import Plan, guarded, meet, peak_rss_mb, simulator

Progress = Callable[[int, int], None]


def run_phases_ranks(program: Program, probes: list[Probe], comm: Any,
                     progress: Progress | None = None, plan: Plan | None = None
                     ) -> RunResult | None:
    """Every phase in order on all ranks of `comm` (probes as `schedule.phase_probes`
    resolved them); the RunResult on rank 0, None elsewhere; `plan` as for `run_ranks`."""
    def body() -> RunResult | None:
        net = program.network
        sim, decomp = simulator(program, [], comm, plan)
        state = [p for p in probes if p.var in ("v", "u")]
        weights = [p.target for p in probes if p.var == "weights"]
        total = sum(schedule.phase_steps(net, ph) for ph in net.phases)
        tick = progress_ticker(progress if comm.Get_rank() == 0 else None, total)
        meet(comm, "start of the phases")
        parts: list[tuple[str, dict[str, Any]]] = []
        info: dict[str, Any] = {}
        timing = {"compute": 0.0, "exchange": 0.0, "wait": 0.0}
        for phase in net.phases:
            t0 = time.perf_counter()
            apply_phase(sim, phase)
            if phase.split is not None:
                parts.append(("samples", _samples(sim, net, phase, tick, timing)))
            else:
                parts.append(("steps", _steps(sim, net, phase, state, tick, timing)))
            info[phase.name] = {"steps": schedule.phase_steps(net, phase),
                                "wall_s": time.perf_counter() - t0}
        meet(comm, "end of the phases")
        share = {"parts": parts, "weights": {w: sim.synapses[w].dense() for w in weights},
                 "timing": timing, "sent": sim.exchange.sent, "peak_rss_mb": peak_rss_mb(),
                 "neurons": int(sum(i.shape[0] for i in sim.ids.values())),
                 "synapses": int(sum(s.n_synapses for s in sim.synapses.values()))}
        shares = comm.gather(share, root=0)
        if comm.Get_rank() != 0:
            return None
        values = _assemble(net, decomp, shares, weights)
        meta = {"phases": info, "mpi": per_rank_meta(decomp, shares, total)}
        return RunResult(backend="mpi", steps=total, values=values, meta=meta)

    return guarded(comm, body)


def _add(timing: dict[str, float], run_timing: dict[str, float]) -> None:
    for k, v in run_timing.items():
        timing[k] += v


def _samples(sim: RankSimulator, net: NetworkIR, phase: Phase, tick: Callable[..., None],
             timing: dict[str, float]) -> dict[str, Any]:
    """A sample phase: this rank's spike counts per shown sample, and the samples shown."""
    src = schedule.dataset_population(net)
    period = schedule.shown_dataset(net, phase).period
    counts: dict[str, list[np.ndarray]] = {p: [] for p in sim.ids}
    shown = []
    for idx, spikes in schedule.sample_chunks(net, phase):
        sim.set_source_spikes(src, spikes)
        run = sim.run(len(idx) * period, progress=lambda k, _n: tick(k, partial=True))
        _add(timing, run.timing)
        for p in sim.ids:
            counts[p].append(schedule.sample_counts(run.spikes[p], len(idx), period))
        shown.append(idx)
        tick(len(idx) * period)
    return {"phase": phase.name, "shown": shown,
            "counts": {p: np.concatenate(c) if c else np.zeros((0, sim.ids[p].shape[0]), np.int32)
                       for p, c in counts.items()}}


def _steps(sim: RankSimulator, net: NetworkIR, phase: Phase, state: list[Probe],
           tick: Callable[..., None], timing: dict[str, float]) -> dict[str, Any]:
    """A steps phase: this rank's spikes and u / v (sources' spikes too: every rank has them)."""
    src = schedule.dataset_population(net)
    sim.probes = list(state)
    runs = []
    left = int(phase.steps)
    while left > 0:
        n = min(left, schedule.CHUNK_STEPS)
        if src is not None:
            sim.set_source_spikes(src, np.zeros((n, net.populations[src].size), dtype=bool))
        runs.append(sim.run(n, progress=lambda k, _n: tick(k, partial=True)))
        _add(timing, runs[-1].timing)
        tick(n)
        left -= n
    sim.probes = []
    spikes = {p: np.concatenate([r.spikes[p] for r in runs]) for p in sim.ids}
    sources = {p: np.concatenate([r.sources[p] for r in runs]) for p in runs[0].sources} \
        if runs and sim.rank == 0 else {}
    records = {p.key: np.concatenate([r.records[p.key] for r in runs]) for p in state}
    return {"phase": phase.name, "steps": int(phase.steps), "spikes": spikes,
            "sources": sources, "records": records}


def _assemble(net: NetworkIR, decomp: Decomposition, shares: list[dict[str, Any]],
              weights: list[str]) -> dict[str, np.ndarray]:
    """The cpu backend's phase values from every rank's parts (in phase order)."""
    values: dict[str, np.ndarray] = {}
    by_name = {ph.name: ph for ph in net.phases}
    for i, (kind, root_part) in enumerate(shares[0]["parts"]):
        phase = by_name[root_part["phase"]]
        parts = [s["parts"][i][1] for s in shares]
        if kind == "samples":
            counts = {p: [place([q["counts"][p] for q in parts], rank_ids(decomp, p),
                                net.populations[p].size)] for p in root_part["counts"]}
            values.update(schedule.sample_values(net, phase, root_part["shown"], counts))
            continue
        for p in net.populations:
            if p in root_part["sources"]:
                arr = root_part["sources"][p]
            elif p in root_part["spikes"]:
                arr = place([q["spikes"][p] for q in parts], rank_ids(decomp, p),
                            net.populations[p].size)
            else:  # a zero-step phase
                arr = np.zeros((0, net.populations[p].size), dtype=bool)
            values[f"{phase.name}.{p}.spikes"] = arr
        for key in root_part["records"]:
            target = key.rsplit(".", 1)[0]
            values[f"{phase.name}.{key}"] = place([q["records"][key] for q in parts],
                                                  rank_ids(decomp, target),
                                                  net.populations[target].size)
    for name in weights:
        values[f"{name}.weights"] = full_weights(net, decomp, shares, name)
    return values
