"""The program every rank of a `--ranks K` job runs: `python -m backends.mpi.worker JOB.json`.

JOB.json names each rank's shard file, the mode ("run" with `steps`, or "phases"), the
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

    from .launch import load_shard
    from .phases import run_phases_ranks
    from .session import guarded, run_ranks
    from .world import world

    comm = world()
    job = guarded(comm, lambda: json.loads(open(argv[0]).read()))
    program, decomp, facts = guarded(comm, lambda: load_shard(job["shards"][comm.Get_rank()]))
    probes = [Probe(*k.rsplit(".", 1)) for k in job["probes"]]
    progress = _progress if comm.Get_rank() == 0 else None
    if job["mode"] == "phases":
        result = run_phases_ranks(program, probes, comm, progress, (decomp, facts))
    else:
        result = run_ranks(program, int(job["steps"]), probes, comm, progress, (decomp, facts))
    if result is not None:
        guarded(comm, lambda: write_bytes_atomic(job["result"], pickle.dumps(result, protocol=5)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
