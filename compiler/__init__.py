"""snnc compiler: frontend (YAML/Python/NIR) -> IR -> passes -> compiled Program.

Public names are loaded lazily so that backends importing `compiler.ir` or
`compiler.program` never pull in the frontend.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Network": "compiler.frontend",
    "load_network": "compiler.frontend",
    "network_from_dict": "compiler.frontend",
    "compile_network": "compiler.pipeline",
    "compile_file": "compiler.pipeline",
    "load_target": "compiler.targets",
    "save_program": "compiler.artifact",
    "load_program": "compiler.artifact",
    "NetworkIR": "compiler.ir",
    "Program": "compiler.program",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'compiler' has no attribute {name!r}")
