"""The mpi backend from the command line, as users start it: `snnc run --backend mpi
--ranks K` and `mpiexec -n K snnc run --backend mpi`; results equal the cpu backend's key
for key; a failing or silent rank ends the job with exit 1 and a message, no result file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runner import snnc
from repo import EXAMPLES, ROOT

pytest.importorskip("mpi4py")
MPIEXEC = Path(sys.executable).parent / "mpiexec"
NET = str(EXAMPLES / "two_layer.yaml")
pytestmark = pytest.mark.skipif(not MPIEXEC.is_file(), reason="no mpiexec beside Python")


def mpiexec_snnc(n: int, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
    """`mpiexec -n N snnc ARGS` from the repository root."""
    return subprocess.run([str(MPIEXEC), "-n", str(n), sys.executable, "-m", "runtime.cli",
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def same_npz(a: Path, b: Path) -> None:
    x, y = np.load(a), np.load(b)
    assert sorted(x.files) == sorted(y.files)
    for k in x.files:
        assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), k


@pytest.fixture(scope="module")
def cpu_result(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cpu") / "cpu.npz"
    r = snnc("run", NET, "--backend", "cpu", "-q", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_ranks_flag_writes_the_cpu_result(tmp_path, cpu_result):
    out = tmp_path / "mpi.npz"
    r = snnc("run", NET, "--backend", "mpi", "--ranks", "2", "-q", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "mpi backend: 200 steps" in r.stdout
    same_npz(cpu_result, out)


@pytest.mark.slow
def test_under_mpiexec_rank_0_alone_writes_and_prints(tmp_path, cpu_result):
    out = tmp_path / "mpi.npz"
    r = mpiexec_snnc(3, "run", NET, "--backend", "mpi", "-q", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("wrote ") == 1 and r.stdout.count("mpi backend:") == 1
    assert r.stderr.count("lost 1 bits") == 2  # the compiler's two warnings, once each
    same_npz(cpu_result, out)
    assert [p.name for p in tmp_path.iterdir()] == ["mpi.npz"]  # no temporary left


@pytest.mark.slow
def test_a_failing_rank_ends_the_job_with_exit_1(tmp_path):
    out = tmp_path / "r.npz"
    env = {**os.environ, "SNNC_MPI_FAIL": "1:10"}
    r = snnc("run", NET, "--backend", "mpi", "--ranks", "2", "-q", "-o", str(out), env=env)
    assert r.returncode == 1
    assert "mpi rank 1 of 2: failure injected at step 10" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    r = mpiexec_snnc(2, "run", NET, "--backend", "mpi", "-q", "-o", str(out), env=env)
    assert r.returncode != 0 and "mpi rank 1 of 2: failure injected" in r.stderr
    assert not out.exists()


@pytest.mark.slow
def test_a_silent_rank_ends_the_job_after_the_collective_timeout(tmp_path):
    out = tmp_path / "r.npz"
    env = {**os.environ, "SNNC_MPI_FAIL": "1:5:hang", "SNNC_MPI_TIMEOUT": "2"}
    r = snnc("run", NET, "--backend", "mpi", "--ranks", "2", "-q", "-o", str(out), env=env,
             timeout=60)
    assert r.returncode == 1
    assert "mpi rank 0 of 2: spike exchange (counts): no answer" in r.stderr
    assert not out.exists()


def test_ranks_must_agree_with_the_launcher(tmp_path):
    r = mpiexec_snnc(2, "run", NET, "--backend", "mpi", "--ranks", "3", "-o",
                     str(tmp_path / "r.npz"))
    assert r.returncode == 2
    assert "--ranks 3: this command was started by an MPI launcher with 2 ranks; " \
           "allowed: no --ranks, or --ranks 2" in r.stderr


def test_bad_rank_counts_are_bad_input(tmp_path):
    r = snnc("run", NET, "--backend", "mpi", "--ranks", "0", "-o", str(tmp_path / "r.npz"))
    assert r.returncode == 2 and "--ranks" in r.stderr and "integer >= 1" in r.stderr
    r = snnc("run", NET, "--backend", "cpu", "--ranks", "2", "-o", str(tmp_path / "r.npz"))
    assert r.returncode == 2 and "--backend mpi only" in r.stderr


@pytest.mark.slow
def test_profile_reports_every_rank():
    r = snnc("profile", NET, "--backend", "mpi", "--ranks", "2", "--steps", "50", "-q", "--json")
    assert r.returncode == 0, r.stderr
    import json

    mpi = json.loads(r.stdout)["mpi"]
    assert mpi["ranks"] == 2 and mpi["imbalance"] >= 1.0
    ranks = mpi["per_rank"]
    assert [x["rank"] for x in ranks] == [0, 1]
    assert sum(x["neurons"] for x in ranks) == 32 + 8  # hid + out, each on one rank only
    from compiler.frontend import load_network

    whole = sum(p.n_synapses for p in load_network(NET).projections.values())
    assert sum(x["synapses"] for x in ranks) == whole  # every synapse on exactly one rank
    for x in ranks:
        for part in ("compute", "exchange", "wait"):
            assert x[f"{part}_ms_per_step"] >= 0
    r = snnc("profile", NET, "--backend", "mpi", "--ranks", "2", "--steps", "50", "-q")
    assert "mpi ranks: 2, load imbalance (max / mean compute)" in r.stdout
