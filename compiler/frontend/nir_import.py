"""NIR graph (https://neuroir.org, package `nir`) -> validated `NetworkIR`.

NIR nodes are continuous-time ODEs; snnc discretizes them with forward Euler at step
`dt`, updating the synaptic current first and then the voltage with the new current,
the order of Lava's LIF. A spike is 1 for one step (as in NIR's reference Lava mapping,
NIR paper/nir_to_lava.py). Mapping of the spiking nodes onto Lava's LIF
(`u = u (1 - du) + a_in;  v = v (1 - dv) + u + bias;  spike: v > vth, then v = 0`):

- CubaLIF:  du = dt / tau_syn,  dv = dt / tau_mem,  vth = v_threshold,
  bias = (dt / tau_mem) v_leak,  and every incoming weight is multiplied by the
  per-neuron gain g = w_in (dt / tau_syn) r (dt / tau_mem);
- LIF:      du = 1 (no synaptic memory),  dv = dt / tau,  g = r dt / tau,
  bias = (dt / tau) v_leak;
- IF:       du = 1,  dv = 0,  g = r dt,  bias = 0;
- LI, CubaLI, I (non-spiking readouts): as LIF, CubaLIF, IF with the unreachable threshold
  READOUT_VTH; an Output node fed by one probes its `<population>.v`;
- Threshold (z = H(x - threshold), no state): du = 1, dv = 1 (v = x each step), g = 1,
  vth = threshold: a spike iff the step's input exceeds the threshold.
Scalar (shape ()) neuron parameters are broadcast to the size of the Linear/Affine node
feeding (or fed by) the neuron.
v_reset must be 0 (Lava resets v to 0), tau >= dt (Lava decays lie in [0, 1]), and the
per-neuron parameters du, dv, vth and bias must be equal within a node (snnc LIF
parameters are per population; r and w_in may differ: they go into the weights).

Edges sum signals. Chains of linear nodes between two spiking nodes are composed into
one weight matrix: Linear / Affine (W, shape (out, in)), Scale (diagonal), Flatten and
Identity (no-ops on flat vectors: snnc flattens every shape in C order) and Delay
(per-element delay tau: a synaptic delay of tau / dt steps, an integer in 0..63; on top
of it every projection has Lava's one step of synaptic latency). An Affine bias b adds a
constant to the post neuron's input current: when the post neuron has no synaptic memory
(LIF, IF, or CubaLIF with tau_syn == dt) and g b is equal for all its neurons, it is the
Lava bias (g b per step, from step 0); otherwise (a constant into the decaying current u)
an always-on source `<population>_bias` (periodic, period 1) with a one-to-one projection
of weight g b feeds it exactly, reaching u from step 1 on like any input. Input nodes become `spike_source` populations
whose spikes the user gives with `inputs=` (default: silent, Poisson rate 0); Output
nodes fed by a spiking node (or an Input) become `<population>.spikes` probes.
Nested NIRGraph nodes are inlined (ids joined with '.', e.g. `block.lif1`), edges rewired
through their Input/Output nodes. A file that nir.read refuses for its strict type check
alone is read without it, with a warning. Everything else (Conv, pooling, a readout feeding
another node, IF/LIF with v_reset != 0, ...) is rejected with one InputError naming every
such node, its type and why.

`precision="fixed"` imports in float and converts with the compile pipeline's quantize
pass (its per-population power-of-two scale, see compiler/passes/quantize.py).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Collector, Diagnostic, InputError, Location, SnncError
from ..ir import NetworkIR
from .checks import NAME_RE
from .network import FORMAT_VERSION, network_from_dict

MAX_DELAY = 63
READOUT_VTH = 1e30  # threshold of a non-spiking readout (LI, CubaLI, I): never reached
REL_TOL = 1e-6  # per-neuron parameters this close count as equal (float32 round-off)
INPUTS_ALLOWED = "a bool array (steps, size) or a spikes mapping {kind: poisson | periodic | array, ...}"


def _nir() -> Any:
    try:
        import nir
    except ImportError as exc:  # optional dependency (extra "nir")
        raise SnncError("NIR support needs the 'nir' package: pip install 'snnc[nir]'") from exc
    return nir


# ----------------------------------------------------------------------------- public API


def import_nir(graph_or_path: Any, *, name: str = "nir", precision: str = "float",
               dt: float = 1.0, inputs: Mapping[str, Any] | None = None, seed: int = 0,
               steps: int = 100, target: str = "loihi2", scale: float | None = None
               ) -> NetworkIR:
    """A NetworkIR from a `nir.NIRGraph` or a NIR (HDF5) file; see the module doc for the mapping.

    `inputs` maps Input node ids to spikes (bool array (steps, size) or a spikes
    mapping); inputs not given are silent. `precision="fixed"` quantizes like
    `compile_network` does (compiler.passes.quantize: a power-of-two scale per
    population), or with one given `scale` k (vth_fixed = k * v_threshold, see
    `to_fixed`); graphs exported by snnc from fixed precision default to k = 1, which
    gives back the very same integers. All unmappable nodes are reported at once as
    one InputError.
    """
    nir = _nir()
    graph, file = _load(graph_or_path, nir)
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise InputError(Diagnostic(f"found dt={dt!r}", field="dt", allowed="a number > 0"))
    if precision not in ("float", "fixed"):
        raise InputError(Diagnostic(f"unknown precision {precision!r}", field="precision",
                                    allowed="float | fixed"))
    nodes, edges = _flatten(graph, nir)
    spec = _Mapper(nodes, edges, float(dt), file, nir).spec(inputs or {})
    spec.update(snnc=FORMAT_VERSION, name=name, precision="float", seed=seed, steps=steps,
                target=target)
    meta = getattr(graph, "metadata", None) or {}
    if precision == "fixed" and scale is None and _meta_str(meta.get("snnc_precision")) == "fixed":
        scale = 1.0  # written by snnc's export from fixed precision: v_NIR = v_Lava / 64
    if precision == "fixed" and scale is not None:
        if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
            raise InputError(Diagnostic(f"found scale={scale!r}", field="scale",
                                        allowed="a number > 0, or None (automatic)"))
        return network_from_dict(to_fixed(spec, float(scale)), source_file=file)
    if precision == "fixed":
        return _quantized(spec, file)
    return network_from_dict(spec, source_file=file)


def _quantized(spec: dict[str, Any], file: str | None) -> NetworkIR:
    """The float spec quantized by the compile pipeline's pass; readouts (LI, CubaLI, I) take
    part in the choice of scale with a bound of their |v| (so v stays far from Lava's clip)
    and then get the largest fixed threshold."""
    from dataclasses import replace

    from ..ir import LIF_FIXED_RANGES
    from ..passes.quantize import quantize

    readouts = _readouts(spec)
    for name in readouts:
        spec["populations"][name]["params"]["vth"] = _v_bound(spec, name)
    net, _ = quantize(network_from_dict(spec, source_file=file))
    for name in readouts:
        lif = net.populations[name].lif
        net.populations[name].lif = replace(lif, vth=LIF_FIXED_RANGES["vth"][1])
    return net


def _v_bound(spec: dict[str, Any], name: str) -> float:
    """An upper bound of |v| of LIF population `name` over the run: every synapse delivers at
    most one spike a step, so |u| <= A / du and |v| <= (|u| + |bias|) / dv (times the steps
    when dv = 0), A the largest summed |weight| into one neuron."""
    pop = spec["populations"][name]
    p = pop["params"]
    a = np.zeros(pop["size"])
    for proj in spec["projections"].values():
        if proj["post"] == name:
            data = proj["connectivity"]["data"]
            a += np.bincount(data["post"], np.abs(data["weight"]), minlength=pop["size"])
    u = float(a.max(initial=0.0)) / max(float(p["du"]), 1e-12)
    total = u + abs(float(p["bias_mant"]))
    bound = total / float(p["dv"]) if p["dv"] > 0 else total * max(int(spec.get("steps", 1)), 1)
    return max(bound, 1e-9)


def _readouts(spec: dict[str, Any]) -> list[str]:
    """Names of the readout populations (threshold READOUT_VTH) of a float spec."""
    return [name for name, pop in spec["populations"].items()
            if pop.get("model") == "lif" and pop["params"]["vth"] == READOUT_VTH]


def read_graph(graph_or_path: Any) -> tuple[Any, str | None]:
    """The `nir.NIRGraph` of a graph or NIR file, and the file name (None for a graph)."""
    return _load(graph_or_path, _nir())


def population_names(graph_or_path: Any) -> dict[str, str]:
    """NIR node id -> snnc population name for every Input and spiking node of a graph."""
    nir = _nir()
    graph, _ = _load(graph_or_path, nir)
    nodes, _ = _flatten(graph, nir)
    return dict(_names(nodes, nir))


def to_fixed(spec: dict[str, Any], k: float) -> dict[str, Any]:
    """A float network spec converted to Lava fixed point with one scale `k`.

    As in compiler/passes/quantize.py: du = 4096 du - 1, dv = 4096 dv, vth = k vth,
    bias_mant << bias_exp = 64 k bias, weight << weight_exp = k w (weight_exp per
    projection: the smallest one whose mantissas fit 8 bits; mixed-sign mantissas are
    rounded to even, as Lava drops their lowest bit). Rounding errors over 1% warn.
    """
    out = dict(spec, precision="fixed")
    out["populations"] = pops = {}
    for name, pop in spec["populations"].items():
        pops[name] = dict(pop)
        if pop.get("model") != "lif":
            continue
        p = pop["params"]
        mant, exp = _bias_bits(64.0 * k * float(p["bias_mant"]))
        vth = int(round(k * float(p["vth"]))) if p["vth"] != READOUT_VTH else \
            131071  # readout: the largest fixed threshold
        pops[name]["params"] = {
            "du": int(np.clip(round(4096 * float(p["du"])) - 1, 0, 4095)),
            "dv": int(np.clip(round(4096 * float(p["dv"])), 0, 4095)),
            "vth": vth, "bias_mant": mant, "bias_exp": exp}
    out["projections"] = projs = {}
    for name, proj in spec["projections"].items():
        data = dict(proj["connectivity"]["data"])
        w, e = _weight_bits(k * np.asarray(data["weight"], dtype=np.float64))
        err = np.linalg.norm(w * 2.0**e - k * data["weight"])
        if err > 0.01 * np.linalg.norm(k * data["weight"]):
            warnings.warn(f"projection {name}: fixed-point weights (scale {k:g}) have relative "
                          f"error {err / np.linalg.norm(k * data['weight']):.1%}", stacklevel=3)
        data["weight"] = w
        projs[name] = dict(proj, connectivity={"kind": "list", "data": data}, weight_exp=e)
    return out


def _bias_bits(value: float) -> tuple[int, int]:
    """bias_mant (13-bit signed), bias_exp (0..7) with mant << exp nearest to value."""
    for exp in range(8):
        mant = round(value / 2**exp)
        if -4096 <= mant <= 4095:
            return int(mant), exp
    return int(np.clip(round(value / 2**7), -4096, 4095)), 7


def _weight_bits(t: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer mantissas and the smallest weight_exp (-8..7) that keeps them in 8 bits."""
    mixed = t.size and t.min() < 0 < t.max()
    big = float(np.abs(t).max()) if t.size else 0.0
    hi = 254 if mixed else 255
    first = 0 if np.all(t == np.round(t)) else -8  # integers stay integers (exact sums)
    for e in range(first, 8):
        if big / 2**e <= hi:
            break
    m = t / 2.0**e
    m = 2 * np.round(m / 2) if mixed else np.round(m)
    return np.clip(m, -256 if mixed else -255, hi).astype(np.int64), e


# ----------------------------------------------------------------------------- loading


def _load(graph_or_path: Any, nir: Any) -> tuple[Any, str | None]:
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


def _flatten(graph: Any, nir: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested NIRGraphs inlined (ids joined with '.'); their Input and
    Output nodes become pass-through nodes."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ports: dict[str, tuple[list[str], list[str]]] = {}  # subgraph id -> (its inputs, outputs)
    for nid, node in graph.nodes.items():
        full = prefix + str(nid)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, nir, full + ".")
            ins = [k for k, n in sub_nodes.items() if isinstance(n, nir.Input) and k.count(".") == full.count(".") + 1]
            outs = [k for k, n in sub_nodes.items() if isinstance(n, nir.Output) and k.count(".") == full.count(".") + 1]
            for k in ins + outs:
                sub_nodes[k] = _PassThrough(sub_nodes[k])
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
class _PassThrough:
    """The Input/Output node of an inlined subgraph: passes its signal on unchanged."""

    node: Any


def _names(nodes: dict[str, Any], nir: Any) -> dict[str, str]:
    """Valid, unique snnc names (letters, digits, '_', '-') for Input and spiking nodes."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for nid, node in nodes.items():
        if not isinstance(node, (nir.Input, *_neuron_types(nir))):
            continue
        meta = getattr(node, "metadata", None) or {}
        out[nid] = _unique(_sanitize(_meta_str(meta.get("snnc_name")) or nid), used)
    return out


def _neuron_types(nir: Any) -> tuple[type, ...]:
    """NIR node types that become an snnc LIF population."""
    return (nir.LIF, nir.CubaLIF, nir.IF, nir.LI, nir.CubaLI, nir.I, nir.Threshold)


def _readout_types(nir: Any) -> tuple[type, ...]:
    """Non-spiking NIR neurons: LIF populations that never spike, read through `.v`."""
    return (nir.LI, nir.CubaLI, nir.I)


def _meta_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _meta_str(value.item())
    return value if isinstance(value, str) and value else None


def _sanitize(nid: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", nid)
    return name if NAME_RE.match(name) else f"n_{name}"


def _unique(name: str, used: set[str]) -> str:
    base, i = name, 1
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name


# ----------------------------------------------------------------------------- mapping


@dataclass
class _Signal:
    """A node's output as a linear function of spikes: {(source id, delay steps): (M, labels)}
    with M of shape (n, n_source), plus a constant `bias` (n,)."""

    n: int
    terms: dict[tuple[str, int], tuple[np.ndarray, set[str]]] = field(default_factory=dict)
    bias: np.ndarray | None = None

    def add(self, other: _Signal) -> None:
        for key, (m, labels) in other.terms.items():
            if key in self.terms:
                m0, l0 = self.terms[key]
                self.terms[key] = (m0 + m, l0 | labels)
            else:
                self.terms[key] = (m, set(labels))
        if other.bias is not None:
            self.bias = other.bias.copy() if self.bias is None else self.bias + other.bias


@dataclass
class _Neuron:
    """Lava LIF parameters (float) and the per-neuron input gain of one spiking node."""

    du: float
    dv: float
    vth: float
    bias: float
    gain: np.ndarray
    exact_bias: bool  # an input bias maps exactly onto the Lava bias (no synaptic memory)
    readout: bool = False  # LI / CubaLI / I: never spikes, its `.v` is the output


class _Bad(Exception):
    """A problem already recorded in the collector."""


class _Mapper:
    """Walks a flattened NIR graph and builds the network spec dict (float precision)."""

    def __init__(self, nodes: dict[str, Any], edges: list[tuple[str, str]], dt: float,
                 file: str | None, nir: Any) -> None:
        self.nodes, self.edges, self.dt, self.file, self.nir = nodes, edges, dt, file, nir
        self.col = Collector()
        self.preds: dict[str, list[str]] = {k: [] for k in nodes}
        for a, b in edges:
            if a not in nodes or b not in nodes:
                missing = a if a not in nodes else b
                self._err("edges", f"edge ({a!r}, {b!r}) names node {missing!r}, which does not exist",
                          "edges between existing node ids")
                continue
            self.preds[b].append(a)
        self.names = _names(nodes, nir)
        self.memo: dict[str, _Signal] = {}
        self.visiting: set[str] = set()

    # -- diagnostics ---------------------------------------------------------------

    def _err(self, field_: str, message: str, allowed: str | None = None) -> None:
        self.col.add(Location(self.file, None, field_), message, allowed)

    def _node_err(self, nid: str, message: str, allowed: str | None = None) -> None:
        kind = type(self.nodes[nid]).__name__
        self._err(f"nodes.{nid}", f"{kind} node '{nid}': {message}", allowed)

    # -- classification ------------------------------------------------------------

    def _kind(self, node: Any) -> str:
        nir = self.nir
        if isinstance(node, nir.Input):
            return "input"
        if isinstance(node, nir.Output):
            return "output"
        if isinstance(node, _neuron_types(nir)):
            return "neuron"
        if isinstance(node, (nir.Linear, nir.Affine, nir.Scale, nir.Delay, nir.Flatten,
                             _PassThrough)) or type(node).__name__ == "Identity":
            return "linear"
        return "unsupported"

    def _why_unsupported(self, node: Any) -> str:
        kind = type(node).__name__
        reasons = {
            "Conv1d": "convolutions are not supported yet (unroll it into a Linear node)",
            "Conv2d": "convolutions are not supported yet (unroll it into a Linear node)",
            "SumPool2d": "pooling is not supported yet (unroll it into a Linear node)",
            "AvgPool2d": "pooling is not supported yet (unroll it into a Linear node)",
        }
        return reasons.get(kind, "this node type has no Loihi mapping in snnc")

    # -- sizes ---------------------------------------------------------------------

    def _size(self, nid: str) -> int:
        """Flat signal size of a node's output."""
        node = self.nodes[nid]
        if isinstance(node, _PassThrough):
            node = node.node
        types = getattr(node, "output_type", None) or {}
        shape = next(iter(types.values()), None) if types else None
        if isinstance(node, (self.nir.Linear, self.nir.Affine)):
            return int(np.asarray(node.weight).shape[-2])
        if shape is None or any(s is None for s in np.atleast_1d(shape)):
            preds = self.preds.get(nid, [])
            if preds:
                return self._size(preds[0])
            self._node_err(nid, "has no known shape", "nodes with shapes, or fed by one")
            raise _Bad
        if np.asarray(shape).size == 0 and isinstance(node, _neuron_types(self.nir)):
            return self._broadcast_size(nid)
        return int(np.prod(np.asarray(shape, dtype=np.int64)))

    def _broadcast_size(self, nid: str) -> int:
        """Size of a neuron node whose parameters are all scalars (shape ()): taken from the
        Linear/Affine feeding it or fed by it (else from any sized neighbour)."""
        seen: set[str] = getattr(self, "_sizing", set())
        self._sizing = seen
        if nid in seen:
            raise _Bad
        seen.add(nid)
        try:
            nir = self.nir
            succs = [b for a, b in self.edges if a == nid and b in self.nodes]
            for p in self.preds.get(nid, []):
                if isinstance(self.nodes[p], (nir.Linear, nir.Affine)):
                    return int(np.asarray(self.nodes[p].weight).shape[-2])
            for q in succs:
                if isinstance(self.nodes[q], (nir.Linear, nir.Affine)):
                    return int(np.asarray(self.nodes[q].weight).shape[-1])
            for other in self.preds.get(nid, []) + succs:
                if self._kind(self.nodes[other]) in ("input", "neuron", "linear"):
                    try:
                        return self._size(other)
                    except _Bad:
                        continue
        finally:
            seen.discard(nid)
        self._node_err(nid, "has scalar parameters and no sized neighbour to broadcast them "
                       "to", "a node fed by or feeding a Linear/Affine node, or array parameters")
        raise _Bad

    # -- neurons -------------------------------------------------------------------

    def _uniform(self, nid: str, pname: str, values: Any) -> float:
        """The one value of a per-neuron parameter (error when neurons differ)."""
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size == 0:
            raise _Bad
        ref = float(arr[0])
        if np.any(np.isnan(arr)):
            self._node_err(nid, f"{pname} has NaN values", "numbers")
            raise _Bad
        if not np.all(arr == ref) and not np.allclose(arr, ref, rtol=REL_TOL, atol=0):
            self._node_err(nid, f"{pname} differs between neurons (range {arr.min():g} .. "
                           f"{arr.max():g}); snnc LIF parameters are per population",
                           "one value for all neurons of a node (split the node)")
            raise _Bad
        return float(arr.mean()) if np.all(np.isfinite(arr)) else ref

    def _rate(self, nid: str, pname: str, tau: Any) -> tuple[float, np.ndarray]:
        """dt / tau (uniform), checked to lie in [0, 1]."""
        arr = np.asarray(tau, dtype=np.float64).ravel()
        if np.any(np.isnan(arr)) or np.any(arr <= 0):
            self._node_err(nid, f"{pname} must be > 0 (found min {np.nanmin(arr):g})",
                           f"{pname} >= dt = {self.dt:g}")
            raise _Bad
        if np.any(arr < self.dt * (1 - REL_TOL)):
            self._node_err(nid, f"{pname} = {arr.min():g} is shorter than dt = {self.dt:g}: "
                           "forward Euler would overshoot (Lava decays lie in [0, 1])",
                           f"{pname} >= dt (or import with a smaller dt)")
            raise _Bad
        rate = np.minimum(self.dt / arr, 1.0)
        return self._uniform(nid, pname, rate), rate

    def _neuron(self, nid: str) -> _Neuron:
        """Lava LIF parameters of a LIF / CubaLIF / IF / LI / CubaLI / I / Threshold node
        (every problem of it reported)."""
        node, nir = self.nodes[nid], self.nir
        n = self._size(nid)
        if isinstance(node, nir.Threshold):  # v = input each step (dv = 1): spike iff input > th
            vth = self._uniform(nid, "threshold", node.threshold)
            return _Neuron(du=1.0, dv=1.0, vth=vth, bias=0.0, gain=np.ones(n), exact_bias=True)
        if isinstance(node, _readout_types(nir)):
            return self._readout(nid, node, n)
        results: dict[str, Any] = {}

        def check(key: str, fn: Any, *args: Any) -> None:
            try:
                results[key] = fn(*args)
            except _Bad:
                results[key] = None

        v_reset = np.asarray(node.v_reset, dtype=np.float64).ravel()
        if np.any(v_reset != 0):
            self._node_err(nid, f"v_reset = {v_reset[v_reset != 0][0]:g}; Lava's LIF resets v "
                           "to 0", "v_reset 0")
            results["v_reset"] = None
        check("vth", self._uniform, nid, "v_threshold", node.v_threshold)
        r = np.broadcast_to(np.asarray(node.r, dtype=np.float64).ravel(), (n,))
        if isinstance(node, nir.IF):
            if any(v is None for v in results.values()):
                raise _Bad
            return _Neuron(du=1.0, dv=0.0, vth=results["vth"], bias=0.0, gain=r * self.dt,
                           exact_bias=True)
        if isinstance(node, nir.LIF):
            check("dv", self._rate, nid, "tau", node.tau)
            if results["dv"] is not None:
                rate = results["dv"][1]
                check("bias", self._uniform, nid, "dt/tau * v_leak",
                      rate * np.asarray(node.v_leak, np.float64))
            if any(v is None for v in results.values()):
                raise _Bad
            return _Neuron(du=1.0, dv=results["dv"][0], vth=results["vth"], bias=results["bias"],
                           gain=r * results["dv"][1], exact_bias=True)
        check("du", self._rate, nid, "tau_syn", node.tau_syn)
        check("dv", self._rate, nid, "tau_mem", node.tau_mem)
        if results["dv"] is not None:
            check("bias", self._uniform, nid, "dt/tau_mem * v_leak",
                  results["dv"][1] * np.asarray(node.v_leak, np.float64))
        if any(v is None for v in results.values()):
            raise _Bad
        (du, rate_s), (dv, rate_m) = results["du"], results["dv"]
        w_in = np.broadcast_to(np.asarray(node.w_in, dtype=np.float64).ravel(), (n,))
        return _Neuron(du=du, dv=dv, vth=results["vth"], bias=results["bias"],
                       gain=w_in * rate_s * r * rate_m, exact_bias=bool(du == 1.0))

    def _readout(self, nid: str, node: Any, n: int) -> _Neuron:
        """LI / CubaLI / I: the LIF / CubaLIF / IF mapping with an unreachable threshold."""
        nir = self.nir
        r = np.broadcast_to(np.asarray(node.r, dtype=np.float64).ravel(), (n,))
        if isinstance(node, nir.I):
            return _Neuron(du=1.0, dv=0.0, vth=READOUT_VTH, bias=0.0, gain=r * self.dt,
                           exact_bias=True, readout=True)
        if isinstance(node, nir.LI):
            dv, rate = self._rate(nid, "tau", node.tau)
            bias = self._uniform(nid, "dt/tau * v_leak", rate * np.asarray(node.v_leak, float))
            return _Neuron(du=1.0, dv=dv, vth=READOUT_VTH, bias=bias, gain=r * rate,
                           exact_bias=True, readout=True)
        du, rate_s = self._rate(nid, "tau_syn", node.tau_syn)
        dv, rate_m = self._rate(nid, "tau_mem", node.tau_mem)
        bias = self._uniform(nid, "dt/tau_mem * v_leak", rate_m * np.asarray(node.v_leak, float))
        w_in = np.broadcast_to(np.asarray(node.w_in, dtype=np.float64).ravel(), (n,))
        return _Neuron(du=du, dv=dv, vth=READOUT_VTH, bias=bias,
                       gain=w_in * rate_s * r * rate_m, exact_bias=bool(du == 1.0), readout=True)

    # -- linear chains ------------------------------------------------------------

    def _input_of(self, nid: str, probe: bool = False) -> _Signal:
        """The summed input signal of node `nid` (from all its predecessors); only an Output
        node (`probe`) may read a non-spiking readout."""
        n_in = self._input_size(nid)
        sig = _Signal(n_in)
        for p in self.preds[nid]:
            kind = self._kind(self.nodes[p])
            if kind == "neuron" and not probe and isinstance(self.nodes[p], _readout_types(self.nir)):
                self._node_err(p, f"is a non-spiking readout: its voltage cannot feed '{nid}' "
                               "(snnc neurons send spikes)", "LI, CubaLI and I nodes feeding "
                               "Output nodes only")
                raise _Bad
            if kind in ("input", "neuron"):
                n_p = self._size(p)
                if n_p != n_in:
                    self._err("edges", f"edge ({p!r}, {nid!r}): size {n_p} feeds a node "
                              f"expecting {n_in}", "equal sizes along identity edges")
                    raise _Bad
                sig.add(_Signal(n_in, {(p, 0): (np.eye(n_in), set())}))
            elif kind == "linear":
                out = self._output_of(p)
                if out.n != n_in:
                    self._err("edges", f"edge ({p!r}, {nid!r}): size {out.n} feeds a node "
                              f"expecting {n_in}", "equal sizes along identity edges")
                    raise _Bad
                sig.add(out)
            elif kind == "output":
                self._err("edges", f"edge ({p!r}, {nid!r}) leaves an Output node",
                          "Output nodes as the end of edges only")
                raise _Bad
            else:
                raise _Bad  # unsupported predecessor, already reported
        return sig

    def _input_size(self, nid: str) -> int:
        node = self.nodes[nid]
        if isinstance(node, (self.nir.Linear, self.nir.Affine)):
            return int(np.asarray(node.weight).shape[-1])
        if isinstance(node, self.nir.Output):
            return self._size(nid)
        if isinstance(node, (_PassThrough, self.nir.Flatten)) or type(node).__name__ == "Identity":
            preds = self.preds[nid]
            if preds:
                return self._size(preds[0])
        return self._size(nid)

    def _output_of(self, nid: str) -> _Signal:
        """The output signal of linear node `nid` (memoized; cycles of linear nodes are errors)."""
        if nid in self.memo:
            return self.memo[nid]
        if nid in self.visiting:
            self._node_err(nid, "is on a cycle of linear nodes with no neuron in between",
                           "every cycle passes through a spiking node")
            raise _Bad
        self.visiting.add(nid)
        try:
            sig = self._apply(nid, self._input_of(nid))
        finally:
            self.visiting.discard(nid)
        self.memo[nid] = sig
        return sig

    def _apply(self, nid: str, sig: _Signal) -> _Signal:
        node, nir = self.nodes[nid], self.nir
        label = _meta_str((getattr(node, "metadata", None) or {}).get("snnc_projection")) or nid
        if isinstance(node, (nir.Linear, nir.Affine)):
            w = np.asarray(node.weight, dtype=np.float64)
            if w.ndim != 2:
                self._node_err(nid, f"weight has shape {w.shape}", "a 2-D (out, in) matrix")
                raise _Bad
            if not np.all(np.isfinite(w)):
                self._node_err(nid, "weight has non-finite values", "finite numbers")
                raise _Bad
            out = _Signal(w.shape[0])
            for key, (m, labels) in sig.terms.items():
                out.terms[key] = (w @ m, labels | {label})
            if sig.bias is not None:
                out.bias = w @ sig.bias
            if isinstance(node, nir.Affine):
                b = np.asarray(node.bias, dtype=np.float64).ravel()
                if b.size not in (1, w.shape[0]) or not np.all(np.isfinite(b)):
                    self._node_err(nid, f"bias has {b.size} entries", f"{w.shape[0]} finite numbers")
                    raise _Bad
                if np.any(b != 0):
                    b = np.broadcast_to(b, (w.shape[0],))
                    out.bias = b.copy() if out.bias is None else out.bias + b
            return out
        if isinstance(node, nir.Scale):
            s = np.broadcast_to(np.asarray(node.scale, dtype=np.float64).ravel(), (sig.n,))
            out = _Signal(sig.n, {k: (s[:, None] * m, labels) for k, (m, labels) in sig.terms.items()})
            out.bias = None if sig.bias is None else s * sig.bias
            return out
        if isinstance(node, nir.Delay):
            return self._delay(nid, node, sig)
        return sig  # Flatten, Identity, inlined subgraph ports: no-ops on flat vectors

    def _delay(self, nid: str, node: Any, sig: _Signal) -> _Signal:
        tau = np.broadcast_to(np.asarray(node.delay, dtype=np.float64).ravel(), (sig.n,))
        steps = tau / self.dt
        d = np.round(steps)
        if np.any(~np.isfinite(steps)) or np.any(np.abs(steps - d) > 1e-6 * np.maximum(1, d)) \
                or np.any(d < 0):
            self._node_err(nid, f"delay / dt must be a whole number of steps >= 0 (found "
                           f"{steps.min():g} .. {steps.max():g} steps)", "delays k * dt")
            raise _Bad
        d = d.astype(np.int64)
        out = _Signal(sig.n, bias=sig.bias)
        for (src, d0), (m, labels) in sig.terms.items():
            for k in np.unique(d):
                rows = (d == k)[:, None]
                part = np.where(rows, m, 0.0)
                key = (src, int(d0 + k))
                if key in out.terms:
                    out.terms[key] = (out.terms[key][0] + part, out.terms[key][1] | labels)
                else:
                    out.terms[key] = (part, set(labels))
        return out

    # -- the spec -------------------------------------------------------------------

    def spec(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The network spec dict (float precision) for `network_from_dict`."""
        self._check_supported()
        pops: dict[str, Any] = {}
        neurons = self._sources_and_neurons(inputs, pops)
        self._check_inputs(inputs)
        projs: dict[str, Any] = {}
        for nid, nrn in neurons.items():
            try:
                pops[self.names[nid]], new = self._population(nid, nrn)
            except _Bad:
                continue
            projs.update(new)
        pops.update(getattr(self, "bias_sources", {}))
        probes = self._all_probes()
        self.col.raise_if_any()
        if not pops:
            raise InputError(Diagnostic("the graph has no Input or spiking node", file=self.file,
                                        field="nodes", allowed="at least one LIF/CubaLIF/IF node"))
        return {"populations": pops, "projections": projs, "probes": probes}

    def _check_supported(self) -> None:
        """One error per node that no snnc construct maps."""
        for nid, node in self.nodes.items():
            if self._kind(node) == "unsupported":
                self._node_err(nid, f"cannot be mapped: {self._why_unsupported(node)}",
                               "Input, Output, LIF, CubaLIF, IF, LI, CubaLI, I, Threshold, "
                               "Linear, Affine, Scale, Delay, Flatten, Identity, NIRGraph")

    def _sources_and_neurons(self, inputs: Mapping[str, Any], pops: dict[str, Any]
                             ) -> dict[str, _Neuron]:
        """Input nodes become source populations (added to `pops`); the spiking nodes'
        neuron parameters by node id."""
        neurons: dict[str, _Neuron] = {}
        for nid, node in self.nodes.items():
            kind = self._kind(node)
            try:
                if kind == "input":
                    pops[self.names[nid]] = self._source(nid, inputs)
                elif kind == "neuron":
                    neurons[nid] = self._neuron(nid)
            except _Bad:
                continue
        return neurons

    def _check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Every key of `inputs` names an Input node."""
        for key in inputs:
            if key not in self.nodes or self._kind(self.nodes[key]) != "input":
                known = [k for k, n in self.nodes.items() if self._kind(n) == "input"]
                self._err(f"inputs.{key}", f"'{key}' is not an Input node of the graph",
                          ", ".join(known) or "no Input nodes")

    def _all_probes(self) -> list[str]:
        """The spike probes of every Output node, each once, in graph order."""
        probes: list[str] = []
        for nid, node in self.nodes.items():
            if self._kind(node) == "output":
                try:
                    probes.extend(p for p in self._probes(nid) if p not in probes)
                except _Bad:
                    continue
        return probes

    def _source(self, nid: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        size = self._size(nid)
        given = inputs.get(nid, inputs.get(self.names[nid]))
        if given is None:
            spikes: Any = {"kind": "poisson", "rate": 0.0}
        elif isinstance(given, np.ndarray):
            spikes = {"kind": "array", "data": given.reshape(given.shape[0], -1) if given.ndim > 2
                      else given}
        elif isinstance(given, Mapping):
            spikes = dict(given)
        else:
            self._err(f"inputs.{nid}", f"found {type(given).__name__}", INPUTS_ALLOWED)
            raise _Bad
        return {"size": size, "model": "spike_source", "spikes": spikes}

    def _population(self, nid: str, nrn: _Neuron) -> tuple[dict[str, Any], dict[str, Any]]:
        sig = self._input_of(nid)
        bias = nrn.bias
        extra: dict[str, Any] = {}
        if sig.bias is not None and np.any(sig.bias != 0):
            per_neuron = nrn.gain * sig.bias + bias
            if nrn.exact_bias and np.allclose(per_neuron, per_neuron[0], rtol=REL_TOL, atol=0):
                bias = float(per_neuron.mean())  # a constant into v each step: Lava's bias
            else:
                extra = self._bias_source(nid, nrn.gain * sig.bias)
        params = {"du": nrn.du, "dv": nrn.dv, "vth": nrn.vth, "bias_mant": bias}
        pop = {"size": self._size(nid), "model": "lif", "params": params}
        return pop, {**self._projections(nid, nrn, sig), **extra}

    def _bias_source(self, nid: str, current: np.ndarray) -> dict[str, Any]:
        """An Affine bias into a neuron with synaptic memory (or differing per neuron): an
        always-on source `<name>_bias` whose one-to-one projection adds `current` to u."""
        post = self.names[nid]
        used = self._used_proj_names()
        src = _unique(f"{post}_bias", used)
        size = self._size(nid)
        if not hasattr(self, "bias_sources"):
            self.bias_sources: dict[str, Any] = {}
        self.bias_sources[src] = {"size": size, "model": "spike_source",
                                  "spikes": {"kind": "periodic", "period": 1, "phase": 0}}
        idx = np.flatnonzero(current)
        data = {"pre": idx, "post": idx, "weight": current[idx],
                "delay": np.zeros(idx.size, dtype=np.int64)}
        return {_unique(f"{src}_in", used): {"pre": src, "post": post,
                                             "connectivity": {"kind": "list", "data": data}}}

    def _projections(self, nid: str, nrn: _Neuron, sig: _Signal) -> dict[str, Any]:
        """One list projection per source (one per (source, delay) where delays collide)."""
        post_name = self.names[nid]
        by_src: dict[str, list[tuple[int, np.ndarray, set[str]]]] = {}
        for (src, d), (m, labels) in sig.terms.items():
            if d > MAX_DELAY:
                self._node_err(nid, f"input from '{src}' is delayed {d} steps", f"delays 0..{MAX_DELAY} steps")
                raise _Bad
            g = nrn.gain[:, None] * m
            if np.any(g != 0):
                by_src.setdefault(src, []).append((d, g, labels))
        out: dict[str, Any] = {}
        for src, parts in by_src.items():
            groups = [parts]
            support = sum((p[1] != 0).astype(np.int64) for p in parts)
            if len(parts) > 1 and support.max() > 1:  # same (pre, post) at two delays
                groups = [[p] for p in parts]
            for group in groups:
                labels = set().union(*(p[2] for p in group))
                name = _sanitize(next(iter(labels))) if len(labels) == 1 else \
                    f"{self.names[src]}_to_{post_name}"
                if len(groups) > 1:
                    name = f"{name}_d{group[0][0]}"
                pre_l, post_l, w_l, d_l = [], [], [], []
                for d, g, _ in group:
                    post_i, pre_i = np.nonzero(g)
                    pre_l.append(pre_i)
                    post_l.append(post_i)
                    w_l.append(g[post_i, pre_i])
                    d_l.append(np.full(post_i.size, d, dtype=np.int64))
                data = {"pre": np.concatenate(pre_l), "post": np.concatenate(post_l),
                        "weight": np.concatenate(w_l), "delay": np.concatenate(d_l)}
                out[_unique(name, self._used_proj_names())] = {
                    "pre": self.names[src], "post": post_name,
                    "connectivity": {"kind": "list", "data": data}}
        return out

    def _used_proj_names(self) -> set[str]:
        if not hasattr(self, "_proj_names"):
            self._proj_names: set[str] = set(self.names.values())
        return self._proj_names

    def _probes(self, nid: str) -> list[str]:
        sig = self._input_of(nid, probe=True)
        ok = sig.bias is None or not np.any(sig.bias)
        for (_src, d), (m, _) in sig.terms.items():
            ok = ok and d == 0 and m.shape[0] == m.shape[1] and np.array_equal(m, np.eye(m.shape[0]))
        if not ok or not sig.terms:
            self._node_err(nid, "is not fed by a spiking node (snnc records spikes, not the "
                           "output of a Linear/Affine node)",
                           "Output nodes fed by LIF, CubaLIF, IF or Input nodes")
            raise _Bad
        readouts = _readout_types(self.nir)
        return [f"{self.names[src]}." + ("v" if isinstance(self.nodes[src], readouts) else "spikes")
                for (src, _d) in sig.terms]
