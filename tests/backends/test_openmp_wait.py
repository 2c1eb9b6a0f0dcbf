"""The cpu backend picks how OpenMP threads wait (a short spin when it has the cores to
itself, else sleeping) and never overrides a user's own setting."""

from __future__ import annotations

import os
import subprocess
import sys

from repo import ROOT

SHOW = ("import os, backends.cpu; print(os.environ.get('GOMP_SPINCOUNT'), "
        "os.environ.get('OMP_WAIT_POLICY'))")


def wait_settings(**env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, env={**base, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out


def test_exactly_one_wait_setting_is_chosen():
    spin, policy = wait_settings()
    assert (spin, policy) in (("10000", "None"), ("None", "PASSIVE"))


def test_a_users_setting_wins():
    assert wait_settings(OMP_WAIT_POLICY="ACTIVE") == ["None", "ACTIVE"]
    assert wait_settings(GOMP_SPINCOUNT="5") == ["5", "None"]


def test_a_busy_machine_sleeps():
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)]
    try:
        assert wait_settings() == ["None", "PASSIVE"]
    finally:
        for h in hogs:
            h.kill()
            h.wait()
