"""Walking a flattened NIR graph: node kinds, shapes, and the linear signal into each node.

Every edge carries a signal; edges into one node add up. `Walker.input_of(nid)` composes
the chains of linear nodes (Linear, Affine, Scale, Delay, Flatten, Identity, Conv1d,
Conv2d, SumPool2d, AvgPool2d) between spiking nodes into one `Signal` (nir_signal.py).
Shapes follow NIR: (channels, *spatial) for feature maps, flattened in C order.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .nir_conv import (
    CONV_TYPES,
    POOL_TYPES,
    GeometryError,
    conv_matrix,
    conv_spec,
    pool_kernel,
    pool_spec,
)
from .nir_graph import Bad, PassThrough, Reporter, meta_str, neuron_types, readout_types
from .nir_signal import Signal, convolved, delayed, linear, reshaped, scaled, source

SUPPORTED = ("Input, Output, LIF, CubaLIF, IF, LI, CubaLI, I, Threshold, Linear, Affine, Scale, "
             "Delay, Flatten, Identity, Conv1d, Conv2d, SumPool2d, AvgPool2d, NIRGraph")
MAX_NODE_SIZE = 1 << 28  # neurons (or signal elements) of one node
LINEAR_TYPES = ("Linear", "Affine", "Scale", "Delay", "Flatten", "Identity", *CONV_TYPES,
                *POOL_TYPES)


class Walker:
    """Kinds, shapes and input signals of the nodes of one flattened graph (memoized)."""

    def __init__(self, nodes: dict[str, Any], edges: list[tuple[str, str]], dt: float,
                 rep: Reporter, nir: Any) -> None:
        self.nodes, self.dt, self.rep, self.nir = nodes, dt, rep, nir
        self.preds: dict[str, list[str]] = {k: [] for k in nodes}
        self.succs: dict[str, list[str]] = {k: [] for k in nodes}
        seen: set[tuple[str, str]] = set()
        for a, b in edges:
            if (a, b) in seen:  # nir's validator rejects them; summed, the input would double
                warnings.warn(f"edge ({a!r}, {b!r}) is given twice: counted once", stacklevel=3)
                continue
            seen.add((a, b))
            if a not in nodes or b not in nodes:
                missing = a if a not in nodes else b
                rep.err("edges", f"edge ({a!r}, {b!r}) names node {missing!r}, which does not "
                        "exist", "edges between existing node ids")
                continue
            self.preds[b].append(a)
            self.succs[a].append(b)
        self.memo: dict[str, Signal] = {}
        self.visiting: set[str] = set()
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.sizing: set[str] = set()
        self.weights: dict[str, np.ndarray] = {}
        self.orienting: set[str] = set()

    # -- kinds ---------------------------------------------------------------------

    def kind(self, nid: str) -> str:
        """input | output | neuron | linear | unsupported."""
        node, nir = self.nodes[nid], self.nir
        if isinstance(node, nir.Input):
            return "input"
        if isinstance(node, nir.Output):
            return "output"
        if isinstance(node, neuron_types(nir)):
            return "neuron"
        if isinstance(node, PassThrough) or type(node).__name__ in LINEAR_TYPES:
            return "linear"
        return "unsupported"

    # -- shapes --------------------------------------------------------------------

    def size(self, nid: str) -> int:
        """Flat signal size of a node's output."""
        return math.prod(self.shape(nid))

    def shape(self, nid: str) -> tuple[int, ...]:
        """NIR shape of a node's output (Bad, reported, when unknown)."""
        if nid not in self.shapes:
            shape = self._shape(nid)
            if math.prod(shape) > MAX_NODE_SIZE:
                raise self.rep.fail(nid, f"has shape {shape}: {math.prod(shape)} elements",
                                    f"at most {MAX_NODE_SIZE} elements per node")
            self.shapes[nid] = shape
        return self.shapes[nid]

    def _shape(self, nid: str) -> tuple[int, ...]:
        node = self.nodes[nid]
        name = type(node).__name__
        if name in ("Linear", "Affine"):
            return (int(self.weight(nid).shape[0]),)
        if name in CONV_TYPES + POOL_TYPES:
            return self.geometry(nid).out_shape
        typed = _declared(node.node if isinstance(node, PassThrough) else node)
        if name == "Flatten":  # never changes the number of elements: its input's size
            return (math.prod(self._pred_shape(nid) if self.preds[nid] or typed is None
                              else typed),)
        if isinstance(node, neuron_types(self.nir)):
            return self._neuron_shape(nid, typed)
        if typed is not None:
            return typed
        if not self.preds[nid]:  # an Input without a type: what its successors expect
            return self._broadcast_shape(nid)
        return self._pred_shape(nid)

    def _neuron_shape(self, nid: str, typed: tuple[int, ...] | None) -> tuple[int, ...]:
        """A neuron's parameter shape, or the shape of its input where the parameters
        broadcast to it (scalars, per-channel (C, 1, 1)) or are missing."""
        if typed is not None and math.prod(typed) > 1:
            fed = self._fed_shape(nid)
            if fed is not None and math.prod(fed) > math.prod(typed) and _broadcasts(typed, fed):
                return fed
            return typed
        if typed is None and self.preds[nid]:
            return self._pred_shape(nid)
        return self._broadcast_shape(nid)

    def _fed_shape(self, nid: str) -> tuple[int, ...] | None:
        """The shape of the first node feeding `nid` whose shape is known (None if none)."""
        if nid in self.sizing:
            return None
        self.sizing.add(nid)
        try:
            return self._sized_pred(nid)
        finally:
            self.sizing.discard(nid)

    def _sized_pred(self, nid: str) -> tuple[int, ...] | None:
        """The shape of the first input, neuron or linear node feeding `nid` whose shape is
        known (the caller guards `nid` against recursion)."""
        for other in self.preds[nid]:
            if self.kind(other) in ("input", "neuron", "linear"):
                try:
                    return self.shape(other)
                except Bad:
                    continue
        return None

    def _pred_shape(self, nid: str) -> tuple[int, ...]:
        if self.preds[nid]:
            return self.shape(self.preds[nid][0])
        raise self.rep.fail(nid, "has no known shape", "nodes with shapes, or fed by one")

    def _broadcast_shape(self, nid: str) -> tuple[int, ...]:
        """Shape of a neuron node whose parameters are all scalars (shape ()): that of the
        node feeding it, else of what a Linear/Affine/Conv node it feeds expects."""
        if nid in self.sizing:
            raise Bad
        self.sizing.add(nid)
        try:
            fed = self._sized_pred(nid)
            if fed is not None:
                return fed
            for q in self.succs[nid]:
                node = self.nodes[q]
                if type(node).__name__ in ("Linear", "Affine"):
                    return (int(self.weight(q).shape[1]),)
                if type(node).__name__ in CONV_TYPES and node.input_shape is not None:
                    return _conv_input_shape(node)
        finally:
            self.sizing.discard(nid)
        if self.kind(nid) == "input":
            raise self.rep.fail(nid, "declares no shape and feeds no Linear/Affine/Conv node "
                                "that gives one", "an Input type, or data for the node")
        raise self.rep.fail(nid, "has scalar parameters and no sized neighbour to broadcast "
                            "them to", "a node fed by or feeding a Linear/Affine node, or array "
                            "parameters")

    def geometry(self, nid: str) -> Any:
        """The ConvSpec of a conv or pool node (its input shape from the node or its input)."""
        node = self.nodes[nid]
        in_shape = _conv_input_shape(node)
        if in_shape is None:
            in_shape = self._pred_shape(nid)
        dims = 2 if type(node).__name__ in POOL_TYPES or type(node).__name__ == "Conv2d" else 1
        while len(in_shape) > dims + 1 and in_shape[0] == 1:  # a batch dimension of 1
            in_shape = in_shape[1:]
        try:
            if type(node).__name__ in POOL_TYPES:
                return pool_spec(node, in_shape)
            return conv_spec(node, in_shape)
        except GeometryError as exc:
            raise self.rep.fail(nid, str(exc), "PyTorch conv/pool parameters that fit the input "
                                "shape (channels, *spatial)") from None

    def input_size(self, nid: str) -> int:
        """The flat size a node expects on its input edges."""
        node = self.nodes[nid]
        name = type(node).__name__
        if name in ("Linear", "Affine"):
            return int(self.weight(nid).shape[1])
        if name in CONV_TYPES + POOL_TYPES:
            return math.prod(self.geometry(nid).in_shape)
        if (isinstance(node, (PassThrough, self.nir.Output)) or name in ("Flatten", "Identity")) \
                and self.preds[nid]:
            return self._first_size(nid)
        return self.size(nid)

    def _first_size(self, nid: str) -> int:
        """The size of what feeds `nid` (its first predecessor with a known size)."""
        for p in self.preds[nid][:-1]:
            try:
                return self.size(p)
            except Bad:
                continue
        return self.size(self.preds[nid][-1])

    def weight(self, nid: str) -> np.ndarray:
        """A Linear/Affine node's weight as (out, in). Spyx writes haiku's (in, out): a
        non-square weight that fits its input only transposed is read transposed, with a
        warning."""
        if nid in self.weights:
            return self.weights[nid]
        w = np.asarray(self.nodes[nid].weight, dtype=np.float64)
        if w.ndim == 3 and w.shape[0] == 1:  # a batch dimension of 1
            w = w[0]
        if w.ndim != 2:
            raise self.rep.fail(nid, f"weight has shape {w.shape}", "a 2-D (out, in) matrix")
        n_in = self._fed_size(nid) if w.shape[0] != w.shape[1] else None
        if n_in is not None and n_in == w.shape[0] and n_in != w.shape[1]:
            warnings.warn(f"{type(self.nodes[nid]).__name__} node '{nid}': weight {w.shape} "
                          f"fits its {n_in} inputs only as (in, out), as Spyx writes it: "
                          "read transposed", stacklevel=2)
            w = w.T
        self.weights[nid] = w
        return w

    def _fed_size(self, nid: str) -> int | None:
        """The size of the first predecessor of `nid` whose size is known, without reporting."""
        if nid in self.orienting:
            return None
        self.orienting.add(nid)
        errors = len(self.rep.col.items)
        try:
            for p in self.preds[nid]:
                try:
                    return self.size(p)
                except Bad:
                    continue
            return None
        finally:
            self.orienting.discard(nid)
            del self.rep.col.items[errors:]  # a guess only: its errors come again

    # -- signals -------------------------------------------------------------------

    def input_of(self, nid: str, probe: bool = False) -> Signal:
        """The summed input signal of node `nid`; only an Output node (`probe`) may read a
        non-spiking readout."""
        n_in = self.input_size(nid)
        sig: Signal | None = None
        for p in self.preds[nid]:
            part = self._edge(p, nid, probe)
            if part.n != n_in:
                self.rep.err("edges", f"edge ({p!r}, {nid!r}): size {part.n} feeds a node "
                             f"expecting {n_in}", "equal sizes along identity edges")
                raise Bad
            if sig is None:
                sig = Signal(n_in, part.shape)
            sig.add(part)
        return sig if sig is not None else Signal(n_in, (n_in,))

    def _edge(self, p: str, nid: str, probe: bool) -> Signal:
        kind = self.kind(p)
        if kind == "neuron" and not probe and isinstance(self.nodes[p], readout_types(self.nir)):
            raise self.rep.fail(p, f"is a non-spiking readout: its voltage cannot feed '{nid}' "
                                "(snnc neurons send spikes)", "LI, CubaLI and I nodes feeding "
                                "Output nodes only")
        if kind in ("input", "neuron"):
            return source(p, self.size(p), self.shape(p))
        if kind == "linear":
            return self.output_of(p)
        if kind == "output":
            self.rep.err("edges", f"edge ({p!r}, {nid!r}) leaves an Output node",
                         "Output nodes as the end of edges only")
        raise Bad  # unsupported predecessor, already reported

    def output_of(self, nid: str) -> Signal:
        """The output signal of linear node `nid` (memoized; cycles of linear nodes are errors)."""
        if nid in self.memo:
            return self.memo[nid]
        if nid in self.visiting:
            raise self.rep.fail(nid, "is on a cycle of linear nodes with no neuron in between",
                                "every cycle passes through a spiking node")
        self.visiting.add(nid)
        try:
            sig = self._apply(nid, self.input_of(nid))
        finally:
            self.visiting.discard(nid)
        self.memo[nid] = sig
        return sig

    def _apply(self, nid: str, sig: Signal) -> Signal:
        node = self.nodes[nid]
        name = type(node).__name__
        label = meta_str((getattr(node, "metadata", None) or {}).get("snnc_projection")) or nid
        if name in ("Linear", "Affine"):
            return self._linear(nid, node, sig, label)
        if name in CONV_TYPES + POOL_TYPES:
            return self._conv(nid, node, sig, label)
        if name == "Scale":
            return scaled(sig, np.broadcast_to(np.asarray(node.scale, np.float64).ravel(),
                                               (sig.n,)), label)
        if name == "Delay":
            return delayed(sig, self._delay_steps(nid, node, sig.n))
        return reshaped(sig, self.shape(nid))  # Flatten, Identity, subgraph ports: no-ops

    def _linear(self, nid: str, node: Any, sig: Signal, label: str) -> Signal:
        w = self.weight(nid)
        if not np.all(np.isfinite(w)):
            raise self.rep.fail(nid, "weight has non-finite values", "finite numbers")
        out = linear(sig, w, label)
        if type(node).__name__ == "Affine" and getattr(node, "bias", None) is not None:
            _add_bias(out, self._bias(nid, node.bias, w.shape[0], 1))
        return out

    def _conv(self, nid: str, node: Any, sig: Signal, label: str) -> Signal:
        spec = self.geometry(nid)
        pool = type(node).__name__ in POOL_TYPES
        kernel = pool_kernel(node, spec) if pool else np.asarray(node.weight, dtype=np.float64)
        if not np.all(np.isfinite(kernel)):
            raise self.rep.fail(nid, "weight has non-finite values", "finite numbers")
        try:
            matrix = conv_matrix(spec, kernel)
        except GeometryError as exc:
            raise self.rep.fail(nid, str(exc), "a layer that fits in memory") from None
        out = convolved(sig, spec, matrix, label, pool)
        if not pool and getattr(node, "bias", None) is not None:
            per_pos = math.prod(spec.out_shape[1:])
            _add_bias(out, self._bias(nid, node.bias, spec.out_shape[0], per_pos))
        return out

    def _bias(self, nid: str, bias: Any, n: int, repeat: int) -> np.ndarray | None:
        """A node's bias (n,) or (1,) per output channel, repeated over positions (None if 0)."""
        b = np.asarray(bias, dtype=np.float64).ravel()
        if b.size not in (1, n) or not np.all(np.isfinite(b)):
            raise self.rep.fail(nid, f"bias has {b.size} entries", f"{n} finite numbers")
        if not np.any(b != 0):
            return None
        return np.repeat(np.broadcast_to(b, (n,)), repeat)

    def _delay_steps(self, nid: str, node: Any, n: int) -> np.ndarray:
        steps = np.broadcast_to(np.asarray(node.delay, dtype=np.float64).ravel(), (n,)) / self.dt
        d = np.round(steps)
        if np.any(~np.isfinite(steps)) or np.any(np.abs(steps - d) > 1e-6 * np.maximum(1, d)) \
                or np.any(d < 0):
            raise self.rep.fail(nid, f"delay / dt must be a whole number of steps >= 0 (found "
                                f"{steps.min():g} .. {steps.max():g} steps)", "delays k * dt")
        return d.astype(np.int64)


def _add_bias(sig: Signal, b: np.ndarray | None) -> None:
    if b is not None:
        sig.bias = b.copy() if sig.bias is None else sig.bias + b


def _broadcasts(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """Whether an array of shape `small` broadcasts to shape `big` (numpy's rules)."""
    try:
        return np.broadcast_shapes(small, big) == tuple(big)
    except ValueError:
        return False


def _declared(node: Any) -> tuple[int, ...] | None:
    """The output shape a node declares (None when absent or partly unknown)."""
    types = getattr(node, "output_type", None) or {}
    shape = next(iter(types.values()), None) if types else None
    if shape is None:
        return None
    arr = np.atleast_1d(np.asarray(shape, dtype=object)) if np.ndim(shape) else np.asarray(shape)
    if arr.size and any(s is None for s in arr.ravel()):
        return None
    return tuple(int(s) for s in np.asarray(shape, dtype=np.int64).ravel())


def _conv_input_shape(node: Any) -> tuple[int, ...] | None:
    """(C, *spatial) from a conv node's input_shape, or a pool's declared input type."""
    if type(node).__name__ in CONV_TYPES:
        if getattr(node, "input_shape", None) is None:
            return None
        return _conv_in_channels(node), *(int(v) for v in np.atleast_1d(node.input_shape))
    types = getattr(node, "input_type", None) or {}
    shape = types.get("input")
    if shape is None or np.asarray(shape).size < 3:
        return None
    return tuple(int(v) for v in np.asarray(shape).ravel())


def _conv_in_channels(node: Any) -> int:
    return int(np.asarray(node.weight).shape[1]) * max(int(node.groups), 1)
