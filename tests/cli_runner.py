"""Run the `snnc` command in a child process, as a user would, for tests of exit codes,
messages and the cost of hostile inputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from repo import ROOT

# Runs the CLI in a grandchild and writes its peak RSS (KiB) and CPU seconds to argv[1]: a
# child forked straight from pytest would count pytest's own memory (inherited at fork).
LAUNCHER = """
import resource, subprocess, sys
rc = subprocess.call([sys.executable, "-m", "runtime.cli", *sys.argv[2:]])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{u.ru_maxrss} {u.ru_utime + u.ru_stime}")
sys.exit(rc)
"""


def snnc(*args: str, cwd: Path = ROOT, timeout: float = 120,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`snnc ARGS` (from the repository root unless `cwd`); stdout and stderr as text."""
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Measured:
    """Exit status, stderr, wall and CPU seconds and peak resident memory of one command."""

    rc: int
    err: str
    seconds: float
    cpu_seconds: float  # user + system: not inflated by a busy machine
    peak_mb: float


class TooLong(Exception):
    """The command ran past its time limit (it was killed with its whole process group)."""


def snnc_measured(*args: str, timeout: float = 60,
                  env: dict[str, str] | None = None) -> Measured:
    """`snnc ARGS` with its time and peak memory measured; TooLong past `timeout` seconds."""
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryFile() as err:
        usage_file = Path(d) / "usage"
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(usage_file), *args],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TooLong(f"snnc {' '.join(args)} ran for more than {timeout} s") from None
        seconds = time.monotonic() - start
        maxrss_kib, cpu_s = usage_file.read_text().split()
        err.seek(0)
        return Measured(rc, err.read().decode("utf-8", "replace"), seconds, float(cpu_s),
                        int(maxrss_kib) / 1024)
