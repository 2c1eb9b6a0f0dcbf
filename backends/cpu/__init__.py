"""The CPU backend: an event-driven simulator, bit-exact to Lava's fixed_pt models.

Two engines: `compiled` (default; numba kernels, multi-threaded, backends/cpu/compiled.py)
and `numpy` (the reference, backends/cpu/simulator.py); they give the same results.

`run` runs steps from rest, `phases.run_phases` a network's phases; `backend.BACKEND` is both
as a `backends.contract.Backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from backends.result import RunResult
from compiler.ir import Probe
from compiler.lava_weights import effective_weights, sign_mode
from compiler.program import Program

from .compiled import OPTIONS, CompiledSimulator, make_simulator
from .simulator import LearnerFactory, Simulator
from .synapses import Synapses

__all__ = ["run", "Simulator", "CompiledSimulator", "Synapses", "effective_weights",
           "sign_mode", "OPTIONS"]


def run(program: Program, steps: int, probes: Iterable[Probe | str] | None = None, *,
        learner_factory: LearnerFactory | None = None,
        progress: Callable[[int, int], None] | None = None, **options: Any) -> RunResult:
    """Run `program` for `steps` steps from rest; probes default to the network's probes.

    `engine="compiled"` (default, numba kernels on `threads` threads, default all cores) or
    `"numpy"` (the reference engine); `timing=True` puts seconds per part of the step into
    `result.meta["timing"]`. Other options are meant for other backends and are listed in
    `result.meta["ignored_options"]`.
    """
    own = {k: options.pop(k) for k in OPTIONS if k in options and options[k] is not None}
    options = {k: v for k, v in options.items() if k not in OPTIONS}
    sim = make_simulator(program, probes, learner_factory=learner_factory, **own)
    result = sim.run(steps, progress=progress)
    result.meta["engine"] = own.get("engine", "compiled")
    if options:
        result.meta["ignored_options"] = sorted(options)
    return result
