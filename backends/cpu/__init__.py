"""The CPU backend: an event-driven numpy simulator, bit-exact to Lava's fixed_pt models.

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

from .simulator import LearnerFactory, Simulator
from .synapses import Synapses

__all__ = ["run", "Simulator", "Synapses", "effective_weights", "sign_mode"]


def run(program: Program, steps: int, probes: Iterable[Probe | str] | None = None, *,
        learner_factory: LearnerFactory | None = None,
        progress: Callable[[int, int], None] | None = None, **options: Any) -> RunResult:
    """Run `program` for `steps` steps from rest; probes default to the network's probes.

    Options other than `learner_factory` and `progress` are meant for other backends and
    are listed in `result.meta["ignored_options"]`.
    """
    sim = Simulator(program, probes, learner_factory=learner_factory)
    result = sim.run(steps, progress=progress)
    if options:
        result.meta["ignored_options"] = sorted(options)
    return result
