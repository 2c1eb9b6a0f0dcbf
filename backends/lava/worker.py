"""Child process that runs one Lava simulation: `python -m backends.lava.worker JOB.pkl OUT_DIR`.

Reads the pickled job, builds and runs the Lava network, and writes `OUT_DIR/result.pkl`
(weights read from Lava) or, on failure, `OUT_DIR/error.txt` with the original message,
written *before* `stop()` because Lava may hang in `stop()` after a model exception (the
parent's watchdog then kills this process group).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
import traceback
from typing import Any

import numpy as np


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


def _report_failure(out_dir: str, head: str, tracebacks: list[str]) -> None:
    path = os.path.join(out_dir, "error.txt")
    if os.path.exists(path):
        return
    msg = f"{head}: {_summary(tracebacks)}\n\n" + "\n\n".join(tracebacks)
    _write_atomic(path, msg.encode())


def _watch_actors(proc: Any, out_dir: str, done: threading.Event) -> None:
    """Poll Lava's model processes for exceptions while `run()` blocks: Lava's own error path
    joins every actor and so hangs when others wait on the failed one."""
    while not done.wait(0.05):
        errors = _actor_errors(proc) if proc.runtime is not None else []
        if errors:
            _report_failure(out_dir, "a Lava process model raised", errors)
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


def run_job(job: dict[str, Any], out_dir: str) -> None:
    """Build, run and read back one job (see backends.lava.run for its fields)."""
    from lava.magma.core.run_conditions import RunSteps

    from .lowering import build_network

    plan = job["plan"]
    t0 = time.perf_counter()
    built = build_network(plan, job["populations"], job["projections"], job["steps"],
                          job["sources"], out_dir, set(job["record_vu"]), job["options"])
    if job.get("schedules"):  # phases (issue 6): changes at exact steps, backends/lava/phases.py
        from .phases import attach_schedules

        attach_schedules(built, job["schedules"])
    t_build = time.perf_counter() - t0
    tag = "fixed_pt" if plan.precision == "fixed" else "floating_pt"
    if not built.record_paths:  # only spike sources: nothing for Lava to simulate
        result = {"records": {}, "weights": {}, "timing": {"build_s": t_build, "run_s": 0.0,
                                                          "read_weights_s": 0.0}}
        _write_atomic(os.path.join(out_dir, "result.pkl"), pickle.dumps(result))
        return
    # any LIF reaches every part of the network (plan.links join the parts)
    anchor = built.neurons[next(iter(built.record_paths))]
    stopped = False
    done = threading.Event()
    watcher = threading.Thread(target=_watch_actors, args=(anchor, out_dir, done), daemon=True)
    try:
        t1 = time.perf_counter()
        watcher.start()
        runs_s = []
        try:
            cfg = _run_config(job, tag)
            for n in job.get("runs") or [job["steps"]]:  # phases (issue 6): one run() per phase
                if int(n) <= 0:
                    runs_s.append(0.0)
                    continue
                t_one = time.perf_counter()
                anchor.run(condition=RunSteps(num_steps=int(n)), run_cfg=cfg)
                runs_s.append(time.perf_counter() - t_one)
        except Exception:  # report, then let the watchdog reap us (stop() may hang now)
            done.set()
            _report_failure(out_dir, "a Lava process model raised",
                            _actor_errors(anchor) or [traceback.format_exc()])
            raise
        done.set()
        t_run = time.perf_counter() - t1
        t2 = time.perf_counter()
        weights = _read_weights(built, plan, job["weight_probes"])
        t_read = time.perf_counter() - t2
        anchor.stop()
        stopped = True
        timing = {"build_s": t_build, "run_s": t_run, "read_weights_s": t_read}
        if job.get("runs"):
            timing["runs_s"] = runs_s
        result = {"records": built.record_paths, "weights": weights, "timing": timing}
        _write_atomic(os.path.join(out_dir, "result.pkl"), pickle.dumps(result))
    finally:
        if not stopped:
            anchor.stop()


def main(argv: list[str]) -> int:
    job_path, out_dir = argv[1], argv[2]
    try:
        with open(job_path, "rb") as f:
            job = pickle.load(f)
        run_job(job, out_dir)
    except BaseException as exc:  # noqa: BLE001
        err = os.path.join(out_dir, "error.txt")
        if not os.path.exists(err):
            _write_atomic(err, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}".encode())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
