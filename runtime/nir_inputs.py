"""Run a NIR graph: its dt, precision and Input-node data, and results named by node id.

A NIR graph carries no input data and no step count. `load_nir` imports a graph with
the data of every Input node (bool or non-negative integer arrays `(steps, *shape)` or
`(steps, size)`, as `--input NODE=FILE.npy` gives them), takes the step count from that
data, and keeps the NIR node id of every population so that results and probes use the
graph's own names (`lif.a.spikes`, `--probe lif.a.v`; dotted ids split at the last dot).
Graded event counts (N-MNIST frames) run as one spike source per bit of the count,
scaled by 2**bit, which delivers count x weight exactly on every backend (`_graded_layers`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import Diagnostic, InputError
from compiler.frontend.nir_graph import ALWAYS_ON, SILENT
from compiler.ir import NetworkIR

DEFAULT_STEPS = 100  # a graph without Input nodes and no --steps
MAX_COUNT = 32  # events per neuron and step of an Input node (graded counts)
INPUT_ALLOWED = ("a bool or non-negative integer array (steps, *node_shape) or (steps, size), "
                 f"counts 0..{MAX_COUNT}")


@dataclass
class NirRun:
    """An imported graph ready to compile: the network, and population <-> node id names."""

    network: NetworkIR
    node_of: dict[str, str] = field(default_factory=dict)  # population name -> NIR node id
    hidden: set[str] = field(default_factory=set)  # populations not reported (silent entries)
    # graded Input: population -> (node, bit): the node's counts are the sum of bit layers
    layer_of: dict[str, tuple[str, int]] = field(default_factory=dict)
    # a node split by its time constants: part population -> (node, its neuron indices)
    part_of: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)

    def probe_names(self, probes: list[str] | None) -> list[str] | None:
        """`--probe` names given with NIR node ids, as population names (split at the last dot)."""
        if probes is None:
            return None
        pop_of = {nid: [pop] for pop, nid in self.node_of.items()}
        for pop, (nid, _) in self.part_of.items():  # a split node: every part
            pop_of.setdefault(nid, []).append(pop)
        out = []
        for name in probes:
            target, dot, var = name.rpartition(".")
            out.extend([f"{pop}.{var}" for pop in pop_of[target]] if dot and target in pop_of
                       else [name])
        return out

    def rename(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Result arrays keyed by NIR node id (`<node>.spikes`, `<node>.v`, ...)."""
        out: dict[str, np.ndarray] = {}
        for key, arr in values.items():
            target, dot, var = key.rpartition(".")
            if target in self.hidden:
                continue
            if target in self.layer_of and var == "spikes":  # counts: layer j is bit j
                node, bit = self.layer_of[target]
                k = f"{node}.spikes"
                out[k] = out.get(k, 0) + (arr.astype(np.int64) << bit)
                continue
            if target in self.part_of and dot and arr.ndim == 2:  # neurons back in place
                node, idx = self.part_of[target]
                k = f"{node}.{var}"
                if k not in out:
                    size = 1 + max(int(i.max()) for n, i in self.part_of.values() if n == node)
                    out[k] = np.zeros((arr.shape[0], size), dtype=arr.dtype)
                out[k][:, idx] = arr
                continue
            out[f"{self.node_of[target]}.{var}" if dot and target in self.node_of else key] = arr
        return out


def is_nir(obj: Any) -> bool:
    """Whether `obj` is the path of a NIR graph file."""
    return isinstance(obj, (str, os.PathLike)) and Path(obj).suffix == ".nir"


def refuse_nir_options(obj: Any, dt: Any, precision: Any, inputs: Any) -> None:
    """dt, precision and inputs apply to NIR graphs only: an error for anything else."""
    given = [n for n, v in (("--dt", dt), ("--precision", precision), ("--input", inputs))
             if v is not None]
    if given:
        where = str(obj) if isinstance(obj, (str, os.PathLike)) else type(obj).__name__
        raise InputError(Diagnostic(f"{', '.join(given)} apply to NIR graphs only", file=where,
                                    allowed="--dt, --precision and --input with a .nir graph"))


def parse_input_options(specs: list[str]) -> dict[str, str]:
    """`--input NODE=FILE.npy` values -> {node id: file} (each node once)."""
    out: dict[str, str] = {}
    for spec in specs:
        node, eq, file = spec.partition("=")
        if not eq or not node or not file:
            raise InputError(Diagnostic(f"--input {spec}: expected NODE=FILE.npy",
                                        allowed="--input NODE=FILE.npy, NODE an Input node id"))
        if node in out:
            raise InputError(Diagnostic(f"--input {spec}: node '{node}' is given twice",
                                        allowed="one --input per Input node"))
        out[node] = file
    return out


def read_input_file(node: str, file: str | os.PathLike) -> np.ndarray:
    """The array of one `--input NODE=FILE.npy` (np.save format, no pickles)."""
    path = Path(file)
    if not path.is_file():
        raise InputError(Diagnostic(f"--input {node}={file}: file not found", file=str(file),
                                    field=f"inputs.{node}", allowed="an existing .npy file"))
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several kinds for foreign or broken files
        raise InputError(Diagnostic(f"--input {node}={file}: cannot read: "
                                    f"{type(exc).__name__}: {exc}", file=str(file),
                                    field=f"inputs.{node}", allowed="a .npy file (np.save)")
                         ) from exc
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise InputError(Diagnostic(f"--input {node}={file}: an .npz archive, not one array",
                                    file=str(file), field=f"inputs.{node}",
                                    allowed="a .npy file (np.save)"))
    return arr


def input_array(node: str, value: Any, shape: tuple[int, ...] | None, source: str
                ) -> np.ndarray:
    """The data of Input node `node` (node shape `shape`) checked: (steps, size), bool or
    int64 event counts (when some count is > 1). A shape that differs only in dimensions
    of size 1 (a batch dimension exporters write, or leave out) is the same shape; a node
    without a shape (`None`) takes the data's.

    `source` names where it came from (a file, or `inputs[...]`) in the error messages.
    """
    if shape is None:
        shape = tuple(np.shape(value)[1:])
    size = math.prod(shape)
    want = f"(steps, {', '.join(map(str, shape))})" + (f" or (steps, {size})"
                                                        if len(shape) > 1 else "")

    def bad(message: str) -> InputError:
        return InputError(Diagnostic(f"Input node '{node}': {message}", file=source,
                                     field=f"inputs.{node}", allowed=f"{INPUT_ALLOWED}; {want}"))

    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind not in "biu":
        raise bad(f"found {arr.dtype} data; event data are bool or integer counts")
    if arr.ndim < 2 or arr.shape[0] < 1 or (_squeezed(arr.shape[1:]) != _squeezed(shape)
                                            and arr.shape[1:] != (size,)):
        raise bad(f"found shape {arr.shape}; expected {want}")
    arr = arr.reshape(arr.shape[0], size)
    if arr.dtype.kind == "b":
        return arr
    if arr.size and arr.min() < 0:
        t, i = np.argwhere(arr < 0)[0]
        raise bad(f"negative count {arr[t, i]} at step {t}, neuron {i}")
    if arr.size and arr.max() > MAX_COUNT:
        t, i = np.argwhere(arr > MAX_COUNT)[0]
        raise bad(f"count {arr[t, i]} at step {t}, neuron {i}: a count c is delivered by c "
                  f"spike sources (one event each), at most {MAX_COUNT}")
    return arr.astype(bool) if not arr.size or arr.max() <= 1 else arr.astype(np.int64)


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(d) for d in shape if d != 1)


def input_nodes(graph: Any) -> dict[str, tuple[int, ...] | None]:
    """Input node id -> shape (None when the node declares none) for the top-level Input
    nodes that take data."""
    import nir

    out = {}
    for nid, node in graph.nodes.items():
        if not isinstance(node, nir.Input):
            continue
        meta = getattr(node, "metadata", None) or {}
        if _text(meta.get("snnc_role")) in (SILENT, ALWAYS_ON):  # no data needed
            continue
        declared = (node.input_type or {}).get("input")
        arr = np.atleast_1d(np.asarray(declared if declared is not None else [], dtype=object))
        if declared is None or any(v is None for v in arr.ravel()):
            out[str(nid)] = None
            continue
        out[str(nid)] = tuple(int(s) for s in arr.astype(np.int64).ravel())
    return out


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value.item())
    return value if isinstance(value, str) else None


def load_nir(path: str | os.PathLike, *, dt: float | None = None, precision: str | None = None,
             inputs: Mapping[str, Any] | None = None, steps: int | None = None) -> NirRun:
    """Import a NIR graph to run: every data-taking Input node must be given in `inputs`.

    `dt` (seconds per step, default 1.0: time constants in steps), `precision` ("fixed",
    the default, or "float"); `steps` defaults to the length of the input data (100 for a
    graph without Input nodes). An input is an array or the path of a .npy file.
    """
    from compiler.frontend.nir_import import read_graph  # scipy and nir: only for NIR runs

    file = str(path)
    dt, precision = _run_options(file, dt, precision)
    graph, _ = read_graph(path)
    shapes = input_nodes(graph)
    raw = {k: tuple(np.shape(v)[1:]) for k, v in (inputs or {}).items()
           if shapes.get(k, ()) is None and not isinstance(v, (str, os.PathLike))}
    data = _input_data(file, shapes, dict(inputs or {}), raw)
    graph, shapes = _shaped(graph, shapes, data, raw)
    steps = _steps(file, data, steps)
    graph, layers = _graded_layers(graph, data)
    net = _imported(graph, file, precision, dt, data, steps)
    return _named(net, graph, shapes, layers)


def _run_options(file: str, dt: Any, precision: Any) -> tuple[float, str]:
    """dt (default 1.0) and precision (default fixed), checked."""
    dt = 1.0 if dt is None else dt
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating, np.integer)) \
            or not np.isfinite(dt) or dt <= 0:
        raise InputError(Diagnostic(f"--dt {dt!r}: not a time step", file=file, field="dt",
                                    allowed="a finite number of seconds > 0"))
    precision = "fixed" if precision is None else precision
    if precision not in ("float", "fixed"):
        raise InputError(Diagnostic(f"unknown precision {precision!r}", file=file,
                                    field="precision", allowed="float | fixed"))
    return float(dt), precision


def _input_data(file: str, shapes: dict[str, tuple[int, ...] | None], inputs: dict[str, Any],
                raw: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The checked data of every Input node (each one given, no other key); `raw` gets the
    shape of each file read for a node without a declared shape."""
    unknown = [k for k in inputs if k not in shapes]
    if unknown:
        raise InputError(Diagnostic(f"'{unknown[0]}' is not an Input node of the graph",
                                    file=file, field=f"inputs.{unknown[0]}",
                                    allowed=_listing(shapes) or "no Input nodes (no --input)"))
    missing = [k for k in shapes if k not in inputs]
    if missing:
        raise InputError(Diagnostic(
            f"no data for Input node(s) {', '.join(repr(m) for m in missing)}; every Input "
            f"node needs --input NODE=FILE.npy", file=file, field="inputs",
            allowed=f"the graph's Input nodes: {_listing(shapes)}"))
    data = {}
    for k, v in inputs.items():
        if isinstance(v, (str, os.PathLike)):
            arr = read_input_file(k, v)
            if shapes[k] is None:
                raw[k] = tuple(arr.shape[1:])
            data[k] = input_array(k, arr, shapes[k], str(v))
        else:
            data[k] = input_array(k, v, shapes[k], f"inputs[{k!r}]")
    return data


def _shaped(graph: Any, shapes: dict[str, tuple[int, ...] | None],
            data: dict[str, np.ndarray], raw: dict[str, tuple[int, ...]]
            ) -> tuple[Any, dict[str, tuple[int, ...]]]:
    """Input nodes without a declared shape take their data's, (steps, *shape) as given
    (the graph copied if so)."""
    import nir

    missing = {k: raw for k, raw in data.items() if shapes.get(k) is None}
    if not missing:
        return graph, shapes  # type: ignore[return-value]
    nodes = dict(graph.nodes)
    for k, arr in missing.items():
        shapes[k] = raw.get(k) or (arr.shape[1],)
        nodes[k] = nir.Input(input_type=np.array(shapes[k]),
                             metadata=dict(getattr(graph.nodes[k], "metadata", None) or {}))
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=dict(graph.metadata or {}),
                        type_check=False), shapes  # type: ignore[return-value]


def _steps(file: str, data: dict[str, np.ndarray], steps: int | None) -> int:
    """`steps`, else the inputs' common length (DEFAULT_STEPS without inputs)."""
    if steps is not None:
        return int(steps)
    lengths = {v.shape[0] for v in data.values()}
    if len(lengths) > 1:
        raise InputError(Diagnostic(f"the inputs have different lengths {sorted(lengths)}",
                                    file=file, field="inputs",
                                    allowed="inputs of one length, or --steps N"))
    return lengths.pop() if lengths else DEFAULT_STEPS


def _imported(graph: Any, file: str, precision: str, dt: float, data: dict[str, np.ndarray],
              steps: int) -> NetworkIR:
    """The graph imported, errors naming its file."""
    from compiler.frontend.nir_import import import_nir

    try:
        return import_nir(graph, name=Path(file).stem, precision=precision, dt=dt,
                          inputs=data, steps=steps)
    except InputError as exc:  # the graph was passed as an object: name its file
        for d in exc.diagnostics:
            d.file = d.file or file
        raise InputError(exc.diagnostics) from None


def _named(net: NetworkIR, graph: Any, shapes: dict[str, tuple[int, ...]],
           layers: dict[str, list[str]]) -> NirRun:
    """The run with population <-> node id names; entry nodes without data hidden."""
    from compiler.frontend.nir_import import population_names, population_parts

    names = population_names(graph)
    node_of = {pop: nid for nid, pop in names.items()}
    part_of = {names[p]: where for p, where in population_parts(graph).items() if p in names}
    layer_of = {names[c]: (nid, j) for nid, copies in layers.items()
                for j, c in enumerate(copies)}
    silent = {nid for nid, node in graph.nodes.items() if nid in names and nid not in shapes
              and names[nid] not in layer_of and _is_input(node)}
    return NirRun(net, node_of, {names[nid] for nid in silent}, layer_of, part_of)


def _graded_layers(graph: Any, data: dict[str, np.ndarray]) -> tuple[Any, dict[str, list[str]]]:
    """Graded counts as spikes, one bit each: an Input node with counts up to K becomes
    b = K.bit_length() Input nodes, layer j firing where bit j of the count is set and
    reaching the node's successors through a Scale of 2**j. Edges sum, so every successor
    receives count x weight, exactly, on every backend, with b copies of its synapses (not
    K). `data` is updated to bool layers; returns the graph (a copy when it changes) and
    node -> its layer ids (layer j at index j)."""
    import nir

    graded = {k: v for k, v in data.items() if v.dtype != bool}
    if not graded:
        return graph, {}
    nodes, edges = dict(graph.nodes), list(graph.edges)
    layers: dict[str, list[str]] = {}
    for nid, counts in graded.items():
        shape = np.asarray(graph.nodes[nid].input_type["input"])
        layers[nid] = [nid]
        data[nid] = (counts & 1) > 0
        for j in range(1, int(counts.max()).bit_length()):
            cid = _free_id(f"{nid}.bit{j}", nodes)
            nodes[cid] = nir.Input(input_type=shape)
            scale = _free_id(f"{cid}.scale", nodes)
            nodes[scale] = nir.Scale(scale=np.full(tuple(shape), 2.0**j))
            edges.append((cid, scale))
            edges.extend((scale, b) for a, b in graph.edges if a == nid)
            data[cid] = ((counts >> j) & 1) > 0
            layers[nid].append(cid)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(graph.metadata or {}),
                        type_check=False), layers


def _free_id(name: str, nodes: dict[str, Any]) -> str:
    out, i = name, 1
    while out in nodes:
        out, i = f"{name}_{i}", i + 1
    return out


def _is_input(node: Any) -> bool:
    import nir

    return isinstance(node, nir.Input)


def _listing(shapes: Mapping[str, tuple[int, ...] | None]) -> str:
    return ", ".join(f"{k} {tuple(s) if s is not None else '(any shape)'}"
                     for k, s in shapes.items())
