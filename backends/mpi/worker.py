"""The program every rank of a `--ranks K` job runs: `python -m backends.mpi.worker JOB.json`.

JOB.json names each rank's shard file (or, with `--build ranks`, the network description
each rank builds its shard from), the mode ("run" with `steps`, or "phases"), the
probe keys and the result file, which rank 0 alone writes (atomically) once every rank is
done.
"""

from __future__ import annotations

import json
import pickle
import sys

from compiler.ir import Probe


def _progress(done: int, total: int) -> None:
    from .launch import PROGRESS

    print(f"{PROGRESS} {done} {total}", flush=True)


def main(argv: list[str]) -> int:
    """Run the job named by argv[0] on this rank; 0 when done (failures abort the job)."""
    from compiler.fileio import write_bytes_atomic

    from .session import guarded
    from .world import world

    comm = world()
    job = guarded(comm, lambda: json.loads(open(argv[0]).read()))
    probes = [Probe(*k.rsplit(".", 1)) for k in job["probes"]]
    progress = _progress if comm.Get_rank() == 0 else None
    if "build" in job:  # --build ranks: this rank builds its own shard
        from .built import run_built

        desc = guarded(comm, lambda: pickle.loads(open(job["build"], "rb").read()))
        result = run_built(desc, job, probes, comm, progress)
    else:
        result = _run_shard(job, probes, comm, progress)
    if result is not None:
        guarded(comm, lambda: write_bytes_atomic(job["result"], pickle.dumps(result, protocol=5)))
    return 0


def _run_shard(job: dict, probes: list[Probe], comm: object, progress: object) -> object:
    """Run the launcher's shard of this rank."""
    from .launch import load_shard
    from .phases import run_phases_ranks
    from .session import guarded, run_ranks

    program, decomp, facts = guarded(comm, lambda: load_shard(job["shards"][comm.Get_rank()]))
    if job["mode"] == "phases":
        result = run_phases_ranks(program, probes, comm, progress, (decomp, facts))
    else:
        result = run_ranks(program, int(job["steps"]), probes, comm, progress, (decomp, facts))
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
