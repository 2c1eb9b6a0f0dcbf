"""`--ranks K`: run a program on K local ranks started with the MPI next to this Python.

Each rank gets a temporary file with its shard of the program (only the synapses onto its
neurons, see `local.shard`), or with `--build ranks` one file with the network
description from which every rank builds its own shard (built.py); the result comes
back as one file written atomically by rank 0 (complete or absent); rank 0 reports
progress on stdout.
A watchdog ends the job when it stops reporting for longer than the collective timeout.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.result import RunResult
from compiler.errors import BackendError, InputError
from compiler.program import Program

from .exchange import collective_timeout

PROGRESS = "snnc-mpi-progress"
ERROR_MARK = "snnc: error: mpi rank "
ERROR_FILE = "SNNC_MPI_ERROR_FILE"  # where launched ranks also write that message


def mpiexec_path() -> str:
    """The mpiexec installed beside this Python (the bundled MPICH), else one on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("mpiexec")
    if found is None:
        raise BackendError("mpi backend: no mpiexec beside Python or on PATH; install the "
                           "mpich and mpi4py packages (make installs them)")
    return found


def rank_env(threads: int | None) -> dict[str, str]:
    """The ranks' environment: `threads` (default 1) threads per rank for numeric libraries."""
    env = dict(os.environ)
    n = str(threads or 1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env[var] = n
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def launch(program: Program, job: dict[str, Any], ranks: int, threads: int | None,
           progress: Callable[[int, int], None] | None = None, build: Any = None
           ) -> RunResult:
    """Run `job` (see backends/mpi/worker.py) on `ranks` ranks; rank 0's RunResult. With
    `build` (a compiler.distributed Description) each rank builds its own shard from it."""
    with tempfile.TemporaryDirectory(prefix="snnc-mpi-") as tmp:
        folder = Path(tmp)
        if build is None:
            job = {**job, "shards": write_shards(program, ranks, folder)}
        else:
            (folder / "network.pkl").write_bytes(pickle.dumps(build, protocol=5))
            job = {**job, "build": str(folder / "network.pkl")}
        job["result"] = str(folder / "result.pkl")
        (folder / "job.json").write_text(json.dumps(job))
        cmd = [mpiexec_path(), "-n", str(ranks), sys.executable, "-m", "backends.mpi.worker",
               str(folder / "job.json")]
        errors = folder / "error.txt"  # a failing rank's message, beside its stderr line
        env = {**rank_env(threads), ERROR_FILE: str(errors)}
        rc, err = _supervise(cmd, env, progress)
        if errors.is_file():  # mpiexec may end before it forwards the rank's stderr
            err = errors.read_text() + err
        result_file = folder / "result.pkl"
        if rc != 0 or not result_file.is_file():
            raise _failure(rc, err, ranks)
        with open(result_file, "rb") as fh:
            return pickle.load(fh)


def write_shards(program: Program, ranks: int, folder: Path) -> list[str]:
    """One file per rank: its shard of the program (the synapses onto its neurons), the
    decomposition and the whole projections' facts; a rank never loads the whole network."""
    from .decompose import decompose
    from .local import projection_facts, shard

    decomp = decompose(program, ranks)
    facts = projection_facts(program.network)
    paths = []
    for r in range(ranks):
        path = folder / f"rank{r}.pkl"
        path.write_bytes(pickle.dumps((shard(program, decomp.owner, r), decomp, facts),
                                      protocol=5))
        paths.append(str(path))
    return paths


def load_shard(path: str) -> tuple[Program, Any, Any]:
    """(shard program, decomposition, facts) as `write_shards` wrote them."""
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _supervise(cmd: list[str], env: dict[str, str],
               progress: Callable[[int, int], None] | None) -> tuple[int, str]:
    """Run the job; forward its progress; end it when silent too long or interrupted."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    err: list[str] = []
    seen = [time.monotonic()]
    err_reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    err_reader.start()

    def read_stdout() -> None:
        for line in proc.stdout:
            seen[0] = time.monotonic()
            parts = line.split()
            if len(parts) == 3 and parts[0] == PROGRESS and progress is not None:
                progress(int(parts[1]), int(parts[2]))

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    limit = 2 * collective_timeout() + 60
    try:
        while proc.poll() is None:
            time.sleep(0.05)
            if time.monotonic() - seen[0] > limit:
                _stop(proc)
                err.append(f"snnc: the mpi job reported nothing for {limit:g} s: ended\n")
                break
    except BaseException:
        _stop(proc)
        raise
    proc.wait()
    reader.join(timeout=5)
    err_reader.join(timeout=5)  # a failing rank's message may still be in the pipe
    return proc.returncode, "".join(err)


def _stop(proc: subprocess.Popen) -> None:
    """End the launcher and every rank it started (their own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def _failure(rc: int, err: str, ranks: int) -> Exception:
    """The error a failed job raises: the failing rank's own message where it gave one."""
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    ours = [ln for ln in lines if ln.startswith(ERROR_MARK)]
    if ours:
        text = ours[0][len("snnc: error: "):]
        if rc == 2:
            return InputError(text)
        return BackendError(f"{text} (the job on {ranks} ranks was ended)")
    tail = "; ".join(lines[-3:]) if lines else "no message"
    return BackendError(f"mpi job on {ranks} ranks failed (mpiexec exit status {rc}): {tail}")
