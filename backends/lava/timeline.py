"""A network's `phases:` on Lava: the sources' spikes of the whole timeline are built as the
cpu backend feeds them, the phases run back to back as one Lava network
(`phases.run_phased`), and the recordings are cut into the same phase results as on cpu
(`compiler.schedule.sample_counts`, `sample_values`), so both backends agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler import schedule
from compiler.ir import NetworkIR, Probe
from compiler.program import Program
from compiler.sources import source_spikes

from .phases import run_phased


def run_phases(program: Program, probes: Iterable[Probe | str] | None = None, *,
               progress: Callable[[int, int], None] | None = None, **options: Any) -> RunResult:
    """Every phase of `program.network` as one Lava network (see `backends.contract.Backend`);
    `progress` is called once, at the end. `meta` adds the Lava run's own (`lava_wall_s`:
    its wall time). Options: those of `run_phased`; `learner_factory` (a cpu option) is
    ignored."""
    net = program.network
    recorded = schedule.phase_probes(net, probes)
    state_probes = [p for p in recorded if p.var in ("v", "u")]
    weights = [p.target for p in recorded if p.var == "weights"]
    steps = [schedule.phase_steps(net, ph) for ph in net.phases]
    sources, shown = _timeline_sources(net, steps)
    opts = {k: v for k, v in options.items() if k != "learner_factory"}
    res = run_phased(program, net.phases, steps, sources, recorded, progress=progress, **opts)
    values: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    run_s = res.meta.get("phase_run_s") or [float("nan")] * len(steps)
    lif = [p.name for p in net.neuron_populations]
    t = 0
    for phase, n, wall in zip(net.phases, steps, run_s, strict=True):
        if phase.split is not None:
            idx = shown[phase.name]
            k = int(sum(len(i) for i in idx))
            period = schedule.shown_dataset(net, phase).period
            counts = {p: [schedule.sample_counts(res.spikes[p][t:t + n], k, period)]
                      for p in lif}
            values.update(schedule.sample_values(net, phase, idx, counts))
        else:
            for p in net.populations:
                values[f"{phase.name}.{p}.spikes"] = res.spikes[p][t:t + n]
            for p in state_probes:
                values[f"{phase.name}.{p.key}"] = res.values[p.key][t:t + n]
        info[phase.name] = {"steps": n, "wall_s": wall}
        t += n
    for name in weights:
        values[f"{name}.weights"] = res.values[f"{name}.weights"]
    meta = {"phases": info, **{k: v for k, v in res.meta.items() if k != "phase_run_s"}}
    meta["lava_wall_s"] = res.wall_s
    return RunResult(backend="lava", steps=sum(steps), values=values, meta=meta)


def _timeline_sources(net: NetworkIR, steps: list[int]
                      ) -> tuple[dict[str, np.ndarray], dict[str, list[np.ndarray]]]:
    """Every source's spikes over all phases (the dataset source silent outside sample
    phases) and the sample indices each sample phase shows, chunk by chunk."""
    total = sum(steps)
    src = schedule.dataset_population(net)
    sources = {p.name: source_spikes(p, total, net.seed) for p in net.source_populations
               if p.name != src}
    shown: dict[str, list[np.ndarray]] = {}
    if src is not None:
        size = net.populations[src].size
        parts = []
        for phase, n in zip(net.phases, steps, strict=True):
            if phase.split is None:
                parts.append(np.zeros((n, size), dtype=bool))
                continue
            shown[phase.name] = []
            for idx, spikes in schedule.sample_chunks(net, phase):
                shown[phase.name].append(idx)
                parts.append(spikes)
        sources[src] = np.concatenate(parts) if parts else np.zeros((0, size), bool)
    return sources, shown
