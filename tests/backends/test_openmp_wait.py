"""The compiled engine picks how OpenMP threads wait (a short spin when it has the cores to
itself, else sleeping) when its first simulator is built, not at import, and never
overrides a user's own setting."""

from __future__ import annotations

import os
import subprocess
import sys

from repo import ROOT

# builds a compiled simulator of a small network, then shows the two settings
SHOW = """
import os, sys
sys.path.insert(0, "tests")
from compiler_helpers import two_layer
from compiler.program import Program
from compiler.target import Target
from backends.cpu.compiled import make_simulator
untouched = "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
make_simulator(Program(network=two_layer(), target=Target("t"), core_of={}, cores=[]))
print(os.environ.get("GOMP_SPINCOUNT"), os.environ.get("OMP_WAIT_POLICY"), untouched)
"""


def wait_settings(**env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, env={**base, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out


def test_exactly_one_wait_setting_is_chosen():
    spin, policy, untouched_at_import = wait_settings()
    assert (spin, policy) in (("10000", "None"), ("None", "PASSIVE"))
    assert untouched_at_import == "True"


def test_a_users_setting_wins():
    assert wait_settings(OMP_WAIT_POLICY="ACTIVE") == ["None", "ACTIVE", "False"]
    assert wait_settings(GOMP_SPINCOUNT="5") == ["5", "None", "False"]


def test_a_busy_machine_sleeps():
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)]
    try:
        assert wait_settings() == ["None", "PASSIVE", "True"]
    finally:
        for h in hogs:
            h.kill()
            h.wait()
