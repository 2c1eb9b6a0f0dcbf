"""Typed field checks that collect diagnostics with file, line and dotted path.

`Checker` wraps a `Collector` and the location table; each `check` method returns the
value when valid and `INVALID` otherwise (after recording a diagnostic), so validation
goes on and every error in a file is reported at once.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import archives, budget
from ..errors import Collector, Diagnostic, InputError, Location, brief, suggest

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class _Invalid:
    """Marker for a value that failed its check (already reported)."""

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Any = _Invalid()


def show(value: Any, limit: int = 60) -> str:
    """A short, readable rendering of a user value for messages (bounded work and length)."""
    return brief(value, limit)


def is_int(value: Any) -> bool:
    """True for Python/numpy integers and integral floats; never for bools."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()


def is_number(value: Any) -> bool:
    """True for finite ints/floats (numpy too); never for bools."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, np.integer, float, np.floating)) and math.isfinite(value)


class Checker:
    """Collects diagnostics for one network spec; `loc(path)` finds the best source line."""

    def __init__(self, file: str | None, locations: Mapping[str, Location | int] | None,
                 base_dir: Path) -> None:
        self.file = file
        self.base_dir = base_dir
        self.errors = Collector()
        self.locations: dict[str, Location] = {}
        for path, where in (locations or {}).items():
            if isinstance(where, Location):
                self.locations[path] = where
            else:
                self.locations[path] = Location(file, int(where), path)

    def loc(self, path: str) -> Location:
        """The line where `path` (or its nearest written parent) was given."""
        key = path
        while True:
            if key in self.locations:
                found = self.locations[key]
                return Location(found.file or self.file, found.line, path)
            if not key:
                return Location(self.file, None, path)
            cut = max(key.rfind("."), key.rfind("["))
            key = key[:cut] if cut > 0 else ""

    def error(self, path: str, message: str, allowed: str | None = None) -> Any:
        """Record a diagnostic at `path`; returns INVALID for convenient `return`."""
        self.errors.add(self.loc(path), message, allowed)
        return INVALID

    # -- structure ---------------------------------------------------------------

    def mapping(self, value: Any, path: str, allowed: Iterable[str],
                required: Iterable[str] = (), what: str = "a mapping") -> dict | Any:
        """Check a mapping: unknown keys (with a suggestion) and missing required keys."""
        allowed = list(allowed)
        if not isinstance(value, Mapping):
            return self.error(path, f"found {show(value)}; expected {what}",
                              "keys " + ", ".join(allowed))
        for key in value:
            if key not in allowed:
                self.error(_child(path, key), f"unknown key {brief(key)}{suggest(str(key), allowed)}",
                           ", ".join(allowed))
        for key in required:
            if key not in value:
                self.error(path, f"missing required key '{key}'", "keys " + ", ".join(allowed))
        return dict(value)

    def name(self, value: Any, path: str, kind: str) -> str | Any:
        """A population/projection name usable in probe strings (`name.var`)."""
        if not isinstance(value, str) or not NAME_RE.match(value):
            return self.error(path, f"invalid {kind} name {show(value)}",
                              "letters, digits, '_' and '-', starting with a letter or '_'")
        return value

    # -- scalars -----------------------------------------------------------------

    def integer(self, value: Any, path: str, lo: int | None = None, hi: int | None = None,
                what: str = "an integer") -> int | Any:
        """An integer (integral floats accepted) in [lo, hi]."""
        if not is_int(value):
            return self.error(path, f"found {show(value)}; expected {what}", _range(lo, hi, "integer"))
        v = int(value)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return self.error(path, f"found {brief(v)}, out of range", _range(lo, hi, "integer"))
        return v

    def number(self, value: Any, path: str, lo: float | None = None, hi: float | None = None,
               what: str = "a number") -> float | Any:
        """A finite int or float in [lo, hi]."""
        if not is_number(value):
            return self.error(path, f"found {show(value)}; expected {what}", _range(lo, hi, "number"))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return self.error(path, f"found {brief(value)}, out of range", _range(lo, hi, "number"))
        return value

    def choice(self, value: Any, path: str, choices: Iterable[str], what: str = "value") -> str | Any:
        """One string out of `choices`, with a suggestion for near misses."""
        choices = list(choices)
        if not isinstance(value, str) or value not in choices:
            hint = suggest(value, choices) if isinstance(value, str) else ""
            return self.error(path, f"unknown {what} {show(value)}{hint}", " | ".join(choices))
        return value

    def string(self, value: Any, path: str, what: str = "a string") -> str | Any:
        """A non-empty string."""
        if not isinstance(value, str) or not value:
            return self.error(path, f"found {show(value)}; expected {what}", "a non-empty string")
        return value

    # -- files -------------------------------------------------------------------

    def resolve(self, value: Any, path: str) -> Path | Any:
        """A file path relative to the network file's folder (absolute paths kept)."""
        if not isinstance(value, (str, Path)) or not str(value):
            return self.error(path, f"found {show(value)}; expected a file path",
                              "a path relative to the network file")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def load_npy(self, value: Any, path: str) -> np.ndarray | Any:
        """Load one array from a .npy file named by `value` (no pickles); its header is
        checked against the file's length and the memory budget before the data is read."""
        p = self.resolve(value, path)
        if p is INVALID:
            return p
        p = p.resolve()
        if not p.is_file():
            return self.error(path, f"file not found: {p}", "an existing .npy file")
        if _magic(p) != b"\x93NUMPY":
            return self.error(path, f"{p} is not a .npy file (no NumPy header)",
                              "a .npy file written by numpy.save")
        try:
            info = archives.npy_info(p)
        except (archives.ArchiveError, OSError) as exc:
            return self.error(path, f"cannot read .npy file {p}: {exc}",
                              "a .npy file written by numpy.save")
        too_big = budget.over_limit(info.nbytes, f"array {p.name} ({info.describe()})")
        if too_big:
            return self.error(path, too_big, budget.remedy_text("a smaller array"))
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:  # numpy raises many kinds for corrupt files
            return self.error(path, f"cannot read .npy file {p}: {exc}", "a .npy file written by numpy.save")
        if not isinstance(arr, np.ndarray):
            arr.close()
            return self.error(path, f"{p} is an .npz archive; expected one array", "a .npy file")
        return arr

    def load_npz(self, value: Any, path: str) -> Mapping[str, np.ndarray] | Any:
        """The arrays of a .npz file named by `value` (no pickles), by name.

        Every member's declared size and .npy header are checked (and their total against
        the memory budget) before any data is inflated; a member's data is read only when
        the caller looks it up, so arrays the caller does not use are never inflated."""
        p = self.resolve(value, path)
        if p is INVALID:
            return p
        p = p.resolve()
        if not p.is_file():
            return self.error(path, f"file not found: {p}", "an existing .npz file")
        if _magic(p)[:2] != b"PK":
            return self.error(path, f"{p} is not a .npz file (not a zip archive)",
                              "a .npz file written by numpy.savez")
        allowed = "a .npz file written by numpy.savez"
        try:
            with zipfile.ZipFile(p) as zf:
                infos = archives.member_infos(zf)
        except archives.ArchiveError as exc:
            return self.error(path, f"refused .npz file {p}: {exc}", allowed)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                NotImplementedError, RuntimeError) as exc:
            return self.error(path, f"cannot read .npz file {p}: {exc}", allowed)
        total = sum(info.nbytes for info in infos.values())
        too_big = budget.over_limit(total, f"the {len(infos)} arrays of {p.name}")
        if too_big:
            return self.error(path, too_big, budget.remedy_text("smaller arrays"))
        loc = self.loc(path)

        def failed(exc: Exception) -> InputError:
            return InputError(Diagnostic.at(loc, f"cannot read .npz file {p}: {exc}", allowed))

        return archives.LazyArrays(p, infos, failed)


def array_field(ck: Checker, m: Mapping, path: str, what: str) -> np.ndarray | Any:
    """The array given by exactly one of `file` (.npy) or `data` (in memory / nested list)."""
    if ("file" in m) == ("data" in m):
        return ck.error(path, f"give the {what} either as 'file' or as 'data'"
                        + (" (both given)" if "file" in m else ""),
                        "file: name.npy (relative to the network file)")
    if "file" in m:
        return ck.load_npy(m["file"], f"{path}.file")
    return as_array(ck, m["data"], f"{path}.data")


def as_array(ck: Checker, value: Any, path: str) -> np.ndarray | Any:
    if isinstance(value, np.ndarray):
        return value
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        return ck.error(path, f"cannot make an array of {show(value)}: {exc}", "a rectangular array")
    if arr.dtype == object:
        return ck.error(path, f"cannot make a numeric array of {show(value)}", "a rectangular array")
    return arr


def _magic(p: Path) -> bytes:
    """The first 6 bytes of a file (b'' when unreadable)."""
    try:
        with open(p, "rb") as f:
            return f.read(6)
    except OSError:
        return b""


def _child(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _range(lo: float | None, hi: float | None, kind: str) -> str:
    if lo is not None and hi is not None:
        return f"{kind} in [{lo}, {hi}]"
    if lo is not None:
        return f"{kind} >= {lo}"
    if hi is not None:
        return f"{kind} <= {hi}"
    return kind
