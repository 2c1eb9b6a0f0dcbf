"""Child process that runs one Lava simulation:
`python -m backends.lava.worker JOB.pkl OUT_DIR [PARENT_FD]`.

Reads the pickled job, builds and runs the Lava network, and writes `OUT_DIR/result.pkl`
(weights read from Lava) or, on failure, `OUT_DIR/error.txt` with the original messages
(Lava's tracebacks go to `error-detail.txt`), written *before* `stop()` because Lava may
hang in `stop()` after a model exception (the parent's watchdog then kills this process
group); then `OUT_DIR/done`. PARENT_FD is the read end of a pipe the parent holds open
(backends/lava/runner.py): one byte on it says JOB.pkl is written; its end (the parent is
done with the run, or died, even by SIGKILL) makes this process kill its process group
and remove OUT_DIR.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import shutil
import signal
import sys
import threading
import time
import traceback
from typing import Any

import numpy as np

from compiler.errors import SnncError

from .runner import DETAIL_FILE, DONE_FILE, ERROR_FILE, group_members

PR_SET_PDEATHSIG = 1  # linux/prctl.h
UNIX_PATH_MAX = 107  # bytes of a Unix socket's path (Linux)


def _write_atomic(path: str, data: bytes) -> None:
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _actor_errors(proc: Any) -> list[str]:
    """Tracebacks Lava collected from its model processes (it only logs them at INFO)."""
    try:
        actors = proc.runtime._messaging_infrastructure.actors
    except AttributeError:
        return []
    out = []
    for actor in actors:
        try:
            exc = actor.exception
        except Exception:  # noqa: BLE001 - best effort while Lava is failing
            continue
        if exc:
            out.append(str(exc[1]).strip())
    return out


def _summary(tracebacks: list[str]) -> str:
    """The last line of each traceback (`RuntimeError: ...`): the original error messages."""
    lines = [tb.strip().splitlines()[-1] for tb in tracebacks if tb.strip()]
    return "; ".join(dict.fromkeys(lines))


def _report_failure(out_dir: str, summary: str, detail: str) -> None:
    """The error for the parent: the details first, then the summary (whose file it polls)."""
    path = os.path.join(out_dir, ERROR_FILE)
    if os.path.exists(path):
        return
    _write_atomic(os.path.join(out_dir, DETAIL_FILE), detail.encode())
    _write_atomic(path, summary.encode())


def _report_model_failure(out_dir: str, tracebacks: list[str]) -> None:
    _report_failure(out_dir, f"a Lava process model raised: {_summary(tracebacks)}",
                    "\n\n".join(tracebacks))


# -- dying with the parent ------------------------------------------------------------


def _load_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: no prctl
        return None


_PRCTL = _load_prctl()  # looked up once: a forked child must not dlopen


def _set_pdeathsig(sig: int) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (no-op elsewhere)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


_ABANDONING = threading.RLock()  # re-entrant: a second SIGTERM may land inside the handler


def _abandon(out_dir: str) -> None:
    """The parent is gone: SIGKILL this run's Lava processes, remove the run's folder, die.
    Python's resource tracker is spared: once the others are dead it unlinks Lava's shared
    memory segments and exits by itself."""
    with _ABANDONING:  # the pipe watcher and the SIGTERM handler may both come here
        me = os.getpid()
        for _ in range(2):  # again, for a process Lava forked meanwhile
            for pid, cmd in group_members(os.getpgrp()):
                if pid != me and "resource_tracker" not in cmd:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)
        _remove_dir(out_dir)
        os.kill(me, signal.SIGKILL)


def _remove_dir(path: str) -> None:
    """Remove the run's folder although other threads of this process may still write into
    it: renamed first (their next file fails to open), then removed."""
    gone = f"{path}.gone-{os.getpid()}"
    try:
        os.rename(path, gone)
    except OSError:
        gone = path
    for _ in range(20):
        shutil.rmtree(gone, ignore_errors=True)
        if not os.path.lexists(gone):
            return
        time.sleep(0.01)


def _watch_parent(fd: int, out_dir: str, job_ready: threading.Event) -> None:
    """Block on the parent's pipe: a byte says the job file is written; the end of the pipe
    means the parent is done with the run's folder, or gone."""
    try:
        while os.read(fd, 1):
            job_ready.set()
    except OSError:
        pass
    _abandon(out_dir)


def _die_with_parent(fd: int | None, out_dir: str) -> threading.Event:
    """Never outlive the parent: a thread watching its pipe (first line), and Linux's parent-
    death signal (second line): SIGTERM here, handled like the pipe closing, and SIGKILL in
    every process Lava forks from this one, so none of them outlives this worker either.
    Returns the event set once the parent has written the job (at once without a pipe)."""
    me = os.getpid()
    job_ready = threading.Event()
    forker = [me]  # the pid of the process that forks (set before each fork)

    def on_term(num: int, _frame: Any) -> None:
        if os.getpid() == me:
            _abandon(out_dir)
        os._exit(128 + num)

    def in_child() -> None:
        _set_pdeathsig(signal.SIGKILL)
        if os.getppid() != forker[0]:  # the parent died before the line above
            os._exit(1)
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except ValueError:  # not the main thread: on_term's pid check covers it
            pass

    signal.signal(signal.SIGTERM, on_term)
    _set_pdeathsig(signal.SIGTERM)
    os.register_at_fork(before=lambda: forker.__setitem__(0, os.getpid()),
                        after_in_child=in_child)
    if fd is None:
        job_ready.set()
    else:
        threading.Thread(target=_watch_parent, args=(fd, out_dir, job_ready), daemon=True,
                         name="snnc-parent-watch").start()
    return job_ready


def _watch_actors(proc: Any, out_dir: str, done: threading.Event) -> None:
    """Poll Lava's model processes for exceptions while `run()` blocks: Lava's own error path
    joins every actor and so hangs when others wait on the failed one."""
    while not done.wait(0.05):
        errors = _actor_errors(proc) if proc.runtime is not None else []
        if errors:
            _report_model_failure(out_dir, errors)
            return


def _read_weights(built: Any, plan: Any, probed: list[str]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Final weights of the probed projections, one (block key, (post, pre) matrix) per block."""
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for key, block in plan.blocks.items():
        if block.proj not in probed:
            continue
        w = built.synapses[key].weights.get()
        w = np.asarray(w.toarray() if hasattr(w, "toarray") else w)  # Sparse: a csr matrix
        out.setdefault(block.proj, []).append((key, w.reshape(block.shape)))
    return out


def _run_config(job: dict[str, Any], tag: str) -> Any:
    """Loihi2SimCfg for the precision; option `proc_model_map` (a dict Process -> ProcessModel,
    or a picklable callable taking the precision and returning one) overrides model choice,
    e.g. for the learning models of backends.lava.learning."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    pmm = job["options"].get("proc_model_map")
    if callable(pmm):
        pmm = pmm(job["plan"].precision)
    return Loihi2SimCfg(select_tag=tag, exception_proc_model_map=pmm or None)


def _build(job: dict[str, Any], out_dir: str) -> tuple[Any, float]:
    """The Lava network of the job (schedules attached) and the seconds it took."""
    from .lowering import build_network

    plan = job["plan"]
    t0 = time.perf_counter()
    built = build_network(plan, job["populations"], job["projections"], job["steps"],
                          job["sources"], out_dir, set(job["record_vu"]), job["options"])
    if job.get("schedules"):  # phases: changes at exact steps, backends/lava/phases.py
        from .phases import attach_schedules

        attach_schedules(built, job["schedules"])
    return built, time.perf_counter() - t0


def _write_result(out_dir: str, result: dict[str, Any]) -> None:
    _write_atomic(os.path.join(out_dir, "result.pkl"), pickle.dumps(result))


def _run_steps(anchor: Any, job: dict[str, Any], out_dir: str) -> list[float]:
    """One Lava `run()` per phase (one for a plain run); the seconds of each. A failure is
    reported (with Lava's model errors) before it propagates."""
    from lava.magma.core.run_conditions import RunSteps

    tag = "fixed_pt" if job["plan"].precision == "fixed" else "floating_pt"
    runs_s = []
    done = threading.Event()
    watcher = threading.Thread(target=_watch_actors, args=(anchor, out_dir, done), daemon=True)
    watcher.start()
    try:
        cfg = _run_config(job, tag)
        for n in job.get("runs") or [job["steps"]]:
            if int(n) <= 0:
                runs_s.append(0.0)
                continue
            t_one = time.perf_counter()
            anchor.run(condition=RunSteps(num_steps=int(n)), run_cfg=cfg)
            runs_s.append(time.perf_counter() - t_one)
    except Exception:  # report, then let the watchdog reap us (stop() may hang now)
        done.set()
        _report_model_failure(out_dir, _actor_errors(anchor) or [traceback.format_exc()])
        raise
    done.set()
    return runs_s


def run_job(job: dict[str, Any], out_dir: str) -> None:
    """Build, run and read back one job (see backends.lava.run for its fields)."""
    plan = job["plan"]
    built, t_build = _build(job, out_dir)
    if not built.record_paths:  # only spike sources: nothing for Lava to simulate
        _write_result(out_dir, {"records": {}, "weights": {}, "timing": {
            "build_s": t_build, "run_s": 0.0, "read_weights_s": 0.0}})
        return
    # any LIF reaches every part of the network (plan.links join the parts)
    anchor = built.neurons[next(iter(built.record_paths))]
    stopped = False
    try:
        t1 = time.perf_counter()
        runs_s = _run_steps(anchor, job, out_dir)
        t_run = time.perf_counter() - t1
        t2 = time.perf_counter()
        weights = _read_weights(built, plan, job["weight_probes"])
        t_read = time.perf_counter() - t2
        anchor.stop()
        stopped = True
        timing = {"build_s": t_build, "run_s": t_run, "read_weights_s": t_read}
        if job.get("runs"):
            timing["runs_s"] = runs_s
        _write_result(out_dir, {"records": built.record_paths, "weights": weights,
                                "timing": timing})
    finally:
        if not stopped:
            anchor.stop()


def _keep_temp_files_in(out_dir: str) -> None:
    """Temporary files of this process, and multiprocessing's sockets (Lava's shared memory
    manager listens on one), go into the run's folder, so that removing it removes them,
    when that folder's path leaves room for a socket name (else the system's default)."""
    import multiprocessing
    import tempfile

    path = os.path.abspath(out_dir)
    if len(os.fsencode(path)) + len("/listener-12345678") <= UNIX_PATH_MAX:
        tempfile.tempdir = path
        multiprocessing.current_process()._config["tempdir"] = path  # no pymp-* folder


def main(argv: list[str]) -> int:
    """Run the job; with a parent pipe, then wait until the parent closes it (it has read
    the recordings), so that this process outlives every moment the run's folder exists."""
    job_path, out_dir = argv[1], argv[2]
    fd = int(argv[3]) if len(argv) > 3 else None
    job_ready = _die_with_parent(fd, out_dir)
    _keep_temp_files_in(out_dir)
    status = 0
    try:
        job_ready.wait()
        with open(job_path, "rb") as f:
            job = pickle.load(f)
        run_job(job, out_dir)
    except BaseException as exc:  # noqa: BLE001
        head = str(exc) if isinstance(exc, SnncError) else f"{type(exc).__name__}: {exc}"
        _report_failure(out_dir, head, traceback.format_exc())
        status = 1
    _write_atomic(os.path.join(out_dir, DONE_FILE), b"")
    if fd is not None:
        threading.Event().wait()  # the pipe watcher ends this process
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
