"""Reading NIR files that `nir.read` refuses outright, as older exporters wrote them.

`nir.read` builds every node with the current `nir` package, which rejects files that
exporters wrote with older versions or loose types: integer edge ids (lava-dl's netx
writes its nodes "0", "1", ... with edges (0, 1)), neuron parameters of different shapes
(snnTorch: a per-neuron `beta` with a scalar threshold), missing defaults (`v_reset`,
`w_in`, a bias) or fields the package no longer knows. `read_loose` reads the HDF5 tree
itself and builds each node from the fields its class takes, neuron parameters broadcast
to one shape, and lists every such repair. A node of a type the package does not know
becomes an `Unreadable` placeholder that the import reports by id, type and reason.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

NEURON_DEFAULTS = {"v_reset": 0.0, "w_in": 1.0}  # NIR's defaults where a file omits them
NEURON_TYPES = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold")


class Unreadable:
    """A node that could not be built: its NIR type and why (reported by the import)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.metadata: dict[str, Any] = {}
        self.input_type = self.output_type = None


def read_loose(path: Path, nir: Any) -> tuple[Any, list[str]]:
    """The graph of a NIR file read field by field, and the repairs made (one line each)."""
    import h5py
    from nir.serialization import hdf2dict

    with h5py.File(path, "r") as f:
        data = hdf2dict(f["node"])
    notes: list[str] = []
    graph = _node(data, "", nir, notes)
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError("the file's top node is not a NIRGraph")
    return graph, notes


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value.item())
    return str(value)


def _node(d: dict[str, Any], nid: str, nir: Any, notes: list[str]) -> Any:
    kind = _text(d.get("type", ""))
    meta = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
    if kind == "NIRGraph":
        nodes = {str(k): _node(v, f"{nid}.{k}" if nid else str(k), nir, notes)
                 for k, v in (d.get("nodes") or {}).items()}
        raw = np.asarray(d.get("edges", np.zeros((0, 2))), dtype=object).reshape(-1, 2)
        edges = [(_text(a), _text(b)) for a, b in raw]
        if any(not isinstance(a, (bytes, str)) for a in raw.ravel()):
            notes.append(f"{nid or 'graph'}: edge ends written as numbers, read as ids")
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)
    cls = getattr(nir, kind, None) if kind.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, nir.NIRNode)):
        return _unreadable(kind, f"'{kind}' is not a node type of the installed nir package")
    try:
        return cls(**_fields(cls, kind, dict(d), nid, notes), metadata=meta)
    except Exception as exc:  # nir's constructors assert and raise many kinds
        return _unreadable(kind, f"cannot be built: {type(exc).__name__}: {exc}")


def _unreadable(kind: str, reason: str) -> Unreadable:
    """A placeholder whose class is named after the NIR type (errors name the type)."""
    name = kind if kind.isidentifier() else "Unknown"
    return type(name, (Unreadable,), {})(reason)


def _fields(cls: type, kind: str, d: dict[str, Any], nid: str, notes: list[str]
            ) -> dict[str, Any]:
    """The constructor arguments of node type `cls` from a node's HDF5 fields."""
    if kind in ("Input", "Output"):
        key = "input_type" if kind == "Input" else "output_type"
        return {key: {key.split("_")[0]: d.get("shape")}}
    if kind == "Flatten":
        d["input_type"] = {"input": d.get("input_type")}
    takes = {f.name for f in dataclasses.fields(cls) if f.init and f.name != "metadata"}
    dropped = sorted(set(d) - takes - {"type", "metadata"})
    if dropped:
        notes.append(f"{nid}: {kind} fields {', '.join(dropped)} left out")
    args = {k: v for k, v in d.items() if k in takes}
    if kind in NEURON_TYPES:
        _neuron_args(args, takes, nid, kind, notes)
    elif "bias" in takes and args.get("bias") is None and "weight" in args:
        args["bias"] = np.zeros(np.asarray(args["weight"]).shape[0])
    if "input_shape" in takes:
        args.setdefault("input_shape", None)
    return args


def _neuron_args(args: dict[str, Any], takes: set[str], nid: str, kind: str,
                 notes: list[str]) -> None:
    """Neuron parameters as float arrays of one shape (NIR's defaults where missing)."""
    for name, value in NEURON_DEFAULTS.items():
        if name in takes and name not in args:
            args[name] = value
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in args.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    if any(a.shape != shape for k, a in arrays.items() if k in args and k not in
           NEURON_DEFAULTS):
        notes.append(f"{nid}: {kind} parameters of shapes "
                     f"{sorted({a.shape for a in arrays.values()})} broadcast to {shape}")
    args.update({k: np.array(np.broadcast_to(a, shape)) for k, a in arrays.items()})
