"""Backends run a compiled `compiler.program.Program`: `cpu` (numpy) and `lava` (lava-nc).

Each backend module exposes `run(program, steps, probes=None, **options) -> RunResult`.
A backend never imports the frontend.
"""

from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS = ("cpu", "lava")


def get_backend(name: str) -> ModuleType:
    """The backend module called `name` (imported lazily: Lava is heavy)."""
    if name not in BACKENDS:
        from compiler.errors import InputError, suggest

        raise InputError(f"unknown backend '{name}'{suggest(name, BACKENDS)}; allowed: {', '.join(BACKENDS)}")
    return importlib.import_module(f"backends.{name}")
