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
  `readout.predictions` int64 and `readout.accuracy` (scalar), see runtime/readout.py;
  kind `output_population`: `readout.class_counts`, `readout.predictions`,
  `readout.accuracy`, `readout.confusion` instead.
At the start of each phase its `plastic` switches and `set:` overrides are applied (they
stay until changed). Dataset sources are silent in phases without samples.
The backend runs the phases (`Backend.run_phases`: cpu on one Simulator, lava as one Lava
network with one `run()` per phase), showing the same samples and cutting its recordings
into the same results (compiler/schedule.py), so backends agree exactly; the readout and
the result's metadata are added here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from backends import get_backend
from backends.result import RunResult
from compiler.errors import InputError
from compiler.ir import NetworkIR, Probe
from compiler.program import Program
from compiler.schedule import dataset_population, phase_probes, phase_steps

from . import readout as ro
from .budget_check import check_phases


def run_phases(program: Program, backend: str = "cpu", probes: Iterable[Probe | str] | None = None,
               *, progress: Callable[[int, int], None] | None = None, **options: Any) -> RunResult:
    """Run every phase of `program.network` on `backend` and evaluate the readout."""
    net = program.network
    if not net.phases:
        raise InputError("the network has no phases; run it with a number of steps")
    engine = get_backend(backend)  # InputError for unknown names
    if not engine.capabilities.phases:
        raise InputError(f"backend '{backend}' cannot run phases; allowed: a backend that "
                         "runs phases (cpu, lava), or a number of steps")
    recorded = phase_probes(net, probes)
    state_probes = [p for p in recorded if p.var in ("v", "u")]
    weights = [p.target for p in recorded if p.var == "weights"]
    check_phases(program, not engine.capabilities.phases_in_chunks, state_probes,
                 weights)  # before anything is sized by them
    engine.check(program, options, phases=True)
    total = sum(phase_steps(net, ph) for ph in net.phases)
    wall0 = time.perf_counter()
    res = engine.run_phases(program, recorded, progress=progress, **options)
    values = dict(res.values)
    if net.readout is not None:
        values.update(evaluate_readout(net, values))
    wall = time.perf_counter() - wall0
    extra = dict(res.meta)
    meta = {"precision": net.precision, "phases": extra.pop("phases"), "t_end": total, **extra}
    if "readout.accuracy" in values:
        meta["accuracy"] = float(values["readout.accuracy"])
    return RunResult(backend=backend, steps=total, values=values, wall_s=wall, meta=meta)


def evaluate_readout(net: NetworkIR, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`readout.assignment`, `readout.predictions`, `readout.accuracy` from the phases' counts."""
    r = net.readout
    ds = net.populations[dataset_population(net)].source.dataset
    n_classes = int(ds.y.max()) + 1 if ds.y.size else 1
    if r.kind == "output_population":
        return ro.output_readout(values[f"{r.evaluate}.{r.population}.counts"],
                                 values[f"{r.evaluate}.labels"], n_classes)
    means = ro.class_means(values[f"{r.assign}.{r.population}.counts"],
                           values[f"{r.assign}.labels"], n_classes)
    assignment = ro.best_class(means)
    pred = ro.predict_vote(r.vote, means, values[f"{r.evaluate}.{r.population}.counts"])
    acc = ro.accuracy(pred, values[f"{r.evaluate}.labels"])
    return {"readout.assignment": assignment, "readout.predictions": pred,
            "readout.accuracy": np.asarray(acc)}
