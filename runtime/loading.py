"""Turn whatever the user handed us (path, builder, IR, Program) into a compiled Program."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compiler.errors import InputError
from compiler.ir import NetworkIR
from compiler.program import Program

from .nir_inputs import NirRun, is_nir, load_nir, refuse_nir_options

NETWORK_SUFFIXES = (".yaml", ".yml", ".nir")
PROGRAM_SUFFIXES = (".snnc",)
ALLOWED = "a network (.yaml, .yml), a NIR graph (.nir) or a compiled program (.snnc)"


def check_input(text: str | os.PathLike, suffixes: tuple[str, ...], allowed: str) -> Path:
    """The input file `text`, checked: it exists, is a readable regular file (a FIFO or
    device would block or never end), has a known suffix."""
    path = Path(text)
    if not path.exists():
        raise InputError(f"{path}: file not found; allowed: {allowed}")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; allowed: {allowed}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file; allowed: {allowed}")
    if path.suffix not in suffixes:
        raise InputError(f"{path}: unknown file type '{path.suffix}'; allowed: {allowed}")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied (not readable)")
    return path


def load_network_file(path: str | os.PathLike) -> NetworkIR:
    """Parse and validate a network file: YAML, or a NIR graph (.nir, imported in fixed precision)."""
    if Path(path).suffix == ".nir":
        from compiler.frontend.nir_import import import_nir

        return import_nir(path, name=Path(path).stem, precision="fixed")
    from compiler.frontend import load_network

    return load_network(path)


def prepare(obj: Any, *, dt: float | None = None, precision: str | None = None,
            inputs: Mapping[str, Any] | None = None, steps: int | None = None
            ) -> tuple[Any, NirRun | None]:
    """A NIR graph path imported with its dt, precision and Input data (see nir_inputs.py);
    anything else unchanged (dt, precision and inputs are an error for it)."""
    if is_nir(obj):
        path = check_input(obj, (".nir",), "a NIR graph (.nir)")
        run = load_nir(path, dt=dt, precision=precision, inputs=inputs, steps=steps)
        return run.network, run
    refuse_nir_options(obj, dt, precision, inputs)
    return obj, None


def to_program(obj: Any, *, target: str | None = None, partitioner: str = "auto",
               quantize: bool = False) -> Program:
    """A compiled Program from a .yaml/.snnc path, a builder `Network`, a NetworkIR or a Program."""
    if isinstance(obj, Program):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        path = check_input(obj, NETWORK_SUFFIXES + PROGRAM_SUFFIXES, ALLOWED)
        if path.suffix in PROGRAM_SUFFIXES:
            from compiler.artifact import load_program

            if target is not None:
                raise InputError(f"{path}: --target cannot change a compiled program; recompile the network")
            return load_program(path)
        net = load_network_file(path)
        from compiler.pipeline import compile_network

        return compile_network(net, target=target, partitioner=partitioner, quantize=quantize)
    from compiler.pipeline import compile_network

    if isinstance(obj, NetworkIR):
        return compile_network(obj, target=target, partitioner=partitioner, quantize=quantize)
    if hasattr(obj, "build"):  # the Python builder
        return compile_network(obj.build(), target=target, partitioner=partitioner,
                               quantize=quantize)
    raise InputError(
        f"cannot run a {type(obj).__name__}; give a path (.yaml or .snnc), a compiler.Network, "
        "a NetworkIR or a Program"
    )
