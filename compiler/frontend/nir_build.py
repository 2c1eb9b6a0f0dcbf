"""The network spec of a flattened NIR graph: populations, projections, bias sources, probes.

Input nodes become spike sources, spiking nodes LIF populations (nir_nodes.py) fed by one
list projection per source node (per (source, delay) where two delays join the same pair),
the weights being the composed linear chain (nir_walk.py) times the post neuron's gain. A
projection that is one convolution of its source keeps its `ConvSpec` (`SpecBuilder.convs`)
when the gain is equal within each output channel; feature-map populations (shape
(C, *spatial)) get `positions` (the spatial coordinates) for the `tile` partitioner.
An Affine/Conv bias into a neuron: the Lava bias where it is exact, else an always-on
source `<population>_bias` with a one-to-one projection (see the nir_import module doc).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import Diagnostic, InputError
from ..ir import ConvSpec
from .nir_graph import (
    ALWAYS_ON,
    Bad,
    Reporter,
    meta_str,
    node_names,
    readout_types,
    sanitize,
    unique,
)
from .nir_nodes import REL_TOL, Neuron, NeuronMapper
from .nir_signal import CONV, POOL, Signal, Term
from .nir_walk import SUPPORTED, Walker

MAX_DELAY = 63
INPUTS_ALLOWED = "a bool array (steps, size) or a spikes mapping {kind: poisson | periodic | array, ...}"
REASONS = {"Conv3d": "3-D convolutions have no mapping (Conv1d and Conv2d do)",
           "MaxPool2d": "max pooling is not linear: no synapse weights express it",
           "NoneType": "the exporter wrote no node here (a module it could not convert)"}


class SpecBuilder:
    """Builds the float network spec dict of one flattened graph."""

    def __init__(self, nodes: dict[str, Any], edges: list[tuple[str, str]], dt: float,
                 file: str | None, nir: Any) -> None:
        self.nodes, self.nir, self.file = nodes, nir, file
        self.rep = Reporter(file, nodes)
        self.walk = Walker(nodes, edges, dt, self.rep, nir)
        self.neurons = NeuronMapper(self.rep, dt)
        self.names = node_names(nodes, nir)
        self.used: set[str] = set(self.names.values())  # population and projection names
        self.bias_sources: dict[str, Any] = {}
        self.convs: dict[str, ConvSpec] = {}  # projection name -> the conv it unrolls

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
            except Bad:
                continue
            projs.update(new)
        pops.update(self.bias_sources)
        probes = self._all_probes()
        self.rep.col.raise_if_any()
        if not pops:
            raise InputError(Diagnostic("the graph has no Input or spiking node", file=self.file,
                                        field="nodes", allowed="at least one LIF/CubaLIF/IF node"))
        return {"populations": pops, "projections": projs, "probes": probes}

    def _check_supported(self) -> None:
        """One error per node that no snnc construct maps."""
        for nid, node in self.nodes.items():
            if self.walk.kind(nid) == "unsupported":
                why = getattr(node, "reason", None) or REASONS.get(
                    type(node).__name__, "this node type has no Loihi mapping in snnc")
                self.rep.node_err(nid, f"cannot be mapped: {why}", SUPPORTED)

    def _sources_and_neurons(self, inputs: Mapping[str, Any], pops: dict[str, Any]
                             ) -> dict[str, Neuron]:
        """Input nodes become source populations (into `pops`); the spiking nodes' neuron
        parameters by node id."""
        neurons: dict[str, Neuron] = {}
        for nid, node in self.nodes.items():
            kind = self.walk.kind(nid)
            try:
                if kind == "input":
                    pops[self.names[nid]] = self._source(nid, inputs)
                elif kind == "neuron":
                    neurons[nid] = self.neurons.neuron(nid, node, self.walk.shape(nid))
            except Bad:
                continue
        return neurons

    def _check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Every key of `inputs` names an Input node."""
        known = [k for k in self.nodes if self.walk.kind(k) == "input"]
        for key in inputs:
            if key not in known:
                self.rep.err(f"inputs.{key}", f"'{key}' is not an Input node of the graph",
                             ", ".join(known) or "no Input nodes")

    def _source(self, nid: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        given = inputs.get(nid, inputs.get(self.names[nid]))
        role = meta_str((getattr(self.nodes[nid], "metadata", None) or {}).get("snnc_role"))
        if given is None and role == ALWAYS_ON:
            spikes: Any = {"kind": "periodic", "period": 1, "phase": 0}
        elif given is None:
            spikes = {"kind": "poisson", "rate": 0.0}
        elif isinstance(given, np.ndarray):
            spikes = {"kind": "array", "data": given.reshape(given.shape[0], -1)
                      if given.ndim > 2 else given}
        elif isinstance(given, Mapping):
            spikes = dict(given)
        else:
            self.rep.err(f"inputs.{nid}", f"found {type(given).__name__}", INPUTS_ALLOWED)
            raise Bad
        return {"size": self.walk.size(nid), "model": "spike_source", "spikes": spikes}

    # -- populations ---------------------------------------------------------------

    def _population(self, nid: str, nrn: Neuron) -> tuple[dict[str, Any], dict[str, Any]]:
        sig = self.walk.input_of(nid)
        bias, extra = nrn.bias, {}
        if sig.bias is not None and np.any(sig.bias != 0):
            per_neuron = nrn.gain * sig.bias + bias
            if nrn.exact_bias and np.allclose(per_neuron, per_neuron[0], rtol=REL_TOL, atol=0):
                bias = float(per_neuron.mean())  # a constant into v each step: Lava's bias
            else:
                extra = self._bias_source(nid, nrn.gain * sig.bias)
        params = {"du": nrn.du, "dv": nrn.dv, "vth": nrn.vth, "bias_mant": bias}
        pop: dict[str, Any] = {"size": self.walk.size(nid), "model": "lif", "params": params}
        positions = _positions(self._map_shape(nid, sig))
        if positions is not None:
            pop["positions"] = {"data": positions}
        return pop, {**self._projections(nid, nrn, sig), **extra}

    def _map_shape(self, nid: str, sig: Signal) -> tuple[int, ...]:
        """The node's shape, or its input's when the node declares a flat one."""
        shape = self.walk.shape(nid)
        if len(shape) < 2 and math.prod(sig.shape) == math.prod(shape):
            return sig.shape
        return shape

    def _bias_source(self, nid: str, current: np.ndarray) -> dict[str, Any]:
        """An always-on source `<name>_bias` whose one-to-one projection adds `current` to u."""
        post = self.names[nid]
        src = unique(f"{post}_bias", self.used)
        self.bias_sources[src] = {"size": self.walk.size(nid), "model": "spike_source",
                                  "spikes": {"kind": "periodic", "period": 1, "phase": 0}}
        idx = np.flatnonzero(current)
        data = {"pre": idx, "post": idx, "weight": current[idx],
                "delay": np.zeros(idx.size, dtype=np.int64)}
        return {unique(f"{src}_in", self.used): {"pre": src, "post": post,
                                                 "connectivity": {"kind": "list", "data": data}}}

    # -- projections ---------------------------------------------------------------

    def _projections(self, nid: str, nrn: Neuron, sig: Signal) -> dict[str, Any]:
        """One list projection per source (one per (source, delay) where delays collide)."""
        gain = sp.diags(nrn.gain, format="csr")
        by_src: dict[str, list[tuple[int, sp.coo_matrix, Term]]] = {}
        for (src, d), t in sig.terms.items():
            if d > MAX_DELAY:
                raise self.rep.fail(nid, f"input from '{src}' is delayed {d} steps",
                                    f"delays 0..{MAX_DELAY} steps")
            g = (gain @ t.m).tocoo()
            g.eliminate_zeros()
            if g.nnz:
                by_src.setdefault(src, []).append((d, g, t))
        out: dict[str, Any] = {}
        for src, parts in by_src.items():
            groups = [[p] for p in parts] if _pairs_collide(parts) else [parts]
            for group in groups:
                name = self._projection_name(src, nid, group, len(groups) > 1)
                out[name] = {"pre": self.names[src], "post": self.names[nid],
                             "connectivity": {"kind": "list", "data": _synapses(group)}}
                conv = _kept_conv(group, nrn.gain)
                if conv is not None:
                    self.convs[name] = conv
        return out

    def _projection_name(self, src: str, nid: str, group: list, split: bool) -> str:
        labels = set().union(*(t.labels for _, _, t in group))
        name = sanitize(next(iter(labels))) if len(labels) == 1 else \
            f"{self.names[src]}_to_{self.names[nid]}"
        if split:
            name = f"{name}_d{group[0][0]}"
        return unique(name, self.used)

    # -- probes --------------------------------------------------------------------

    def _all_probes(self) -> list[str]:
        """The probes of every Output node, each once, in graph order."""
        probes: list[str] = []
        for nid in self.nodes:
            if self.walk.kind(nid) == "output":
                try:
                    probes.extend(p for p in self._probes(nid) if p not in probes)
                except Bad:
                    continue
        return probes

    def _probes(self, nid: str) -> list[str]:
        sig = self.walk.input_of(nid, probe=True)
        ok = bool(sig.terms) and (sig.bias is None or not np.any(sig.bias))
        for (_src, d), t in sig.terms.items():
            ok = ok and d == 0 and _is_identity(t.m)
        if not ok:
            raise self.rep.fail(nid, "is not fed by a spiking node (snnc records spikes, not the "
                                "output of a Linear/Affine node)",
                                "Output nodes fed by LIF, CubaLIF, IF or Input nodes")
        readouts = readout_types(self.nir)
        return [f"{self.names[src]}." + ("v" if isinstance(self.nodes[src], readouts) else "spikes")
                for (src, _d) in sig.terms]


def _is_identity(m: sp.csr_matrix) -> bool:
    return m.shape[0] == m.shape[1] and (m != sp.identity(m.shape[0], format="csr")).nnz == 0


def _pairs_collide(parts: list[tuple[int, sp.coo_matrix, Term]]) -> bool:
    """Whether two delays of one source reach the same (pre, post) pair."""
    if len(parts) < 2:
        return False
    keys = np.concatenate([g.row.astype(np.int64) * g.shape[1] + g.col for _, g, _ in parts])
    return np.unique(keys).size < keys.size


def _synapses(group: list[tuple[int, sp.coo_matrix, Term]]) -> dict[str, np.ndarray]:
    if len(group) == 1:  # one delay: the matrix's own arrays (no copies)
        d, g, _ = group[0]
        return {"pre": g.col, "post": g.row, "weight": g.data,
                "delay": np.full(g.nnz, d, dtype=np.int64)}
    return {"pre": np.concatenate([g.col for _, g, _ in group]),
            "post": np.concatenate([g.row for _, g, _ in group]),
            "weight": np.concatenate([g.data for _, g, _ in group]),
            "delay": np.concatenate([np.full(g.nnz, d, dtype=np.int64) for d, g, _ in group])}


def _kept_conv(group: list[tuple[int, sp.coo_matrix, Term]], gain: np.ndarray) -> ConvSpec | None:
    """The term's ConvSpec when the projection is one conv with a gain per output channel."""
    if len(group) != 1:
        return None
    t = group[0][2]
    if t.form not in (CONV, POOL) or t.conv is None or math.prod(t.conv.out_shape) != gain.size:
        return None
    per_channel = gain.reshape(t.conv.out_shape[0], -1)
    return t.conv if np.all(per_channel == per_channel[:, :1]) else None


def _positions(shape: tuple[int, ...]) -> np.ndarray | None:
    """Spatial coordinates (y, x) or (x,) of every neuron of a (C, *spatial) feature map."""
    if len(shape) not in (2, 3) or math.prod(shape[1:]) < 2:
        return None
    coords = np.unravel_index(np.arange(math.prod(shape)), shape)[1:]
    return np.column_stack(coords).astype(np.float64)

