"""The memory snnc may allocate for one job, and the guard checked before large allocations.

The limit is a fraction of the memory the machine has available (`MemAvailable` of
/proc/meminfo), or the environment variable `SNNC_MEMORY_LIMIT` (bytes, or a number with
K, M, G or T: `500M`, `8G`). Whatever grows with user input (recorded spikes, archive
members, weight matrices, step counts) is sized first and checked here, so that too large a
request ends in an InputError (exit 2) saying what to change, never in a MemoryError or the
kernel's out-of-memory killer.
"""

from __future__ import annotations

import math
import os
import re

from .errors import Diagnostic, InputError, Location

ENV = "SNNC_MEMORY_LIMIT"
FRACTION = 0.8  # of MemAvailable: the rest is for the interpreter, libraries and temporaries
FALLBACK = 8 << 30  # when the available memory cannot be read
MAX_STEPS = 2**31 - 1  # time steps of one run or phase (int32 step counters, as in Lava)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
SIZE_FORMS = "a number of bytes, or a number with K, M, G or T (e.g. 500M, 8G)"


def parse_size(text: str) -> int:
    """Bytes of a size such as `1048576`, `500M`, `8G`, `1.5GiB` (ValueError otherwise)."""
    m = _SIZE_RE.match(str(text))
    if not m:
        raise ValueError(f"not a size: {text!r}")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"not a positive size: {text!r}")
    return int(value)


def available_memory() -> int:
    """Bytes of memory available to new allocations (MemAvailable; a fallback without it)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return FALLBACK


def memory_limit() -> tuple[int, str]:
    """(bytes, where the limit comes from); InputError naming `SNNC_MEMORY_LIMIT` if it is
    set to something that is not a size."""
    raw = os.environ.get(ENV)
    if raw is not None and raw.strip():
        try:
            return parse_size(raw), f"{ENV}={raw.strip()}"
        except ValueError:
            raise InputError(Diagnostic(
                f"environment variable {ENV}={raw!r} is not a memory size", field=ENV,
                allowed=SIZE_FORMS)) from None
    avail = available_memory()
    return int(avail * FRACTION), f"{FRACTION:.0%} of the {human(avail)} available"


def human(nbytes: float) -> str:
    """`1.5 GiB`-style text for a byte count (any size, exact ints too)."""
    n = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def over_limit(nbytes: int, what: str) -> str | None:
    """The message when `what` (needing `nbytes`) exceeds the limit, else None."""
    limit, source = memory_limit()
    if nbytes <= limit:
        return None
    return f"{what} needs about {human(nbytes)}, more than the memory limit of {human(limit)} " \
           f"({source})"


def remedy_text(remedy: str) -> str:
    """`remedy`, plus how to raise the limit."""
    return f"{remedy}; or set {ENV} (e.g. {ENV}=16G) if the machine has the memory"


def require(nbytes: int, what: str, remedy: str, loc: Location | None = None) -> None:
    """InputError (exit 2) when `what`, which needs `nbytes`, exceeds the memory limit.

    The message gives the estimate and the limit; `remedy` says what to change (fewer
    steps, fewer probes, a smaller file), `loc` where the value came from."""
    message = over_limit(int(nbytes), what)
    if message is not None:
        raise InputError(Diagnostic.at(loc, message, remedy_text(remedy)))
