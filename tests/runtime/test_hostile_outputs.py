"""Output files are written completely or not at all, only onto regular files, and every
refused destination is a clear bad-input error (exit 2) naming the path and the reason."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_runner import snnc
from repo import ROOT

from compiler import fileio
from compiler.errors import InputError
from compiler.fileio import (
    check_folder_writable,
    check_writable,
    remove_stale_temps,
    write_atomic,
)
from compiler.frontend import Network
from runtime.results import save_npz

TWO_LAYER = ROOT / "examples" / "two_layer.yaml"
DEVICES = ("/dev/full", "/dev/null")


@pytest.fixture
def devices_kept():
    """Assert the system's devices are still devices afterwards (and put one back if not)."""
    before = {p: os.stat(p) for p in DEVICES if os.path.exists(p)}
    yield
    broken = []
    for path, st in before.items():
        if not stat.S_ISCHR(os.lstat(path).st_mode):
            broken.append(path)
            with contextlib.suppress(OSError):
                os.unlink(path)
                os.mknod(path, st.st_mode, st.st_rdev)
    assert not broken, f"replaced a device: {broken}"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _no_temps(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


# ---------------------------------------------------------------- the CLI refuses hostile -o


@pytest.mark.parametrize("argv", [
    ["run", str(TWO_LAYER), "--steps", "5", "-o", "/dev/full"],
    ["compile", str(TWO_LAYER), "-o", "/dev/full"],
    ["export", str(TWO_LAYER), "-o", "/dev/null"],
])
def test_device_output_is_refused_and_kept(argv, devices_kept):
    device = argv[-1]
    r = snnc(*argv)
    assert r.returncode == 2, r.stderr
    assert f"{device}: cannot write here: it is a character device" in r.stderr
    assert "allowed: a new file, an existing regular file" in r.stderr
    assert "Traceback" not in r.stderr
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_directory_output_is_refused(tmp_path):
    r = snnc("run", str(TWO_LAYER), "--steps", "5", "-o", str(tmp_path))
    assert r.returncode == 2, r.stderr
    assert str(tmp_path) in r.stderr and "is a directory" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_proc_output_is_refused_before_running():
    r = snnc("run", str(TWO_LAYER), "--steps", "5", "-o", "/proc/x")
    assert r.returncode == 2, r.stderr
    assert "/proc/x: cannot write here" in r.stderr and "'proc' file system" in r.stderr
    assert "backend:" not in r.stdout  # refused before the run, not after it
    assert not os.path.exists("/proc/x")


def test_fifo_output_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "out.snnc"
    os.mkfifo(fifo)
    r = snnc("compile", str(TWO_LAYER), "-o", str(fifo), timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"{fifo}: cannot write here: it is a named pipe (FIFO)" in r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_missing_nested_folders_are_created_for_results(tmp_path):
    out = tmp_path / "a" / "b" / "r.npz"
    r = snnc("run", str(TWO_LAYER), "--steps", "5", "-o", str(out))
    assert r.returncode == 0, r.stderr
    with np.load(out) as z:
        assert z["hid.spikes"].shape == (5, 32)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    _no_temps(out.parent)


def test_parent_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("keep")
    r = snnc("run", str(TWO_LAYER), "--steps", "5", "-o", str(tmp_path / "f" / "r.npz"))
    assert r.returncode == 2, r.stderr
    assert str(tmp_path / "f") in r.stderr and "not a directory" in r.stderr
    assert (tmp_path / "f").read_text() == "keep"


def test_plot_folder_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "plots"
    target.write_text("keep")
    r = snnc("profile", str(TWO_LAYER), "--steps", "5", "--plot", str(target))
    assert r.returncode == 2, r.stderr
    assert str(target) in r.stderr and "directory" in r.stderr
    assert target.read_text() == "keep"


# ---------------------------------------------------------------- the write helper


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_symlink_to_a_regular_file_writes_the_target(tmp_path):
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    save_npz(link, {"x": np.arange(3)})
    assert link.is_symlink() and os.readlink(link) == str(target)
    with np.load(target) as z:
        assert z["x"].tolist() == [0, 1, 2]
    _no_temps(tmp_path)


def test_symlink_to_a_device_is_refused(tmp_path, devices_kept):
    link = tmp_path / "out.npz"
    link.symlink_to("/dev/full")
    with pytest.raises(InputError, match="a link to /dev/full.*character device"):
        save_npz(link, {"x": np.arange(3)})
    assert link.is_symlink()


def test_failing_writer_keeps_the_previous_file(tmp_path):
    path = tmp_path / "r.npz"
    save_npz(path, {"x": np.arange(5)})
    before = path.read_bytes()

    def half(tmp: Path) -> None:
        tmp.write_bytes(b"partial" * 1000)
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        write_atomic(path, half)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]


def test_disk_full_while_writing_is_an_input_error(tmp_path):
    path = tmp_path / "r.npz"
    path.write_bytes(b"previous")

    def full(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(b"x" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(InputError, match=f"{path}: cannot write: No space left on device"):
        write_atomic(path, full)
    assert path.read_bytes() == b"previous"
    _no_temps(tmp_path)


def test_read_only_rename_is_an_input_error(tmp_path, monkeypatch):
    def read_only(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))

    monkeypatch.setattr(fileio.os, "replace", read_only)
    with pytest.raises(InputError, match="r.npz: cannot write: Read-only file system"):
        save_npz(tmp_path / "r.npz", {"x": np.arange(3)})
    assert list(tmp_path.iterdir()) == []


def test_read_only_mount_is_refused_before_writing(tmp_path, monkeypatch):
    real = os.statvfs(tmp_path)

    class ReadOnly:
        f_flag = real.f_flag | os.ST_RDONLY

    monkeypatch.setattr(fileio.os, "statvfs", lambda p: ReadOnly())
    with pytest.raises(InputError, match="read-only file system"):
        check_writable(tmp_path / "r.npz")
    with pytest.raises(InputError, match="read-only file system"):
        check_folder_writable(tmp_path / "plots")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio.os, "access", lambda p, mode: False)
    with pytest.raises(InputError, match="Permission denied"):
        check_writable(tmp_path / "sub" / "r.npz")
    assert list(tmp_path.iterdir()) == []  # the check creates nothing


def test_sys_is_refused():
    with pytest.raises(InputError, match="/sys/x.npz: cannot write here.*'sysfs'"):
        save_npz("/sys/x.npz", {"x": np.arange(3)})


def test_missing_folder_for_an_artifact_is_refused_without_creating_it(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        check_writable(tmp_path / "no" / "p.snnc", make_parents=False)
    check_writable(tmp_path / "no" / "p.snnc")  # results may create their folder
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- temp files of killed writers


def test_stale_temp_of_a_dead_writer_is_removed_and_a_live_ones_kept(tmp_path):
    path = tmp_path / "r.npz"
    dead = tmp_path / f".r.npz.{_dead_pid()}.abc123_x.tmp"
    live = tmp_path / f".r.npz.{os.getppid()}.def456.tmp"
    other = tmp_path / f".q.npz.{_dead_pid()}.abc123.tmp"  # another destination's
    foreign = tmp_path / ".r.npz.notapid.tmp"
    for p in (dead, live, other, foreign):
        p.write_bytes(b"x" * 1000)
    save_npz(path, {"x": np.arange(3)})
    assert not dead.exists()
    assert live.exists() and other.exists() and foreign.exists()
    assert remove_stale_temps(path) == []


def test_sigkilled_writer_leaves_a_temp_the_next_write_removes(tmp_path):
    path = tmp_path / "r.npz"
    code = textwrap.dedent(f"""
        import time
        from compiler.fileio import atomic_path
        with atomic_path({str(path)!r}) as tmp:
            tmp.write_bytes(b"x" * 100000)
            print(tmp, flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True)
    try:
        tmp = Path(child.stdout.readline().strip())
        assert tmp.name.startswith(f".r.npz.{child.pid}.") and tmp.name.endswith(".tmp")
        assert tmp.exists()
        remove_stale_temps(path)
        assert tmp.exists()  # its writer is still running: kept
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert tmp.exists() and not path.exists()
    save_npz(path, {"x": np.arange(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]


# ---------------------------------------------------------------- builder and plots


def _builder() -> Network:
    spikes = np.zeros((10, 4), dtype=bool)
    spikes[::3, 1] = True
    return (Network("arrays", steps=10)
            .population("inp", 4, spikes=spikes)
            .population("out", 2)
            .projection("p", "inp", "out", connectivity=(np.array([0, 1]), np.array([1, 0]),
                                                         np.array([20, 30]))))


def test_builder_refuses_a_bad_yaml_destination_before_writing_arrays(tmp_path):
    (tmp_path / "net.yaml").mkdir()
    with pytest.raises(InputError, match="net.yaml: cannot write here: it is a directory"):
        _builder().to_yaml(tmp_path / "net.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml"]


def test_builder_writes_yaml_and_arrays_atomically(tmp_path):
    out = tmp_path / "sub" / "net.yaml"
    _builder().to_yaml(out)
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["net.inp.spikes.npy", "net.p.edges.npz", "net.yaml"]
    assert np.load(out.parent / "net.inp.spikes.npy")[::3, 1].all()
    with np.load(out.parent / "net.p.edges.npz") as z:
        assert z["weight"].tolist() == [20, 30]
    assert Network.from_yaml(out).build().populations["inp"].size == 4


def test_plot_name_taken_by_a_folder_is_refused(tmp_path):
    from runtime.api import compile as compile_program
    from runtime.profiling import profile_report, write_plots

    program = compile_program(TWO_LAYER)
    (tmp_path / "utilization_mesh.png").mkdir()
    with pytest.raises(InputError, match="utilization_mesh.png: cannot write here: it is a dir"):
        write_plots(program, profile_report(program), None, tmp_path)
    _no_temps(tmp_path)


def test_api_refuses_bad_destinations_before_working(tmp_path, monkeypatch):
    import runtime
    import runtime.api as api

    def no_compile(*a, **k):
        raise AssertionError("compiled before checking the destination")

    monkeypatch.setattr(api, "to_program", no_compile)
    (tmp_path / "f").write_text("keep")
    with pytest.raises(InputError, match=r"it is a directory \(allowed: a new file"):
        runtime.run(TWO_LAYER, output=tmp_path)
    with pytest.raises(InputError, match="'.*/f' is a regular file, not a directory"):
        runtime.compile(TWO_LAYER, output=tmp_path / "f" / "p.snnc")
    with pytest.raises(InputError, match="folder '.*/no' does not exist"):
        runtime.compile(TWO_LAYER, output=tmp_path / "no" / "p.snnc")
    with pytest.raises(InputError, match="'.*/f' is a regular file, not a directory"):
        runtime.profile(TWO_LAYER, plot_dir=tmp_path / "f")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
