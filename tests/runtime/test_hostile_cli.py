"""The command line under hostile use: bad values and paths exit 2 before any work, --version,
the progress bar (--quiet), signals (SIGINT 130, SIGTERM 143, SIGHUP 129, cleanup done),
compile warnings printed once."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from cli_runner import snnc
from phase_nets import RELAY
from repo import ROOT

import runtime
import runtime.progress as rprog
from runtime import cli
from runtime.cli import main
from runtime.progress import ProgressBar

TWO_LAYER = ROOT / "examples" / "two_layer.yaml"

# a tiny phased network; EPOCHS sets its length (3 train samples x 8 steps per epoch)
PHASED = RELAY + """\
phases:
  - name: train
    samples: {split: train, epochs: EPOCHS}
  - name: idle
    steps: 5
"""


def _phased(tmp_path: Path, epochs: int) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(PHASED.replace("EPOCHS", str(epochs)))
    return path


# ---- exit status 2 for every bad argument, before any work ------------------------------------

BAD = [
    (["run", "TWO", "--steps", "0"], "--steps: 0; allowed: an integer >= 1"),
    (["run", "TWO", "--steps", "-5"], "--steps: -5; allowed: an integer >= 1"),
    (["run", "TWO", "--steps", "abc"], "'abc' is not a whole number"),
    (["profile", "TWO", "--steps", "0"], "--steps: 0"),
    (["run", "TWO", "--backend", "lava", "--timeout", "-1"], "--timeout: -1"),
    (["export", "TWO", "-o", "OUT/g.nir", "--dt", "0"], "--dt: 0"),
    (["run", "DIR"], "is a directory"),
    (["compile", "DIR"], "is a directory"),
    (["run", "OUT/missing.yaml"], "file not found"),
    (["run", "TXT"], "unknown file type '.txt'"),
    (["compile", "SNNC"], "unknown file type '.snnc'"),
    (["run", "TWO", "--backend", "gpu"], "unknown backend 'gpu'"),
    (["run", "TWO", "--granularity", "core"], "--granularity applies to --backend lava only"),
    (["frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_cli_value_exits_2_before_compiling(tmp_path, argv, message):
    (tmp_path / "net.txt").write_text("steps: 5\n")
    (tmp_path / "prog.snnc").write_text("not a program\n")
    names = {"TWO": str(TWO_LAYER), "DIR": str(tmp_path), "TXT": str(tmp_path / "net.txt"),
             "SNNC": str(tmp_path / "prog.snnc")}
    args = [names.get(a, a.replace("OUT", str(tmp_path))) for a in argv]
    extra = ["-o", str(tmp_path / "r.npz")] if argv[0] == "run" else []
    r = snnc(*args, *extra)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "snnc: error:" in r.stderr and "Traceback" not in r.stderr
    assert "weight rounding" not in r.stderr  # refused before the network was compiled
    assert not (tmp_path / "r.npz").exists()


def test_unknown_probe_exits_2(tmp_path):
    r = snnc("run", str(TWO_LAYER), "--probe", "nope.v", "-o", str(tmp_path / "r.npz"))
    assert r.returncode == 2
    assert "--probe nope.v: unknown probe; allowed:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r.npz").exists()


def test_no_command_prints_help_and_exits_2():
    r = snnc()
    assert r.returncode == 2 and "COMMAND" in r.stdout


def test_internal_failure_exits_1(tmp_path, monkeypatch, capsys):
    import backends.cpu as cpu

    monkeypatch.setattr(cpu, "run", lambda *a, **k: 1 / 0)
    assert main(["run", str(TWO_LAYER), "-o", str(tmp_path / "r.npz"), "-q"]) == 1
    assert "internal error: ZeroDivisionError" in capsys.readouterr().err


# ---- --version --------------------------------------------------------------------------------

def test_version_prints_installed_version():
    from importlib.metadata import version

    r = snnc("--version")
    assert r.returncode == 0
    assert r.stdout == f"snnc {version('snnc')}\n"


def test_version_falls_back_to_package_attribute(monkeypatch):
    import importlib.metadata as md

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "version", missing)
    assert cli.version() == runtime.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == runtime.__version__


# ---- progress bar -----------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_bar_waits_2s_then_shows_eta_and_finishes_with_newline():
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(stream=out, clock=clock, tty=True)
    clock.t = 1.0
    bar(0, 100)  # the first report: rate measured from here
    clock.t = 1.9
    bar(30, 100)
    assert out.getvalue() == ""  # a run shorter than 2 s shows nothing
    clock.t = 3.0
    bar(40, 100)  # 40 steps in 2 s: 60 left take 3 s
    assert out.getvalue().startswith("\r") and "40/100 steps" in out.getvalue()
    assert "ETA 3 s" in out.getvalue() and "\n" not in out.getvalue()
    clock.t = 3.05
    bar(41, 100)  # within 0.1 s of the last draw: skipped
    assert "41/100" not in out.getvalue()
    clock.t = 3.2
    bar(44, 100)
    assert out.getvalue().count("\r") == 2
    clock.t = 5.0
    bar(100, 100)
    assert out.getvalue().endswith("done\x1b[K\n")
    bar(100, 100)
    bar.close()
    assert out.getvalue().count("\n") == 1  # finished once, nothing after


def test_progress_bar_not_a_terminal_writes_a_line_per_tenth():
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(stream=out, clock=clock, tty=False)
    for k in range(0, 1001):
        clock.t = 2.0 + k * 0.01
        bar(k, 1000)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert 10 <= len(lines) <= 11 and all("ETA" in ln for ln in lines[:-1])
    assert lines[-1].strip().startswith("[" + "#" * 30 + "] 1000/1000 steps 100%")


def test_progress_bar_close_ends_an_interrupted_line():
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(stream=out, clock=clock, tty=True)
    clock.t = 2.5
    bar(1, 10)
    bar.close()
    assert out.getvalue().endswith("\n") and "ETA --" in out.getvalue()


def test_phased_run_reports_progress_over_all_phases(tmp_path):
    path = _phased(tmp_path, 4)  # 3 x 8 x 4 = 96 steps + 5 idle
    seen: list[tuple[int, int]] = []
    runtime.run(path, progress=lambda d, t: seen.append((d, t)))
    assert {t for _, t in seen} == {101}
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 101 and len(set(done)) > 20  # within chunks


def test_cli_run_shows_bar_with_eta_and_quiet_hides_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rprog, "AFTER_S", 0.0)  # show the bar at once (the run is short)
    path = _phased(tmp_path, 20)
    assert main(["run", str(path), "-o", str(tmp_path / "a.npz")]) == 0
    err = capsys.readouterr().err
    assert "ETA" in err and "/485 steps" in err and err.endswith("\n")
    assert main(["run", str(path), "-o", str(tmp_path / "b.npz"), "--quiet"]) == 0
    assert "steps" not in capsys.readouterr().err


def test_cli_profile_quiet(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rprog, "AFTER_S", 0.0)
    assert main(["profile", str(TWO_LAYER), "--steps", "40"]) == 0
    assert "40/40 steps" in capsys.readouterr().err
    assert main(["profile", str(TWO_LAYER), "--steps", "40", "-q"]) == 0
    assert "/40 steps" not in capsys.readouterr().err


# ---- signals ----------------------------------------------------------------------------------

def _start_long_run(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, queue.Queue, Path]:
    """A cpu `snnc run` of a phased network lasting minutes; returns once its progress bar
    shows an ETA (the run is under way)."""
    path = _phased(tmp_path, 200_000)
    out = tmp_path / "r.npz"
    # SIGHUP at its default in the run even when the suite runs under `nohup` (which sets
    # it ignored, and snnc rightly keeps an ignored SIGHUP ignored)
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "run", str(path), "-o",
                             str(out), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stderr], daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if "ETA" in lines.get(timeout=1):
                return proc, lines, out
        except queue.Empty:
            assert proc.poll() is None, "the run ended early"
    proc.kill()
    raise AssertionError("no progress line within 120 s")


@pytest.mark.parametrize("sig,status,word", [(signal.SIGTERM, 143, "terminated"),
                                             (signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGHUP, 129, "terminated")])
def test_signal_stops_a_run_cleanly(tmp_path, sig, status, word):
    proc, lines, out = _start_long_run(tmp_path)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == status
    rest = []
    time.sleep(0.2)
    while not lines.empty():
        rest.append(lines.get())
    assert f"snnc: {word}" in "".join(rest)
    assert "Traceback" not in "".join(rest)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml"]  # no temp file left


def _tagged(tag: str) -> set[int]:
    """Pids of live processes whose environment holds `tag` (a run and its children)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                env = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if tag.encode() in env and state != "Z":
                pids.add(int(entry.name))
    return pids


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_sigterm_kills_lava_workers(tmp_path):
    pytest.importorskip("lava")
    tag = f"SNNC_TEST_TAG=sigterm-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, tag.split("=")[0]: tag.split("=")[1]}
    out = tmp_path / "r.npz"
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "run", str(TWO_LAYER),
                             "--backend", "lava", "--steps", "1000000", "-o", str(out), "-q"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not _tagged(tag) - {proc.pid}:  # wait for Lava's worker processes
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "snnc: terminated" in err
    deadline = time.monotonic() + 10
    while _tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _tagged(tag) == set()  # no Lava process left behind
    assert list(tmp_path.iterdir()) == []


def test_sigterm_while_writing_results_leaves_no_file(tmp_path, monkeypatch, capsys):
    real = np.savez_compressed

    def write_then_terminated(f, **arrays):
        real(f, **arrays)
        os.kill(os.getpid(), signal.SIGTERM)  # `timeout` strikes while the file is half done
        time.sleep(1)

    monkeypatch.setattr(np, "savez_compressed", write_then_terminated)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "r.npz"
    assert main(["run", str(TWO_LAYER), "--steps", "20", "-o", str(out), "-q"]) == 143
    assert "snnc: terminated" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before  # main restores the handler


def test_ignored_sighup_stays_ignored(tmp_path, monkeypatch):
    import backends.cpu as cpu

    real = cpu.run

    def hup_then_run(*a, **k):
        os.kill(os.getpid(), signal.SIGHUP)  # as after `nohup snnc ...` and a closed terminal
        return real(*a, **k)

    monkeypatch.setattr(cpu, "run", hup_then_run)
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert main(["run", str(TWO_LAYER), "--steps", "10", "-o", str(tmp_path / "r.npz"),
                     "-q"]) == 0
    finally:
        signal.signal(signal.SIGHUP, old)
    assert (tmp_path / "r.npz").exists()


# ---- warnings ---------------------------------------------------------------------------------

ROUNDING = re.compile(r"projection (\w+): lost \d+ bits in weight rounding")


def test_compile_prints_each_warning_once(tmp_path, capsys):
    assert main(["compile", str(TWO_LAYER), "-o", str(tmp_path / "t.snnc")]) == 0
    cap = capsys.readouterr()
    found = ROUNDING.findall(cap.out + cap.err)
    assert sorted(found) == ["hid_out", "inp_hid"]  # each once, in the summary
    assert main(["compile", str(TWO_LAYER), "-o", str(tmp_path / "t.snnc"), "--json"]) == 0
    cap = capsys.readouterr()
    assert ROUNDING.findall(cap.err) == []  # --json: the warnings are in the JSON only
    listed = json.loads(cap.out)["warnings"]
    assert sorted(m for w in listed for m in ROUNDING.findall(w)) == ["hid_out", "inp_hid"]


def test_run_prints_each_warning_once(tmp_path):
    r = snnc("run", str(TWO_LAYER), "--steps", "5", "-o", str(tmp_path / "r.npz"))
    assert r.returncode == 0
    assert sorted(ROUNDING.findall(r.stderr)) == ["hid_out", "inp_hid"]


# ---- inputs and outputs that are not plain files --------------------------------------------

def test_fifo_network_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    r = snnc("run", str(fifo), "-o", str(tmp_path / "r.npz"), timeout=60)
    assert r.returncode == 2 and f"{fifo}: not a regular file" in r.stderr, r.stderr


def test_fifo_yaml_through_the_api_is_refused(tmp_path):
    from compiler.errors import InputError
    from compiler.yamlio import load_yaml

    fifo = tmp_path / "target.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is not a regular file"):
        load_yaml(fifo)


def test_output_name_too_long_is_bad_input(tmp_path):
    out = tmp_path / ("a" * 300 + ".npz")
    r = snnc("run", str(TWO_LAYER), "-q", "-o", str(out))
    assert r.returncode == 2 and "File name too long" in r.stderr, r.stderr
    assert "internal error" not in r.stderr


def test_empty_output_path_is_refused(tmp_path):
    r = snnc("run", str(TWO_LAYER), "-q", "-o", "", cwd=tmp_path)
    assert r.returncode == 2 and "cannot write here" in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []
