"""Errors users can act on: every bad-input error carries file, line, field and what is allowed."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


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
    """Gathers diagnostics so that all errors in a file are reported at once."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, loc: Location | None, message: str, allowed: str | None = None,
            field: str | None = None) -> None:
        self.items.append(Diagnostic.at(loc, message, allowed, field))

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items)


def suggest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the nearest valid name, or ''."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
