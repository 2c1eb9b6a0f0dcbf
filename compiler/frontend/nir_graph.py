"""Reading NIR graphs: files and `nir.NIRGraph`s, nested graphs inlined, node names, and the
error collector every step of the import reports to.

A file that nir.read refuses for its strict type check alone is read without it, with a
warning. Nested NIRGraph nodes are inlined (ids joined with '.', e.g. `block.lif1`), edges
rewired through their Input/Output nodes (which become `PassThrough` nodes).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Collector, Diagnostic, InputError, Location, SnncError
from .checks import NAME_RE

ALWAYS_ON = "always_on"  # metadata snnc_role of an Input node that spikes every step
SILENT = "silent"  # metadata snnc_role of an entry Input node that never spikes


def nir_module() -> Any:
    """The `nir` package (an optional dependency)."""
    try:
        import nir
    except ImportError as exc:  # optional dependency (extra "nir")
        raise SnncError("NIR support needs the 'nir' package: pip install 'snnc[nir]'") from exc
    return nir


class Bad(Exception):
    """A problem already recorded in the collector."""


class Reporter:
    """Collects the import's errors, each naming the file and the node or field."""

    def __init__(self, file: str | None, nodes: dict[str, Any]) -> None:
        self.file, self.nodes, self.col = file, nodes, Collector()

    def err(self, field_: str, message: str, allowed: str | None = None) -> None:
        self.col.add(Location(self.file, None, field_), message, allowed)

    def node_err(self, nid: str, message: str, allowed: str | None = None) -> None:
        kind = type(self.nodes[nid]).__name__
        self.err(f"nodes.{nid}", f"{kind} node '{nid}': {message}", allowed)

    def fail(self, nid: str, message: str, allowed: str | None = None) -> Bad:
        """Record a node error and return the exception that skips the node."""
        self.node_err(nid, message, allowed)
        return Bad()


def load_graph(graph_or_path: Any, nir: Any) -> tuple[Any, str | None]:
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, None
    if not isinstance(graph_or_path, (str, Path)):
        raise InputError(Diagnostic(f"found {type(graph_or_path).__name__}; expected a NIR graph",
                                    allowed="nir.NIRGraph or the path of a .nir (HDF5) file"))
    path = Path(graph_or_path)
    if not path.is_file():
        raise InputError(Diagnostic(f"file not found: {path}", file=str(path),
                                    allowed="an existing NIR file written by nir.write"))
    try:
        return nir.read(path), str(path)
    except Exception as exc:  # h5py / nir raise many kinds for foreign or broken files
        try:  # some exporters (e.g. integer arrays) fail nir's strict type check only
            graph = nir.read(path, type_check=False)
        except Exception:
            graph = None
        if graph is not None:
            warnings.warn(f"{path}: nir.read's type check failed ({type(exc).__name__}: "
                          f"{exc}); read without it", stacklevel=3)
            return graph, str(path)
        raise InputError(Diagnostic(f"cannot read NIR file: {type(exc).__name__}: {exc}",
                                    file=str(path), allowed="a NIR file written by nir.write")
                         ) from exc


def flatten(graph: Any, nir: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested NIRGraphs inlined (ids joined with '.'); their Input and
    Output nodes become pass-through nodes."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ports: dict[str, tuple[list[str], list[str]]] = {}  # subgraph id -> (its inputs, outputs)
    for nid, node in graph.nodes.items():
        full = prefix + str(nid)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten(node, nir, full + ".")
            ins = [k for k, n in sub_nodes.items() if isinstance(n, nir.Input) and k.count(".") == full.count(".") + 1]
            outs = [k for k, n in sub_nodes.items() if isinstance(n, nir.Output) and k.count(".") == full.count(".") + 1]
            for k in ins + outs:
                sub_nodes[k] = PassThrough(sub_nodes[k])
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            ports[full] = (ins, outs)
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + str(a), prefix + str(b)
        srcs = ports[a][1] if a in ports else [a]
        dsts = ports[b][0] if b in ports else [b]
        edges.extend((s, d) for s in srcs for d in dsts)
    return nodes, edges


@dataclass
class PassThrough:
    """The Input/Output node of an inlined subgraph: passes its signal on unchanged."""

    node: Any


def node_names(nodes: dict[str, Any], nir: Any) -> dict[str, str]:
    """Valid, unique snnc names (letters, digits, '_', '-') for Input and spiking nodes."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for nid, node in nodes.items():
        if not isinstance(node, (nir.Input, *neuron_types(nir))):
            continue
        meta = getattr(node, "metadata", None) or {}
        out[nid] = unique(sanitize(meta_str(meta.get("snnc_name")) or nid), used)
    return out


def neuron_types(nir: Any) -> tuple[type, ...]:
    """NIR node types that become an snnc LIF population."""
    return (nir.LIF, nir.CubaLIF, nir.IF, nir.LI, nir.CubaLI, nir.I, nir.Threshold)


def readout_types(nir: Any) -> tuple[type, ...]:
    """Non-spiking NIR neurons: LIF populations that never spike, read through `.v`."""
    return (nir.LI, nir.CubaLI, nir.I)


def meta_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return meta_str(value.item())
    return value if isinstance(value, str) and value else None


def sanitize(nid: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", nid)
    return name if NAME_RE.match(name) else f"n_{name}"


def unique(name: str, used: set[str]) -> str:
    base, i = name, 1
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name
