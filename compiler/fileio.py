"""Writing user output files safely: completely or not at all, and only onto regular files.

Every file snnc writes for the user (results, artifacts, NIR graphs, builder YAML and array
files, plots) goes through `atomic_path`/`write_atomic`: the destination is checked first
(a new file or an existing regular file, or a symlink to one; never a directory, device,
FIFO, socket or a file on /proc or /sys), the data goes to a temp file beside it, is
fsynced and renamed onto the destination. OS failures become `InputError` naming the path
and the reason. Temp files carry the writer's pid (`.{name}.{pid}.{random}.tmp`), so a
later write removes those left by killed writers.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import Diagnostic, InputError

ALLOWED_FILE = "a new file, an existing regular file or a symbolic link to one"
ALLOWED_FOLDER = "a folder (created if missing) on a writable, regular file system"
# kernel and pseudo file systems: files there are interfaces, not storage
VIRTUAL_FS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "configfs",
    "pstore", "bpf", "efivarfs", "fusectl", "binfmt_misc", "mqueue", "devpts", "autofs",
    "rpc_pipefs", "nsfs",
})
_TEMP_TAIL = re.compile(r"(\d+)\.[A-Za-z0-9_]+\.tmp")
_TEMP_NAME_BYTES = 200  # keeps `.{name}.{pid}.{random}.tmp` under the 255-byte name limit


def _kind(mode: int) -> str:
    """What a file is, in words."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(path: str | os.PathLike, message: str, allowed: str = ALLOWED_FILE) -> InputError:
    return InputError(Diagnostic(f"cannot write here: {message}", os.fspath(path),
                                 allowed=allowed))


def _os_refusal(path: str | os.PathLike, exc: OSError, what: str = "cannot write") -> InputError:
    reason = exc.strerror or os.strerror(exc.errno or 0) or str(exc)
    return InputError(Diagnostic(f"{what}: {reason}", os.fspath(path)))


def _mount_type(path: Path) -> str | None:
    """File system type of the mount holding `path` (an existing, resolved path), if known."""
    try:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    best, best_type = "", None
    target = str(path)
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, right.split()[0]
    if best_type is None:  # no mount table: the usual places of the kernel's file systems
        for root, fs in (("/proc", "proc"), ("/sys", "sysfs")):
            if target == root or target.startswith(root + "/"):
                return fs
    return best_type


def _check_folder(folder: Path, path: str | os.PathLike, allowed: str = ALLOWED_FILE) -> None:
    """`folder` (existing) can take new files: a directory on a writable, regular file system."""
    try:
        st = os.stat(folder)
    except OSError as exc:
        raise _os_refusal(folder, exc, "cannot use this folder") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, f"'{folder}' is {_kind(st.st_mode)}, not a directory", allowed)
    fs = _mount_type(Path(os.path.realpath(folder)))
    if fs in VIRTUAL_FS:
        raise _refuse(path, f"'{folder}' is on the kernel's '{fs}' file system", allowed)
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        raise _refuse(path, f"'{folder}' is on a {os.strerror(errno.EROFS).lower()}", allowed)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _refuse(path, f"'{folder}': {os.strerror(errno.EACCES)}", allowed)


def _existing_ancestor(folder: Path, path: str | os.PathLike, allowed: str) -> Path:
    """The nearest part of `folder` that exists (`folder` itself if it does)."""
    current = folder
    while True:
        try:
            os.stat(current)
            return current
        except (FileNotFoundError, NotADirectoryError):
            if current.parent == current:
                return current
            current = current.parent
        except OSError as exc:
            raise _os_refusal(path, exc) from exc


def destination(path: str | os.PathLike) -> Path:
    """The file a write to `path` replaces: `path`, or the target of a symbolic link."""
    given = Path(os.fspath(path))
    try:
        link = stat.S_ISLNK(os.lstat(given).st_mode)
    except FileNotFoundError:
        link = False
    except OSError as exc:  # e.g. a name too long, a loop, a component that is a file
        if exc.errno == errno.ENOTDIR:
            return given
        raise _os_refusal(given, exc) from exc
    return Path(os.path.realpath(given)) if link else given


def check_writable(path: str | os.PathLike, *, make_parents: bool = True) -> None:
    """Raise the `InputError` that writing `path` would raise, without writing anything.

    Checks the destination is a new or regular file, that its folder exists (or, with
    `make_parents`, can be created) on a writable, regular file system and is writable.
    """
    if not os.fspath(path):
        raise _refuse("''", "an empty path")
    real = destination(path)
    shown = os.fspath(path) if real == Path(os.fspath(path)) else (
        f"{os.fspath(path)} (a link to {real})")
    try:
        mode: int | None = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        mode = None  # a part of the folder is a file: reported below
    except OSError as exc:
        raise _os_refusal(shown, exc) from exc
    if mode is not None and not stat.S_ISREG(mode):
        raise _refuse(shown, f"it is {_kind(mode)}")
    folder = real.parent
    anchor = _existing_ancestor(folder, shown, ALLOWED_FILE)
    if anchor != folder and not make_parents:
        raise InputError(Diagnostic(f"cannot write here: folder '{folder}' does not exist",
                                    shown, allowed="a file in an existing folder"))
    _check_folder(anchor, shown)


def _temp_stem(name: str) -> str:
    """The destination's name as used in its temp files' names (shortened if very long)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= _TEMP_NAME_BYTES:
        return name
    return raw[:_TEMP_NAME_BYTES].decode("utf-8", "ignore")


def _alive(pid: int) -> bool:
    """Whether process `pid` exists (when unsure: yes, so that its files are kept)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def remove_stale_temps(final: Path) -> list[Path]:
    """Delete temp files of `final` left by writers that are no longer running; return them."""
    prefix = f".{_temp_stem(final.name)}."
    removed = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _TEMP_TAIL.fullmatch(entry.name[len(prefix):])
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: str | os.PathLike, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_about(exc: BaseException, *paths: str) -> bool:
    """An OS error of the write itself (not e.g. a missing input file the writer read)."""
    if not isinstance(exc, OSError) or exc.errno is None:
        return False
    return exc.filename is None or os.fspath(exc.filename) in paths


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success fsync it and rename it onto `path`.

    On failure the temp file is removed and `path` is untouched. The destination is
    checked first (see `check_writable`); OS errors become `InputError` naming `path`.
    """
    check_writable(path, make_parents=make_parents)
    final = destination(path)
    shown = os.fspath(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_refusal(shown, exc, f"cannot create folder '{final.parent}'") from exc
    remove_stale_temps(final)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{_temp_stem(final.name)}.{os.getpid()}.",
                                    suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise _os_refusal(shown, exc) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        yield tmp
        _fsync(tmp)
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if _is_about(exc, name, os.fspath(final), shown):
            raise _os_refusal(shown, exc) from exc  # type: ignore[arg-type]
        raise
    with contextlib.suppress(OSError):
        _fsync(final.parent, directory=True)


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], None], *,
                 make_parents: bool = True) -> Path:
    """Call `writer(tmp_path)` and move the file onto `path` only if it succeeded."""
    with atomic_path(path, make_parents=make_parents) as tmp:
        writer(tmp)
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


def check_folder_writable(path: str | os.PathLike) -> None:
    """Raise the `InputError` that `make_folder(path)` would raise, without creating anything."""
    folder = Path(os.fspath(path))
    if not os.fspath(path):
        raise _refuse("''", "an empty path", ALLOWED_FOLDER)
    anchor = _existing_ancestor(folder, folder, ALLOWED_FOLDER)
    _check_folder(anchor, folder, ALLOWED_FOLDER)


def make_folder(path: str | os.PathLike) -> Path:
    """Create folder `path` (and its parents) for output files; `InputError` if it cannot be."""
    check_folder_writable(path)
    folder = Path(os.fspath(path))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_refusal(folder, exc, "cannot create this folder") from exc
    return folder
