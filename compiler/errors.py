"""Errors users can act on: every bad-input error carries file, line, field and what is allowed."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

MAX_MESSAGE_CHARS = 2000  # a message or 'allowed' text longer than this is shortened
MAX_FIELD_CHARS = 300  # likewise for a dotted field path (keys are user text)
MAX_DIAGNOSTICS = 100  # a Collector stops (raises) after this many problems
MAX_SUGGEST_CHARS = 200  # names longer than this get no "did you mean" hint


def clip(text: str, limit: int) -> str:
    """`text` if at most `limit` characters, else its head and tail around a count of what was cut."""
    if len(text) <= limit:
        return text
    tail = max(limit // 4, 1)
    head = max(limit - tail - 40, 1)
    return f"{text[:head]}...[{len(text) - head - tail} characters cut]...{text[-tail:]}"


class _BriefRepr(reprlib.Repr):
    """reprlib with small limits that never sorts or walks more than a few elements."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxtuple = self.maxlist = self.maxset = self.maxfrozenset = self.maxdeque = 4
        self.maxdict = 4
        self.maxarray = 4
        self.maxstring = self.maxother = max(limit, 8)
        self.maxlong = 40

    def repr_dict(self, x: dict, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
                  for k, v in islice(x.items(), self.maxdict)]
        if len(x) > self.maxdict:
            pieces.append("...")
        return "{" + ", ".join(pieces) + "}"

    def repr_set(self, x: set, level: int) -> str:
        return self._repr_iterable(x, level, "{", "}", self.maxset) if x else "set()"

    def repr_frozenset(self, x: frozenset, level: int) -> str:
        return self._repr_iterable(x, level, "frozenset({", "})", self.maxset) if x else "frozenset()"

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 256:  # repr of a huge int is slow (and may be refused)
            return f"an integer of {x.bit_length()} bits"
        return super().repr_int(x, level)

    def repr_bytes(self, x: bytes, level: int) -> str:
        return self.repr_str(x, level)  # type: ignore[arg-type]  # slicing works the same


def brief(value: Any, limit: int = 60) -> str:
    """A short rendering of a user value for messages: bounded in length and in work.

    Never walks more than a few elements of a list or mapping (hostile input can share
    one huge structure many times over) and never renders more than `limit` characters.
    """
    if isinstance(value, np.generic):  # numpy scalars print like Python numbers
        value = value.item()
    if isinstance(value, np.ndarray):
        text = f"array of shape {value.shape} and dtype {value.dtype}"
    elif isinstance(value, Mapping):
        keys = ", ".join(clip(k, 20) if isinstance(k, str) else _BriefRepr(20).repr(k)
                         for k in islice(value.keys(), 4))
        text = "a mapping {" + keys + (", ...}" if len(value) > 4 else "}")
    elif isinstance(value, (list, tuple)):
        text = f"a list {_BriefRepr(limit).repr(value)}"
    elif value is None:
        text = "nothing (null)"
    else:
        text = _BriefRepr(limit).repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file, a 1-based line, and a dotted field path."""

    file: str | None = None
    line: int | None = None
    field: str = ""


@dataclass
class Diagnostic:
    """One problem found in user input, formatted as `file:line: field: message (allowed: ...)`."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str = ""
    allowed: str | None = None

    def __post_init__(self) -> None:
        self.message = clip(str(self.message), MAX_MESSAGE_CHARS)
        self.field = clip(str(self.field), MAX_FIELD_CHARS)
        if self.allowed is not None:
            self.allowed = clip(str(self.allowed), MAX_MESSAGE_CHARS)

    @classmethod
    def at(cls, loc: Location | None, message: str, allowed: str | None = None,
           field: str | None = None) -> Diagnostic:
        loc = loc or Location()
        return cls(message=message, file=loc.file, line=loc.line,
                   field=field if field is not None else loc.field, allowed=allowed)

    def format(self) -> str:
        where = self.file or ("<network>" if self.line is not None else "")
        if self.line is not None:
            where += f":{self.line}"
        parts = [p for p in (where, self.field, self.message) if p]
        text = ": ".join(parts)
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text

    __str__ = format


class SnncError(Exception):
    """Base of snnc's own errors; `exit_code` is what the CLI returns."""

    exit_code = 1


class InputError(SnncError):
    """Bad user input (network, target, artifact, CLI argument): CLI exit status 2."""

    exit_code = 2

    def __init__(self, diagnostics: Diagnostic | str | Iterable[Diagnostic]):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        n = len(self.diagnostics)
        head = "" if n == 1 else f"{n} errors:\n"
        super().__init__(head + "\n".join(d.format() for d in self.diagnostics))


class FitError(InputError):
    """The network cannot be mapped onto the target (a limit is exceeded); says how to fix it."""


class BackendError(SnncError):
    """A backend failed while running a valid program (model error, timeout): exit status 1."""


class Collector:
    """Gathers diagnostics so that all errors in a file are reported at once.

    After MAX_DIAGNOSTICS problems it raises at once: a file with a million bad entries
    gets a bounded report, not a million messages.
    """

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, loc: Location | None, message: str, allowed: str | None = None,
            field: str | None = None) -> None:
        self.items.append(Diagnostic.at(loc, message, allowed, field))
        self._stop_if_full()

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)
        self._stop_if_full()

    def _stop_if_full(self) -> None:
        if len(self.items) > MAX_DIAGNOSTICS:
            first = self.items[:MAX_DIAGNOSTICS]
            raise InputError(first + [Diagnostic(
                f"more problems follow; stopped after the first {MAX_DIAGNOSTICS}",
                file=first[-1].file, allowed="fix the problems above and try again")])

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items)


def suggest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the nearest valid name, or ''."""
    if len(str(name)) > MAX_SUGGEST_CHARS:
        return ""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
