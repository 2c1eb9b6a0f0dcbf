"""The CPU backend: an event-driven simulator, bit-exact to Lava's fixed_pt models.

Two engines: `compiled` (default; numba kernels, multi-threaded, backends/cpu/compiled.py)
and `numpy` (the reference, backends/cpu/simulator.py); they give the same results.

`run` runs steps from rest, `phases.run_phases` a network's phases; `backend.BACKEND` is both
as a `backends.contract.Backend`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from backends.result import RunResult
from compiler.ir import Probe
from compiler.lava_weights import effective_weights, sign_mode
from compiler.program import Program

from .compiled import OPTIONS, CompiledSimulator, make_simulator
from .simulator import LearnerFactory, Simulator
from .synapses import Synapses


def _openmp_wait_default() -> None:
    """How the compiled engine's OpenMP threads wait between a step's parallel regions.

    Spinning briefly (GOMP_SPINCOUNT 10000, about 0.1 ms) keeps a woken thread's start
    cheap: 100k neurons on 2 idle cores, 0.35-0.39 ms/step against 0.51 sleeping. When
    other processes hold the cores, a spinning thread takes the core the working one
    needs (1 busy core: 2.09 against 1.05 ms/step; OpenMP's unbounded default spin: 7.9
    ms per region), so then threads sleep (passive). Decided when the backend is
    imported (numba starts its threads on the first parallel kernel); a user's setting
    wins.
    """
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    if _alone():
        os.environ["GOMP_SPINCOUNT"] = "10000"
    else:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _alone() -> bool:
    """Whether the engine's threads have cores to themselves: other processes running now
    (state R in /proc) plus numba's threads fit the cores."""
    import numba

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


_openmp_wait_default()

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
