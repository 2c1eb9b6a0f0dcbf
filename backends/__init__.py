"""Backends run a compiled `compiler.program.Program`: `cpu` (numpy), `lava` (lava-nc) and
`mpi` (the cpu engine distributed over MPI ranks).

Each backend implements `backends.contract.Backend` (check, run, run_phases and its
`Capabilities`); the runtime reaches one through `get_backend(name)` only. A new backend is
one `REGISTRY` entry. A backend never imports the frontend.
"""

from __future__ import annotations

import importlib

from .contract import Backend, Capabilities

__all__ = ["BACKENDS", "REGISTRY", "Backend", "Capabilities", "get_backend"]

# name -> the backend, or "module:attribute" naming it (imported on first use: Lava is heavy)
REGISTRY: dict[str, Backend | str] = {
    "cpu": "backends.cpu.backend:BACKEND",
    "lava": "backends.lava.backend:BACKEND",
    "mpi": "backends.mpi.backend:BACKEND",
}
BACKENDS = tuple(REGISTRY)


def get_backend(name: str) -> Backend:
    """The backend registered as `name`; InputError naming the allowed ones otherwise."""
    entry = REGISTRY.get(name)
    if entry is None:
        from compiler.errors import InputError, suggest

        allowed = tuple(REGISTRY)
        raise InputError(f"unknown backend '{name}'{suggest(name, allowed)}; "
                         f"allowed: {', '.join(allowed)}")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
    return entry
