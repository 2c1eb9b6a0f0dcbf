"""What every backend provides to the runtime: `Backend`, with the `Capabilities` it declares.

The runtime reaches a backend only through `backends.get_backend(name)`, so a new backend
(another engine, a distributed one) plugs in by implementing this and adding one registry
entry in `backends/__init__.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from compiler.ir import Probe
    from compiler.program import Program

    from .result import RunResult

Progress = Callable[[int, int], None]  # progress(steps done, steps in all)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can run, as facts the runtime and checks can read up front;
    `Backend.check` names the parts of a given program it cannot run, and why."""

    phases: bool  # runs a network's `phases:` with state carried over (`run_phases`)
    plasticity: bool  # runs plastic projections (learning rules)
    plasticity_with_delay: bool  # plastic projections may have synaptic delays > 0
    wta: bool  # winner-take-all populations
    progress: bool  # calls `progress(done, total)` while a run goes on, not only at its end
    float_precision: bool  # runs networks of precision float (all run fixed)
    duplicate_synapses: bool  # several synapses of one projection may join the same pair
    phases_in_chunks: bool  # phased runs record in bounded chunks (False: the whole timeline
    # of recordings comes back at once, which the runtime's memory check must allow for)


@runtime_checkable
class Backend(Protocol):
    """A backend: runs a compiled Program and returns a RunResult (backends/result.py)."""

    name: str
    capabilities: Capabilities
    options: tuple[str, ...]  # keyword options its run / run_phases take from the command line

    def check(self, program: Program, options: dict[str, Any], *, phases: bool = False
              ) -> None:
        """InputError naming everything of `program` (with `options`; with its phases when
        `phases`) this backend cannot run, before anything starts; None when it can."""
        ...

    def run(self, program: Program, steps: int, probes: Iterable[Probe | str] | None = None,
            *, progress: Progress | None = None, **options: Any) -> RunResult:
        """`steps` steps from rest; spikes of every population plus `probes` (default: the
        network's). `progress` is called as steps complete (where capabilities.progress)."""
        ...

    def run_phases(self, program: Program, probes: Iterable[Probe | str] | None = None, *,
                   progress: Progress | None = None, **options: Any) -> RunResult:
        """Every phase of `program.network` in order, state carried over. `values` holds the
        phase results (keys as listed in runtime/phases.py; `probes` as resolved by
        `compiler.schedule.phase_probes`), `meta["phases"]` {phase: {"steps", "wall_s"}}."""
        ...


# A backend may run as several processes that an MPI launcher (mpiexec, mpirun, srun)
# started, each running the whole command; then only rank 0 prints and writes files.
# The launchers' rank variables: MPICH / Intel MPI / Slurm PMI, Open MPI, PMIx, MVAPICH.
RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")


def launched_rank() -> int | None:
    """This process's rank when an MPI launcher started it, else None (read from the
    environment, without initialising MPI)."""
    for var in RANK_VARS:
        text = os.environ.get(var, "").strip()
        if text.isdigit():
            return int(text)
    return None


def is_root() -> bool:
    """False only on the ranks other than 0 of a launched job: they print and write nothing."""
    rank = launched_rank()
    return rank is None or rank == 0
