"""The mpi backend as a `backends.contract.Backend` (registered in backends/__init__.py).

Under an MPI launcher (`mpiexec -n K snnc run ... --backend mpi`) every rank runs the
command and takes part in the run; each gets the same RunResult back (rank 0 gathers it
and broadcasts it), and only rank 0 prints and writes files. Otherwise `ranks` K starts K
local ranks with the bundled mpiexec (backends/mpi/launch.py); without `ranks` the run is
one rank in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from backends.contract import Capabilities
from backends.cpu.simulator import parse_probe
from backends.result import RunResult
from compiler import schedule
from compiler.errors import InputError
from compiler.ir import Probe
from compiler.program import Program

from . import world

Progress = Callable[[int, int], None]


class MpiBackend:
    """The cpu engine distributed over MPI ranks: bit-exact with the cpu backend."""

    name = "mpi"
    capabilities = Capabilities(phases=True, plasticity=True, plasticity_with_delay=True,
                                wta=True, progress=True, float_precision=True,
                                duplicate_synapses=True, phases_in_chunks=True)
    options: tuple[str, ...] = ("ranks", "threads", "build")

    def check(self, program: Program, options: dict[str, Any], *, phases: bool = False
              ) -> None:
        """Refuse a rank count that disagrees with the MPI launcher that started us, and a
        `build` that is neither "whole" nor a network description."""
        _rank_count(options.get("ranks"))
        _description(options.get("build"))

    def run(self, program: Program, steps: int, probes: Iterable[Probe | str] | None = None,
            *, progress: Progress | None = None, **options: Any) -> RunResult:
        """`steps` steps from rest on the ranks (see the module docstring)."""
        net = program.network
        chosen = [parse_probe(p, net) for p in (net.probes if probes is None else probes)]
        job = {"mode": "run", "steps": int(steps), "probes": [p.key for p in chosen]}
        return _dispatch(program, job, chosen, progress, options)

    def run_phases(self, program: Program, probes: Iterable[Probe | str] | None = None, *,
                   progress: Progress | None = None, **options: Any) -> RunResult:
        """Every phase of the network in order, state carried over, on the ranks."""
        chosen = schedule.phase_probes(program.network, probes)
        job = {"mode": "phases", "probes": [p.key for p in chosen]}
        return _dispatch(program, job, chosen, progress, options)


def _rank_count(ranks: int | None) -> int | None:
    """The rank count to launch (None: run in this process or under the launcher)."""
    if ranks is not None and (not isinstance(ranks, int) or isinstance(ranks, bool) or ranks < 1):
        raise InputError(f"ranks: {ranks!r}; allowed: an integer >= 1")
    if world.under_mpiexec():
        size = world.world().Get_size()
        if ranks is not None and ranks != size:
            raise InputError(f"--ranks {ranks}: this command was started by an MPI launcher "
                             f"with {size} ranks; allowed: no --ranks, or --ranks {size}")
        return None
    return ranks


def _dispatch(program: Program, job: dict[str, Any], probes: list[Probe],
              progress: Progress | None, options: dict[str, Any]) -> RunResult:
    """Run `job` under the launcher, on launched ranks, or as one rank here."""
    from .phases import run_phases_ranks
    from .session import run_ranks

    ranks = _rank_count(options.get("ranks"))
    desc = _description(options.get("build"))
    if ranks is not None:
        from .launch import launch

        result = launch(program, job, ranks, options.get("threads"), progress, desc)
        return _attached(program, result, desc)
    comm = world.world() if world.under_mpiexec() else world.self_comm()
    if comm.Get_rank() != 0:
        progress = None
    if desc is not None:
        from .built import run_built

        result = run_built(desc, job, probes, comm, progress)
    elif job["mode"] == "phases":
        result = run_phases_ranks(program, probes, comm, progress)
    else:
        result = run_ranks(program, job["steps"], probes, comm, progress)
    if comm.Get_size() > 1:
        result = comm.bcast(result, root=0)
    return _attached(program, result, desc)


def _description(build: Any) -> Any:
    """The network description to build on the ranks (`--build ranks`: the runtime passes
    compiler.distributed's Description), or None to run the compiled program."""
    if build is None or build == "whole":
        return None
    if isinstance(build, str):
        raise InputError(f"build: {build!r} with a compiled program; allowed: \"whole\", or "
                         "\"ranks\" through runtime.api.run / snnc run with a network file")
    return build


def _attached(program: Program, result: RunResult, desc: Any) -> RunResult:
    """`result`, the skeleton `program` given the gathered synapse lists (a ranks build)."""
    if desc is not None:
        from .built import attach_synapses

        attach_synapses(program, result)
    return result


BACKEND = MpiBackend()
