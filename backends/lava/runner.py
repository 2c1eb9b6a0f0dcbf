"""Run the Lava worker in its own process group under a watchdog (Lava can hang forever).

Nothing outlives a run: the worker and every process Lava forks share one process group,
which `LavaRun` kills on every way out (result, model error, timeout, interrupt), and
removes the run's folder likewise. Should the parent itself die (even by SIGKILL), the
worker sees its watched pipe close and does both by itself (backends/lava/worker.py).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compiler.errors import BackendError

REPO_ROOT = Path(__file__).resolve().parents[2]
ERROR_GRACE_S = 1.0  # after the worker reported an error, how long it may take to exit by itself
DEBUG_ENV = "SNNC_DEBUG"  # set: worker errors carry the full Lava tracebacks
ERROR_FILE = "error.txt"  # the worker's error summary (its original messages); its presence
DETAIL_FILE = "error-detail.txt"  # is the signal, so the details are written first
DONE_FILE = "done"  # the worker finished (result or error written, Lava stopped)


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes in process group `pgid` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid or fields[0] == "Z":  # zombies are dead already
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
        members = group_members(pgid)
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
        alive = [p for p, c in group_members(pgid) if "resource_tracker" in c]
        if not alive:
            break
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGINT / SIGTERM back while cleaning up (main thread only), then deliver them:
    a second Ctrl-C or `timeout`'s SIGTERM must not stop a cleanup half way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        prev = signal.getsignal(sig)
        if prev is not None and prev is not signal.SIG_IGN:  # None: a handler set outside Python
            old[sig] = signal.signal(sig, lambda num, _frame: got.append(num))
    try:
        yield
    finally:
        for sig, prev in old.items():
            signal.signal(sig, prev)
        if got:
            signal.raise_signal(got[0])  # now, to the handler (or default action) it was meant for


def _worker_error(work: str) -> str:
    """The worker's error: its summary line(s), with Lava's tracebacks under SNNC_DEBUG."""
    with open(os.path.join(work, ERROR_FILE), encoding="utf-8", errors="replace") as f:
        text = f.read().strip()
    detail = os.path.join(work, DETAIL_FILE)
    if os.environ.get(DEBUG_ENV) and os.path.exists(detail):
        with open(detail, encoding="utf-8", errors="replace") as f:
            text += "\n\n" + f.read().strip()
    return text


def _log_tail(log_path: str) -> str:
    """The worker log's last line (its last 2000 characters under SNNC_DEBUG)."""
    if not os.path.exists(log_path):
        return ""
    with open(log_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if os.environ.get(DEBUG_ENV):
        return text[-2000:]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class LavaRun:
    """One run of the worker, as a context manager: a private folder (job, recordings, log)
    and the pipe the worker watches. Leaving the `with` block in any way (result, error,
    timeout, interrupt) kills the worker's process group and removes the folder; if this
    process dies instead, even by SIGKILL, the pipe closes and the worker does both itself.
    The worker stays alive until then, so no moment is left uncovered."""

    def __init__(self) -> None:
        self.path = ""
        self.proc: subprocess.Popen | None = None
        self._read_fd = self._write_fd = -1

    def __enter__(self) -> LavaRun:
        self.path = tempfile.mkdtemp(prefix="snnc-lava-")
        try:
            self._read_fd, self._write_fd = os.pipe()
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        with uninterrupted():
            try:
                if self.proc is not None:
                    kill_group(self.proc.pid)
                    self.proc.wait()
            finally:
                for fd in (self._read_fd, self._write_fd):
                    if fd >= 0:
                        os.close(fd)
                self._read_fd = self._write_fd = -1
                shutil.rmtree(self.path, ignore_errors=True)

    def run(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Run one job in `python -m backends.lava.worker`; return its result dict (its
        recordings stay in `path` until the block is left) or raise BackendError (model
        failure with Lava's message, timeout, crash)."""
        work = self.path
        job_path = os.path.join(work, "job.pkl")
        env = dict(os.environ)
        # the parent's import path too, so picklable callables in options (factories) import
        paths = [str(REPO_ROOT)] + [p for p in sys.path if p and os.path.isdir(p)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        log_path = os.path.join(work, "worker.log")
        err_path = os.path.join(work, ERROR_FILE)
        res_path = os.path.join(work, "result.pkl")
        done_path = os.path.join(work, DONE_FILE)
        with open(log_path, "wb") as log:  # started first: it watches the pipe from now on
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backends.lava.worker", job_path, work,
                 str(self._read_fd)], stdout=log, stderr=subprocess.STDOUT,
                cwd=str(REPO_ROOT), env=env, start_new_session=True, pass_fds=(self._read_fd,))
        proc = self.proc
        os.close(self._read_fd)
        self._read_fd = -1
        with open(job_path + ".part", "wb") as f:
            pickle.dump(job, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(job_path + ".part", job_path)
        try:
            os.write(self._write_fd, b"j")  # the job is there
        except BrokenPipeError:  # the worker died already: reported below
            pass
        start = time.monotonic()
        reason = None
        error_seen_at = None
        while True:
            if proc.poll() is not None or os.path.exists(done_path):
                break
            now = time.monotonic()
            if error_seen_at is None and os.path.exists(err_path):
                error_seen_at = now
            if error_seen_at is not None and now - error_seen_at > ERROR_GRACE_S:
                break
            if now - start > timeout_s:
                reason = "timeout"
                break
            time.sleep(0.02)
        if os.path.exists(err_path):
            raise BackendError(f"lava backend: {_worker_error(work)}")
        if reason == "timeout":
            raise BackendError(
                f"lava backend: timeout after {timeout_s:.1f} s (the Lava run did not finish; "
                "its processes were killed). Pass a larger timeout_s if the network is just slow")
        if not os.path.exists(res_path):
            tail = _log_tail(log_path)
            raise BackendError(f"lava backend: worker exited with status {proc.poll()} "
                               f"and no result\n{tail}".rstrip())
        with open(res_path, "rb") as f:
            return pickle.load(f)
