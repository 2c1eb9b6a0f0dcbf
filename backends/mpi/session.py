"""A run on every rank of a communicator: decompose, simulate, gather on rank 0.

Every rank calls `run_ranks` (or `run_phases_ranks`) with the same program; rank 0 gets
the RunResult, the others None. An exception on any rank ends the whole job with
MPI_Abort (exit status 2 for bad input, 1 otherwise) after printing which rank failed
and why, so no rank waits forever and no partial result is written.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from backends.result import RunResult
from compiler.errors import SnncError
from compiler.ir import Probe
from compiler.program import Program

from .collect import assemble_run
from .decompose import Decomposition, decompose
from .exchange import collective_timeout, wait_for
from .local import Facts
from .rank_sim import LocalRun, RankSimulator

ABORT_GRACE_S = 0.2  # seconds a failing rank waits between its message and MPI_Abort
Progress = Callable[[int, int], None]
Plan = tuple[Decomposition, dict[str, Facts]]  # a launcher's decomposition and facts


def guarded(comm: Any, fn: Callable[[], Any]) -> Any:
    """`fn()`; on an exception with several ranks: say which rank failed, MPI_Abort."""
    try:
        return fn()
    except BaseException as exc:
        if comm.Get_size() == 1:
            raise
        code = exc.exit_code if isinstance(exc, SnncError) else 1
        what = str(exc) if isinstance(exc, SnncError) else f"{type(exc).__name__}: {exc}"
        line = f"snnc: error: mpi rank {comm.Get_rank()} of {comm.Get_size()}: {what}\n"
        sys.stderr.write(line)
        sys.stderr.flush()
        _record_error(line)
        time.sleep(ABORT_GRACE_S)  # let mpiexec forward the line before Abort ends the job
        comm.Abort(code)
        os._exit(code)  # Abort ends every rank; never go on in a broken job


def _record_error(line: str) -> None:
    """Also write a failing rank's message to the file `--ranks` launches name (the first
    rank to fail keeps it): mpiexec may end the job before it forwards the rank's stderr."""
    path = os.environ.get("SNNC_MPI_ERROR_FILE")
    if not path:
        return
    try:
        with open(path, "x") as fh:
            fh.write(line)
    except OSError:  # another rank wrote first, or the folder is gone
        pass


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def share_of(sim: RankSimulator, run: LocalRun, weights: list[str]) -> dict[str, Any]:
    """What a rank sends to rank 0 at the end of a run."""
    return {"spikes": run.spikes, "records": run.records, "synops": run.synops,
            "timing": run.timing, "sent": sim.exchange.sent,
            "neurons": int(sum(i.shape[0] for i in sim.ids.values())),
            "synapses": int(sum(s.n_synapses for s in sim.synapses.values())),
            "weights": {w: sim.synapses[w].dense() for w in weights},
            "peak_rss_mb": peak_rss_mb()}


def meet(comm: Any, what: str) -> None:
    """A barrier with the collective timeout (a rank that stopped ends the job)."""
    wait_for(comm.Ibarrier(), collective_timeout(), what)


def simulator(program: Program, probes: list[Probe], comm: Any, plan: Plan | None
              ) -> tuple[RankSimulator, Decomposition]:
    """This rank's simulator: of the whole `program` (decomposed here), or of its shard
    with the launcher's `plan` (decomposition, projection facts)."""
    if plan is None:
        decomp = decompose(program, comm.Get_size())
        return RankSimulator(program, probes, decomp, comm), decomp
    decomp, facts = plan
    return RankSimulator(program, probes, decomp, comm, facts, release=True), decomp


def run_ranks(program: Program, steps: int, probes: list[Probe], comm: Any,
              progress: Progress | None = None, plan: Plan | None = None) -> RunResult | None:
    """`steps` steps from rest on all ranks of `comm`; the RunResult on rank 0."""
    def body() -> RunResult | None:
        rank = comm.Get_rank()
        sim, decomp = simulator(program, probes, comm, plan)
        meet(comm, "start of the run")
        wall0 = time.perf_counter()
        run = sim.run(steps, progress if rank == 0 else None)
        wall = time.perf_counter() - wall0
        meet(comm, "end of the run")
        weights = [p.target for p in sim.probes if p.var == "weights"]
        shares = comm.gather(share_of(sim, run, weights), root=0)
        if rank != 0:
            return None
        return assemble_run(program.network, decomp, shares, run.sources, sim.probes, steps,
                            0, wall)

    return guarded(comm, body)
