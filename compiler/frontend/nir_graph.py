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
from .nir_read import read_loose

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
        """Record a problem once (a node asked about twice reports it once)."""
        if any(d.field == field_ and d.message == message for d in self.col.items):
            return
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
        first = exc
    try:  # some exporters (e.g. integer arrays) fail nir's strict type check only
        graph = nir.read(path, type_check=False)
        warnings.warn(f"{path}: nir.read's type check failed ({type(first).__name__}: "
                      f"{first}); read without it", stacklevel=3)
        return graph, str(path)
    except Exception:
        pass
    try:  # older exporters: numbered edges, parameters of mixed shapes, missing fields
        graph, notes = read_loose(path, nir)
    except Exception:
        raise InputError(Diagnostic(f"cannot read NIR file: {type(first).__name__}: {first}",
                                    file=str(path), allowed="a NIR file written by nir.write")
                         ) from first
    warnings.warn(f"{path}: nir.read refused it ({type(first).__name__}: {first}); read field "
                  f"by field" + (": " + "; ".join(notes) if notes else ""), stacklevel=3)
    return graph, str(path)


def flatten(graph: Any, nir: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested NIRGraphs inlined; their Input and Output nodes become
    pass-through nodes.

    An inner node's id is `<subgraph id>.<key>`, or its key alone when the key already
    starts with `<subgraph id>.` (snnTorch writes `lif1.lif` inside subgraph `lif1`). An edge
    may name a subgraph (it then reaches the subgraph's Input nodes, or leaves its Output
    nodes; without them, its first resp. last nodes) or one of its inner nodes by a dotted
    id (`lif1.lif`, as nirtorch and snnTorch write).
    """
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    subs: dict[str, _Sub] = {}
    for key, node in graph.nodes.items():
        full = _join(prefix, str(key))
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten(node, nir, full + ".")
            ins, outs = _ports(node, full, sub_nodes, nir)
            for k in ins + outs:
                if isinstance(sub_nodes[k], (nir.Input, nir.Output)):
                    sub_nodes[k] = PassThrough(sub_nodes[k])
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            subs[str(key)] = _Sub(node, full, ins, outs)
        else:
            nodes[full] = node
    for a, b in graph.edges:
        srcs = _endpoint(str(a), graph, prefix, subs, nir, out=True)
        dsts = _endpoint(str(b), graph, prefix, subs, nir, out=False)
        edges.extend((s, d) for s in srcs for d in dsts)
    return nodes, edges


@dataclass
class _Sub:
    """A nested NIRGraph: the graph, its full id, and the flattened ids of its ports."""

    graph: Any
    full: str
    ins: list[str]
    outs: list[str]


def inner_id(full: str, key: str) -> str:
    """The flattened id of node `key` of the subgraph with id `full`."""
    return key if key.startswith(full + ".") else f"{full}.{key}"


def _ports(sub: Any, full: str, flat: dict[str, Any], nir: Any) -> tuple[list[str], list[str]]:
    """Flattened ids of a subgraph's entries (its Input nodes, else the nodes no inner edge
    reaches) and exits (its Output nodes, else the nodes no inner edge leaves)."""
    keys = [str(k) for k in sub.nodes]
    ins = [k for k in keys if isinstance(sub.nodes[k], nir.Input)]
    outs = [k for k in keys if isinstance(sub.nodes[k], nir.Output)]
    targets = {str(b) for _, b in sub.edges}
    sources = {str(a) for a, _ in sub.edges}
    ins = ins or [k for k in keys if k not in targets]
    outs = outs or [k for k in keys if k not in sources]
    return ([inner_id(full, k) for k in ins if inner_id(full, k) in flat],
            [inner_id(full, k) for k in outs if inner_id(full, k) in flat])


def _endpoint(name: str, graph: Any, prefix: str, subs: dict[str, _Sub], nir: Any,
              out: bool) -> list[str]:
    """The flattened ids an edge end `name` of `graph` stands for (unknown names stay as
    they are, for the walker to report)."""
    found = _resolve(name, graph, prefix, subs, nir, out)
    return [_join(prefix, name)] if found is None else found


def _resolve(name: str, graph: Any, prefix: str, subs: dict[str, _Sub], nir: Any,
             out: bool) -> list[str] | None:
    if name in subs:
        return subs[name].outs if out else subs[name].ins
    if name in graph.nodes:
        return [_join(prefix, name)]
    for key, sub in subs.items():
        if not name.startswith(key + "."):
            continue
        inner = _nested(sub.graph, sub.full, nir)
        for rest in (name[len(key) + 1:], name):  # `lif1.lif`: key `lif` or `lif1.lif`
            found = _resolve(rest, sub.graph, sub.full + ".", inner, nir, out)
            if found is not None:
                return found
    return None


def _join(prefix: str, key: str) -> str:
    """The flattened id of node `key` of the graph whose ids start with `prefix`."""
    return inner_id(prefix[:-1], key) if prefix else key


def _nested(graph: Any, full: str, nir: Any) -> dict[str, _Sub]:
    """The ports of the subgraphs of `graph` (id `full`), for edges naming them from outside."""
    out = {}
    for key, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_full = inner_id(full, str(key))
            flat, _ = flatten(node, nir, sub_full + ".")
            ins, outs = _ports(node, sub_full, flat, nir)
            out[str(key)] = _Sub(node, sub_full, ins, outs)
    return out


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
