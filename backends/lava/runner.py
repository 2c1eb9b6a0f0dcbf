"""Run the Lava worker in its own process group under a watchdog (Lava can hang forever)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from compiler.errors import BackendError

REPO_ROOT = Path(__file__).resolve().parents[2]
ERROR_GRACE_S = 1.0  # after the worker reported an error, how long it may take to exit by itself


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes in process group `pgid` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            out.append((int(entry), cmd))
        except (OSError, ValueError, IndexError):
            continue
    return out


def kill_group(pgid: int, grace_s: float = 5.0) -> None:
    """SIGKILL every process of the group but Python's shared-memory resource tracker, give the
    tracker `grace_s` to unlink Lava's leaked segments, then kill whatever is left."""
    try:
        members = _group_members(pgid)
    except OSError:
        members = []
    for pid, cmd in members:
        if "resource_tracker" not in cmd:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        alive = [p for p, c in _group_members(pgid) if "resource_tracker" in c]
        if not alive:
            break
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_worker(job: dict[str, Any], work_dir: str, timeout_s: float) -> dict[str, Any]:
    """Run one job in `python -m backends.lava.worker`; return its result dict or raise
    BackendError (model failure with Lava's message, timeout, crash)."""
    job_path = os.path.join(work_dir, "job.pkl")
    with open(job_path, "wb") as f:
        pickle.dump(job, f, protocol=pickle.HIGHEST_PROTOCOL)
    env = dict(os.environ)
    # the parent's import path too, so picklable callables in options (factories) import there
    paths = [str(REPO_ROOT)] + [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    log_path = os.path.join(work_dir, "worker.log")
    err_path = os.path.join(work_dir, "error.txt")
    res_path = os.path.join(work_dir, "result.pkl")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "backends.lava.worker", job_path, work_dir],
                                stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO_ROOT),
                                env=env, start_new_session=True)
    start = time.monotonic()
    reason = None
    error_seen_at = None
    try:
        while True:
            rc = proc.poll()
            if rc is not None:
                break
            now = time.monotonic()
            if error_seen_at is None and os.path.exists(err_path):
                error_seen_at = now
            if error_seen_at is not None and now - error_seen_at > ERROR_GRACE_S:
                reason = "error"
                break
            if now - start > timeout_s:
                reason = "timeout"
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None or reason is not None:
            kill_group(proc.pid)
            proc.wait()
        else:  # the worker exited; reap any stray Lava children it left behind
            kill_group(proc.pid, grace_s=1.0)
    if os.path.exists(err_path):
        with open(err_path, encoding="utf-8", errors="replace") as f:
            raise BackendError(f"lava backend: {f.read().strip()}")
    if reason == "timeout":
        raise BackendError(
            f"lava backend: timeout after {timeout_s:.1f} s (the Lava run did not finish; its "
            "processes were killed). Pass a larger timeout_s if the network is just slow")
    if not os.path.exists(res_path):
        tail = ""
        if os.path.exists(log_path):
            with open(log_path, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-2000:]
        raise BackendError(f"lava backend: worker exited with status {proc.returncode} "
                           f"and no result\n{tail}".rstrip())
    with open(res_path, "rb") as f:
        return pickle.load(f)
