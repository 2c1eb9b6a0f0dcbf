"""The lava backend under hostile conditions: its parent killed or terminated mid-run, bad
watchdog limits, programs it cannot run, failing models. Nothing may outlive a run (no
process of its group, no file in the temp folder), bad input is exit 2 before Lava starts,
and no child traceback reaches the user unless SNNC_DEBUG is set."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from lava_nets import lif_pop, program_of, projection, source_pop, two_layer
from repo import ROOT

import backends.lava as bl
from backends.lava import UnsupportedError, check_program
from compiler.errors import BackendError, InputError
from compiler.ir import Adapt, NetworkIR, Override, Phase, Plasticity

pytestmark = pytest.mark.lava

WORKER = "backends.lava.worker"
LONG = "1000000"  # steps: the run is still going when it is signalled


def _processes() -> list[tuple[int, int, str]]:
    """(pid, process group, command line) of every live (not zombie) process."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
            fields = stat[stat.rindex(")") + 2:].split()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except (OSError, ValueError):
            continue
        if fields[0] != "Z":
            out.append((int(entry), int(fields[2]), cmd))
    return out


def _workers(tmp: Path) -> list[tuple[int, int, str]]:
    """Lava worker processes (the worker and what Lava forked) of runs under folder `tmp`."""
    return [p for p in _processes() if WORKER in p[2] and str(tmp) in p[2]]


def _wait_for_lava(proc: subprocess.Popen, tmp: Path, limit_s: float = 90) -> set[int]:
    """Wait until Lava runs (the worker has forked its model processes); their groups."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = _workers(tmp)
        if len(found) >= 3:
            return {g for _, g, _ in found}
        assert proc.poll() is None, f"the run ended early: {proc.communicate()}"
        time.sleep(0.1)
    raise AssertionError("the Lava worker did not start in time")


def _leftovers(tmp: Path, groups: set[int]) -> tuple[list, list]:
    procs = [p for p in _processes() if p[1] in groups or (WORKER in p[2] and str(tmp) in p[2])]
    files = []
    for root, dirs, names in os.walk(tmp):  # (errors of a folder removed meanwhile ignored)
        files += [os.path.relpath(os.path.join(root, n), tmp) for n in dirs + names]
    return procs, sorted(files)


def _assert_all_gone(tmp: Path, groups: set[int], limit_s: float = 10) -> None:
    """Within `limit_s`: no process of the run's groups and nothing in its temp folder."""
    deadline = time.monotonic() + limit_s
    while True:
        procs, files = _leftovers(tmp, groups)
        if not procs and not files:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind: processes {procs}, files {files}")
        time.sleep(0.1)


def _kill_all(proc: subprocess.Popen, groups: set[int]) -> None:
    """Test hygiene: whatever a failed test left running."""
    for g in groups | {proc.pid}:
        try:
            os.killpg(g, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait(timeout=30)


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, TMPDIR=str(tmp), **extra)
    env.pop("SNNC_DEBUG", None)
    return env


def _start(args: list[str], tmp: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=_env(tmp, **extra), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snnc_run(tmp: Path) -> list[str]:
    return [sys.executable, "-m", "runtime.cli", "run", "examples/two_layer.yaml", "--backend",
            "lava", "--steps", LONG, "-o", str(tmp / "out.npz"), "-q"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_signalled_cli_leaves_no_process_or_file(tmp_path, sig):
    """SIGKILL to snnc alone (nothing of it runs again: the worker's pipe watcher cleans
    up) and SIGTERM (what `timeout` sends): the run's processes and files are gone."""
    proc = _start(_snnc_run(tmp_path), tmp_path)
    groups: set[int] = set()
    try:
        groups = _wait_for_lava(proc, tmp_path)
        assert any(tmp_path.glob("snnc-lava-*/job.pkl"))  # the folder the cleanup must remove
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
        assert rc != 0
        _assert_all_gone(tmp_path, groups)
        assert not (tmp_path / "out.npz").exists()
        if sig == signal.SIGTERM:
            assert "Traceback" not in proc.stderr.read()
    finally:
        _kill_all(proc, groups)


API_RUN = """\
import signal, sys
from runtime import api
if sys.argv[1] == "default":  # SIGTERM kills at once: no `finally` of the parent runs
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
else:  # SIGTERM unwinds like Ctrl-C
    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
try:
    api.run("examples/two_layer.yaml", backend="lava", steps={steps})
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize("disposition", ["default", "raises"])
def test_terminated_api_caller_leaves_nothing(tmp_path, disposition):
    """An API caller terminated mid-run: with SIGTERM's default action the parent dies on
    the spot and the worker cleans up after it; when SIGTERM raises, the parent's own
    cleanup runs (exit 130 here)."""
    script = tmp_path / "caller.py"
    script.write_text(API_RUN.format(steps=LONG))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _start([sys.executable, str(script), disposition], tmp, PYTHONPATH=str(ROOT))
    groups: set[int] = set()
    try:
        groups = _wait_for_lava(proc, tmp)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        assert rc == (-signal.SIGTERM if disposition == "default" else 130)
        _assert_all_gone(tmp, groups)
    finally:
        _kill_all(proc, groups)


STALLED = """\
import sys, time
import backends.lava as bl
import backends.lava.runner as runner

def stall(*args, **kw):
    print("stalled", flush=True)
    time.sleep(600)

if sys.argv[1] == "job":  # while the job is written, before the worker may read it
    dump = runner.pickle.dump
    runner.pickle.dump = lambda *a, **k: (dump(*a, **k), stall())
else:  # after the worker finished, while its recordings are read
    bl.assemble = stall
from runtime import api
api.run("examples/two_layer.yaml", backend="lava", steps=20)
"""


@pytest.mark.parametrize("moment", ["job", "results"])
def test_parent_killed_before_or_after_lava_runs_leaves_nothing(tmp_path, moment):
    """The worker lives as long as the run's folder: killed while writing the job or while
    reading the results, the parent leaves no file and no process behind either."""
    script = tmp_path / "caller.py"
    script.write_text(STALLED)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _start([sys.executable, str(script), moment], tmp, PYTHONPATH=str(ROOT))
    groups: set[int] = set()
    try:
        assert proc.stdout.readline() == "stalled\n", proc.communicate()
        groups = {g for _, g, _ in _workers(tmp)}
        assert len(groups) == 1
        (work,) = tmp.glob("snnc-lava-*")
        assert (work / ("job.pkl.part" if moment == "job" else "result.pkl")).exists()
        proc.kill()
        proc.wait(timeout=30)
        _assert_all_gone(tmp, groups)
    finally:
        _kill_all(proc, groups)


@pytest.mark.parametrize("value", [0, -5, math.nan, math.inf, -math.inf, "10", True])
def test_bad_watchdog_limits_are_refused_before_lava_starts(tmp_path, monkeypatch, value):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    t0 = time.monotonic()
    with pytest.raises(InputError, match=r"--timeout .*allowed: a number of seconds > 0"):
        bl.run(program_of(two_layer()), 5, timeout_s=value)
    assert time.monotonic() - t0 < 5
    assert not list(tmp_path.iterdir()) and not _workers(tmp_path)


def test_bad_watchdog_limit_is_refused_by_phased_runs(tmp_path, monkeypatch):
    from backends.lava.phases import run_phased

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    program = program_of(two_layer())
    sources = {"inp": np.zeros((10, 6), dtype=bool)}
    with pytest.raises(InputError, match=r"--timeout nan"):
        run_phased(program, [Phase("a", steps=10)], [10], sources, [], timeout_s=math.nan)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_cli_bad_timeouts_exit_2_without_a_worker(tmp_path, value):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "runtime.cli", "run", "examples/two_layer.yaml",
                        "--backend", "lava", f"--timeout={value}", "-o", str(tmp_path / "o.npz")],
                       cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "--timeout" in r.stderr and value in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - t0 < 30
    assert not list(tmp_path.iterdir())


PLASTIC_DELAY = """\
snnc: 1
name: pd
precision: fixed
seed: 3
steps: 50
populations:
  inp: {size: 8, model: spike_source, spikes: {kind: poisson, rate: 0.2}}
  out: {size: 4, model: lif, params: {du: 1024, dv: 256, vth: 1000}}
projections:
  learn:
    pre: inp
    post: out
    connectivity: all_to_all
    weight: 20
    delay: 3
    plasticity: {rule: stdp, a_plus: 4, a_minus: 4}
"""


def test_plastic_projection_with_delay_exits_2_naming_it(tmp_path):
    net = tmp_path / "pd.yaml"
    net.write_text(PLASTIC_DELAY)
    work = tmp_path / "tmp"
    work.mkdir()
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "runtime.cli", "run", str(net), "--backend", "lava",
                        "-o", str(tmp_path / "o.npz")], cwd=ROOT, env=_env(work),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"{net}:15: projections.learn.delay: projection 'learn': plasticity with delay 3 " \
           "is not supported by the lava backend" in r.stderr
    assert "allowed: delay 0 on plastic projections, or --backend cpu" in r.stderr
    assert "Traceback" not in r.stderr
    assert time.monotonic() - t0 < 30
    assert not list(work.iterdir())  # no job was written, no worker started
    ok = subprocess.run([sys.executable, "-m", "runtime.cli", "run", str(net), "-q",
                         "-o", str(tmp_path / "o.npz")], cwd=ROOT, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr  # the cpu backend runs it


def _many_problems() -> tuple[NetworkIR, dict]:
    """A network with one of each thing the lava backend cannot run (grouped and core)."""
    net = NetworkIR("bad", precision="fixed", populations={
        "src": source_pop("src", 4), "a": lif_pop("a", 6, du=0.5, dv=10, vth=100),
        "w": lif_pop("w", 6, du=10, dv=5000, vth=100, wta=True), "m": lif_pop("m", 6, vth=9)})
    net.projections = {
        "dup": projection("dup", "src", "a", [0, 0], [1, 1], [10, 20]),
        "far": projection("far", "src", "a", [0], [2], [10], delay=[70]),
        "plastic": projection("plastic", "src", "w", [0, 1], [0, 1], [10, 10], delay=[0, 2]),
        "shift": projection("shift", "a", "w", [0, 5], [0, 0], [10, 10], weight_exp=-1)}
    net.projections["plastic"].plasticity = Plasticity("stdp", {"a_plus": 4, "a_minus": 4})
    net.projections["rewarded"] = projection("rewarded", "src", "a", [3], [3], [10])
    net.projections["rewarded"].plasticity = Plasticity(
        "loihi", {"dw": "2^-4*u0*t*m", "dt": "y0*x1", "x1_tau": 4}, modulator="m")
    return net, {"a": 2, "w": 2, "m": 2}


def test_check_program_lists_every_unsupported_feature():
    net, cores = _many_problems()
    with pytest.raises(UnsupportedError) as e:
        check_program(program_of(net, cores), {}, granularity="core")
    err = e.value
    assert isinstance(err, InputError) and isinstance(err, BackendError) and err.exit_code == 2
    text = str(err)
    for part in ("population 'a': du = 0.5 is not an integer",
                 "population 'w': dv = 5000 is outside 0..4095",
                 "projection 'dup': several synapses join the same (pre, post) pair",
                 "projection 'far': delays 70..70 are outside Lava's range",
                 "projection 'plastic': plasticity with delay 2 is not supported",
                 "population 'w': winner-take-all (wta) needs the whole population",
                 "projection 'rewarded': modulator 'm' is split over 2 Lava processes",
                 "allowed: --granularity grouped, or --backend cpu"):
        assert part in text, text
    assert len(err.diagnostics) == 7  # "shift" (weight_exp < 0, two source cores) is exact
    with pytest.raises(UnsupportedError) as e:  # grouped: one process per population
        check_program(program_of(net, cores), {}, granularity="grouped")
    assert len(e.value.diagnostics) == 5 and "wta" not in str(e.value)
    with pytest.raises(UnsupportedError, match="unknown granularity 'cores'"):
        check_program(program_of(two_layer()), {}, granularity="cores")
    check_program(program_of(two_layer()), {}, granularity="core")  # fine: returns


def test_unsupported_rules_and_phases_are_refused_before_lava(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    net = two_layer("float")
    net.projections["inp_hid"].delay[:] = 0
    net.projections["inp_hid"].plasticity = Plasticity("loihi", {"dw": "2*x0*y0", "x1_tau": 4})
    with pytest.raises(UnsupportedError, match="inp_hid.*multiplies two spike indicators.*"
                       "allowed: precision fixed, or --backend cpu"):
        bl.run(program_of(net), 5)
    phases = [Phase("p", steps=5, plastic={"hid_hid": False}, overrides=[
        Override("projections.inp_hid.weight_scale", "weight_scale", "inp_hid", "", 0.5),
        Override("populations.hid.params.adapt.tau", "adapt", "hid", "tau", 3.0)])]
    with pytest.raises(UnsupportedError) as e:
        check_program(program_of(net), {}, phases=phases)
    text = str(e.value)
    assert "'hid_hid' is not a plastic projection" in text
    assert "weight_scale applies to static projections only" in text
    assert "population 'hid' has no adapt block" in text
    net.populations["hid"].lif.adapt = Adapt(1.0, 2.0)
    with pytest.raises(UnsupportedError) as e:
        check_program(program_of(net), {}, phases=phases)
    assert "adapt block" not in str(e.value)
    assert not list(tmp_path.iterdir())


def test_model_failure_shows_no_traceback_unless_debug(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SNNC_DEBUG", raising=False)
    program = program_of(two_layer())
    with pytest.raises(BackendError) as e:
        bl.run(program, 50, _test_fail_step=3, timeout_s=60)
    msg = str(e.value)
    assert "a Lava process model raised: RuntimeError: deliberate failure at step 3" in msg
    assert "Traceback" not in msg and "File \"" not in msg and len(msg.splitlines()) == 1
    assert not list(tmp_path.iterdir())  # the error path removes the run's folder too
    monkeypatch.setenv("SNNC_DEBUG", "1")
    with pytest.raises(BackendError) as e:
        bl.run(program, 50, _test_fail_step=3, timeout_s=60)
    assert "deliberate failure at step 3" in str(e.value) and "Traceback" in str(e.value)
    assert not list(tmp_path.iterdir())


def test_timeout_and_normal_runs_leave_no_file_or_process(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    program = program_of(two_layer())
    res = bl.run(program, 20, timeout_s=120)
    assert res.spikes["hid"].shape == (20, 8)
    assert not list(tmp_path.iterdir()) and not _workers(tmp_path)
    with pytest.raises(BackendError, match="timeout after"):
        bl.run(program, int(LONG), timeout_s=3)
    assert not list(tmp_path.iterdir()) and not _workers(tmp_path)


def test_missing_lava_says_how_to_install(tmp_path):
    """A `lava` without its simulator (a broken or foreign install) is not an ImportError."""
    fake = tmp_path / "fake" / "lava"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    env = _env(tmp_path, PYTHONPATH=f"{tmp_path / 'fake'}{os.pathsep}{ROOT}")
    r = subprocess.run([sys.executable, "-m", "runtime.cli", "run", "examples/two_layer.yaml",
                        "--backend", "lava", "--steps", "5", "-o", str(tmp_path / "o.npz")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "pip install -e '.[lava]'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.npz").exists()
    assert r.stderr.count("snnc: error:") == 1
