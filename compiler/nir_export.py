"""NetworkIR / Program -> NIR graph (`nir.NIRGraph`), the inverse of frontend.nir_import.

Lava LIF (`u = u (1 - du) + a_in;  v = v (1 - dv) + u + bias;  spike: v > vth`) becomes
a CubaLIF with `tau_syn = dt / du`, `tau_mem = dt / dv`, `r = tau_mem / dt`, `w_in = 1`,
`v_leak = bias / dv`, `v_threshold = vth`, `v_reset = 0`, so that its input gain
`w_in (dt / tau_syn) r (dt / tau_mem)` is `du` and each Linear weight is the Lava weight
divided by the post population's `du`. A population without any leak (du = 1, dv = 0,
no bias) becomes an IF with `r = 1 / dt`. Fixed precision is written in float with the
scale `v_NIR = v_Lava / 64` (so `v_threshold = vth`), the effective decays
`du = (du_fixed + 1) / 4096`, `dv = dv_fixed / 4096`, the effective bias
`(bias_mant << bias_exp) / 64` and the effective weights after Lava's clip and
truncation, times `2**weight_exp`; Lava's round-toward-zero of u and v is not part of NIR.

Projections become Linear nodes (weight (post, pre)); synapses with delay d > 0 go
through their own Linear followed by a Delay of `d * dt`. A projection that unrolls a
convolution (`Projection.conv`) with shared weights becomes a Conv1d/Conv2d node, or a
SumPool2d/AvgPool2d node (nir_export_conv.py). Spike sources become Input nodes (their
data are given when the graph runs; an always-on source is marked `snnc_role: always_on`
and needs none); every population gets an Output node.
A population that nothing feeds gets a silent entry Input node (`snnc_role: silent`,
through an all-zero Linear), so that `nir.read` reads the graph back as written. NIR has no plasticity and no adaptive threshold: a
plastic projection is written with its current weights (with a warning), and an
adaptive threshold is an error.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import fields
from typing import Any

import numpy as np

from .errors import Diagnostic, InputError, SnncError
from .frontend.nir_graph import ALWAYS_ON, SILENT
from .ir import NetworkIR, Population, Projection
from .nir_export_conv import ConvPlan, conv_node, plan
from .passes.quantize import lava_effective_weights
from .program import Program

MAX_DENSE = 1 << 26  # entries of one dense Linear weight matrix (512 MiB of float64)


def _nir() -> Any:
    try:
        import nir
    except ImportError as exc:  # optional dependency (extra "nir")
        raise SnncError("NIR support needs the 'nir' package: pip install 'snnc[nir]'") from exc
    return nir


def export_nir(network_or_program: NetworkIR | Program, *, dt: float = 1.0) -> Any:
    """A `nir.NIRGraph` of a network (or a compiled Program: its network, with each
    population's core ids in the node metadata as `snnc_cores`)."""
    nir = _nir()
    program = network_or_program if isinstance(network_or_program, Program) else None
    net = program.network if program is not None else network_or_program
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise InputError(Diagnostic(f"found dt={dt!r}", field="dt", allowed="a number > 0"))
    fixed = net.precision == "fixed"
    diags: list[Diagnostic] = []
    nodes: dict[str, Any] = {}
    gains = _population_nodes(nir, net, program, fixed, dt, nodes, diags)
    weights = {name: _effective(proj, fixed) / gains[proj.post]
               for name, proj in net.projections.items() if proj.post in gains}
    shapes = plan(net, weights)
    _shape_nodes(nir, shapes.shapes, nodes)
    edges: list[tuple[str, str]] = []
    _projection_edges(nir, net, weights, shapes, dt, nodes, edges, diags)
    if diags:
        raise InputError(diags)
    _outputs_and_entries(nir, net, shapes.shapes, nodes, edges)
    metadata = {"snnc_name": net.name, "snnc_precision": net.precision, "dt": float(dt),
                "snnc_v_scale": 1.0 / 64 if fixed else 1.0}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _population_nodes(nir: Any, net: NetworkIR, program: Program | None, fixed: bool, dt: float,
                      nodes: dict[str, Any], diags: list[Diagnostic]) -> dict[str, float]:
    """An Input node per spike source and a neuron node per neuron population into `nodes`
    (unmappable ones into `diags`); the input gain of each neuron node, by population."""
    gains: dict[str, float] = {}
    for name, pop in net.populations.items():
        meta: dict[str, Any] = {"snnc_name": name}
        if program is not None and name in program.core_of:
            meta["snnc_cores"] = np.asarray(program.core_of[name], dtype=np.int32)
        if pop.is_source:
            src = pop.source
            if src is not None and src.kind == "periodic" and src.period == 1 and src.phase == 0:
                meta["snnc_role"] = ALWAYS_ON  # spikes every step: needs no input data
            nodes[name] = nir.Input(input_type=np.array([pop.size]), metadata=meta)
            continue
        try:
            nodes[name], gains[name] = _neuron_node(nir, net, pop, fixed, dt, meta)
        except _Unmappable as exc:
            diags.append(Diagnostic.at(net.loc(f"populations.{name}.params"), str(exc),
                                       exc.allowed))
    return gains


def _shape_nodes(nir: Any, shapes: dict[str, tuple[int, ...]], nodes: dict[str, Any]) -> None:
    """Feature-map populations written with their (C, *spatial) shape: per-neuron arrays
    reshaped, the node rebuilt so that its types follow."""
    for name, shape in shapes.items():
        node = nodes.get(name)
        if node is None:
            continue
        if isinstance(node, nir.Input):
            nodes[name] = nir.Input(input_type=np.array(shape), metadata=node.metadata)
            continue
        args = {f.name: getattr(node, f.name) for f in fields(node)
                if f.init and f.name not in ("input_type", "output_type")}
        for key, value in args.items():
            if isinstance(value, np.ndarray) and value.size == math.prod(shape):
                args[key] = value.reshape(shape)
        nodes[name] = type(node)(**args)


def _projection_edges(nir: Any, net: NetworkIR, weights: dict[str, np.ndarray],
                      shapes: ConvPlan, dt: float, nodes: dict[str, Any],
                      edges: list[tuple[str, str]], diags: list[Diagnostic]) -> None:
    """The nodes and edges of every projection onto a mapped population (`weights`: its
    weights divided by the post node's gain): convolutions and pools as such (see
    nir_export_conv.py), one-to-one inputs of feature maps as Scale nodes, the others as
    Linear nodes; too-big dense matrices into `diags`."""
    for name, w in weights.items():
        proj = net.projections[name]
        if proj.plasticity is not None:
            warnings.warn(f"projection {name}: NIR has no plasticity; exporting its initial "
                          "weights only", stacklevel=3)
        if name in shapes.kernels:
            assert proj.conv is not None
            chain = conv_node(nir, proj.conv, shapes.kernels[name], {"snnc_projection": name})
            _chain(nir, proj, chain, shapes.shapes[proj.post], dt, nodes, edges)
            continue
        if name in shapes.scales:
            scale = np.zeros(net.populations[proj.post].size)
            np.add.at(scale, proj.post_idx, w)
            node = nir.Scale(scale=scale.reshape(shapes.shapes[proj.post]),
                             metadata={"snnc_projection": name})
            _chain(nir, proj, [node], shapes.shapes[proj.post], dt, nodes, edges)
            continue
        n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
        if n_pre * n_post > MAX_DENSE:
            diags.append(Diagnostic.at(
                net.loc(f"projections.{name}"),
                f"projection '{name}' ({n_post} x {n_pre}) is too big for a dense NIR Linear",
                f"at most {MAX_DENSE} (post x pre) entries"))
            continue
        src = _flat_view(nir, proj.pre, shapes.shapes, nodes, edges)
        _projection_nodes(nir, proj, src, w, n_pre, n_post, dt, nodes, edges)


def _chain(nir: Any, proj: Projection, chain: list[Any], shape: tuple[int, ...], dt: float,
           nodes: dict[str, Any], edges: list[tuple[str, str]]) -> None:
    """pre -> chain nodes -> [Delay] -> post, the first node named after the projection."""
    names = [_free(proj.name if i == 0 else f"{proj.name}.{type(n).__name__.lower()}", nodes)
             for i, n in enumerate(chain)]
    for key, node in zip(names, chain, strict=True):
        nodes[key] = node
    d = int(proj.delay[0]) if proj.n_synapses else 0
    if d > 0:
        names.append(_free(f"{proj.name}.delay", nodes))
        nodes[names[-1]] = nir.Delay(delay=np.full(shape, float(d) * dt),
                                     metadata={"snnc_projection": proj.name})
    path = [proj.pre, *names, proj.post]
    edges.extend(zip(path[:-1], path[1:], strict=True))


def _flat_view(nir: Any, pop: str, shapes: dict[str, tuple[int, ...]], nodes: dict[str, Any],
               edges: list[tuple[str, str]]) -> str:
    """`pop`, or for a feature map the Flatten node that Linear nodes read it through."""
    if pop not in shapes:
        return pop
    key = f"{pop}.flat"
    if key not in nodes:
        nodes[key] = nir.Flatten(input_type={"input": np.array(shapes[pop])}, start_dim=0)
        edges.append((pop, key))
    return key


def _outputs_and_entries(nir: Any, net: NetworkIR, shapes: dict[str, tuple[int, ...]],
                         nodes: dict[str, Any], edges: list[tuple[str, str]]) -> None:
    """An Output node for every population; a silent entry Input node (metadata
    `snnc_role: silent`, fed through an all-zero Linear) into each population that no
    edge reaches, and into one population when the graph has no Input node at all, so
    that `nir.read`'s type check finds its entry points without inventing Input nodes."""
    fed = {b for _, b in edges}
    roots = [n for n in net.populations if n in nodes and not net.populations[n].is_source
             and n not in fed]
    has_input = any(net.populations[n].is_source for n in net.populations if n in nodes)
    if not roots and not has_input:
        roots = [n for n in net.populations if n in nodes][:1]
    for name in roots:
        size = net.populations[name].size
        entry = _free(f"{name}.entry", nodes)
        lin = _free(f"{entry}.zero", nodes)
        if name in shapes:  # a feature map: a zero Scale of its shape
            nodes[entry] = nir.Input(input_type=np.array(shapes[name]),
                                     metadata={"snnc_role": SILENT})
            nodes[lin] = nir.Scale(scale=np.zeros(shapes[name]))
        else:
            nodes[entry] = nir.Input(input_type=np.array([1]), metadata={"snnc_role": SILENT})
            nodes[lin] = nir.Linear(weight=np.zeros((size, 1)))
        edges.extend([(entry, lin), (lin, name)])
    for name, pop in net.populations.items():
        if name in nodes:
            out = _free(f"{name}.out", nodes)
            nodes[out] = nir.Output(output_type=np.array(shapes.get(name, [pop.size])))
            edges.append((name, out))


class _Unmappable(Exception):
    def __init__(self, message: str, allowed: str) -> None:
        super().__init__(message)
        self.allowed = allowed


def lif_float_params(pop: Population, fixed: bool) -> tuple[float, float, float, float]:
    """(du, dv, vth, bias) of a LIF population in float units (fixed: v / 64, see module doc)."""
    lif = pop.lif
    assert lif is not None
    if not fixed:
        return float(lif.du), float(lif.dv), float(lif.vth), float(lif.bias_mant)
    bias = int(lif.bias_mant) * 2.0 ** int(lif.bias_exp)
    return (int(lif.du) + 1) / 4096.0, int(lif.dv) / 4096.0, float(lif.vth), bias / 64.0


def _neuron_node(nir: Any, net: NetworkIR, pop: Population, fixed: bool, dt: float,
                 meta: dict[str, Any]) -> tuple[Any, float]:
    """The NIR node of a LIF population and its input gain (Lava weight / NIR weight)."""
    if pop.lif is not None and pop.lif.adapt is not None:
        raise _Unmappable(f"population '{pop.name}' has an adaptive threshold, which NIR "
                          "cannot express", "populations without adapt")
    du, dv, vth, bias = lif_float_params(pop, fixed)
    n = pop.size

    def full(x: float) -> np.ndarray:
        return np.full(n, x, dtype=np.float64)

    if dv > 0 and du > 0:
        node = nir.CubaLIF(tau_syn=full(dt / du), tau_mem=full(dt / dv), r=full(1.0 / dv),
                           v_leak=full(bias / dv), v_threshold=full(vth), v_reset=full(0.0),
                           w_in=full(1.0), metadata=meta)
        return node, du
    if dv == 0 and du == 1 and bias == 0:
        return nir.IF(r=full(1.0 / dt), v_threshold=full(vth), v_reset=full(0.0),
                      metadata=meta), 1.0
    what = "a synaptic current that never decays (du = 0)" if du == 0 else \
        "a membrane without leak (dv = 0) together with a synaptic filter or a bias"
    raise _Unmappable(f"population '{pop.name}' has {what}; no NIR neuron (CubaLIF, IF) "
                      "expresses it", "dv > 0 and du > 0 (CubaLIF), or du = 1, dv = 0, "
                      "bias 0 (IF)")


def _effective(proj: Projection, fixed: bool) -> np.ndarray:
    """Per-synapse weights as they act on u, in float units (fixed: Lava's effective weights)."""
    if not fixed:
        return np.asarray(proj.weight, dtype=np.float64)
    w = lava_effective_weights(np.asarray(proj.weight), int(proj.num_weight_bits))
    return w.astype(np.float64) * 2.0 ** int(proj.weight_exp)


def _projection_nodes(nir: Any, proj: Projection, src: str, w: np.ndarray, n_pre: int,
                      n_post: int, dt: float, nodes: dict[str, Any],
                      edges: list[tuple[str, str]]) -> None:
    """One Linear per delay value (delays > 0 followed by a Delay node)."""
    delays = np.unique(proj.delay) if proj.n_synapses else np.zeros(1, dtype=np.int64)
    for d in delays:
        sel = proj.delay == d
        mat = np.zeros((n_post, n_pre))
        np.add.at(mat, (proj.post_idx[sel], proj.pre_idx[sel]), w[sel])
        meta = {"snnc_projection": proj.name}
        lin = _free(proj.name if d == 0 else f"{proj.name}.d{int(d)}", nodes)
        nodes[lin] = nir.Linear(weight=mat, metadata=meta)
        edges.append((src, lin))
        if d == 0:
            edges.append((lin, proj.post))
            continue
        dly = _free(f"{lin}.delay", nodes)
        nodes[dly] = nir.Delay(delay=np.full(n_post, float(d) * dt), metadata=dict(meta))
        edges.extend([(lin, dly), (dly, proj.post)])


def _free(name: str, nodes: dict[str, Any]) -> str:
    """`name`, or `name_1`, `name_2`, ... if taken."""
    out, i = name, 1
    while out in nodes:
        out, i = f"{name}_{i}", i + 1
    return out


def save_nir(network_or_program: NetworkIR | Program, path: Any, *, dt: float = 1.0) -> None:
    """Write `export_nir(network_or_program, dt=dt)` to a NIR (HDF5) file with `nir.write`."""
    _nir().write(path, export_nir(network_or_program, dt=dt))
