"""Which projections snnc's NIR export writes as convolutions or pools, and the node shapes
that takes.

A projection with a `ConvSpec` becomes a Conv1d/Conv2d node (a SumPool2d or AvgPool2d node
when its kernel is depthwise with one value, 1 or 1 / (kh kw)) when its weights are shared
(one value per kernel element), its delays equal and its padding symmetric. `nir.read`
checks that every edge joins equal shapes, so the populations at both ends take the conv's
(C, *spatial) shape; the other inputs of a shaped population must be one-to-one (written
as a Scale node of that shape), else it stays flat and its convolutions are written as
Linear nodes. Linear nodes read shaped populations through a Flatten node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .conv_geometry import kernel_index
from .ir import ConvSpec, NetworkIR, Projection


@dataclass
class ConvPlan:
    """Population shapes, conv kernels (effective weights) and Scale projections."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    kernels: dict[str, np.ndarray] = field(default_factory=dict)  # projection -> kernel
    scales: set[str] = field(default_factory=set)  # one-to-one projections into shaped maps


def shared_kernel(spec: ConvSpec, proj: Projection, w: np.ndarray) -> np.ndarray | None:
    """The (out, in/groups, *k) kernel whose unrolling gives these synapses, or None when
    some synapse lies outside the conv or two synapses of one kernel element differ."""
    k = kernel_index(spec, proj.pre_idx, proj.post_idx)
    if np.any(k < 0):
        return None
    kernel = np.zeros(spec.kernel_size)
    kernel[k] = w
    if not np.array_equal(kernel[k], w):
        return None
    return kernel.reshape(spec.out_shape[0], spec.in_shape[0] // spec.groups, *spec.kernel)


def _symmetric(spec: ConvSpec) -> bool:
    """Whether padding p on both sides gives the spec's output size (NIR pads symmetrically)."""
    return all((n + 2 * p - d * (k - 1) - 1) // s + 1 == o for n, o, k, s, p, d in zip(
        spec.in_shape[1:], spec.out_shape[1:], spec.kernel, spec.stride, spec.padding,
        spec.dilation, strict=True))


def _one_to_one(net: NetworkIR, proj: Projection) -> bool:
    return (net.populations[proj.pre].size == net.populations[proj.post].size
            and np.array_equal(proj.pre_idx, proj.post_idx) and proj.delay.size > 0
            and bool(np.all(proj.delay == proj.delay[0])))


def plan(net: NetworkIR, weights: dict[str, np.ndarray]) -> ConvPlan:
    """The conv plan of the projections in `weights` (name -> effective weights / gain)."""
    cands: dict[str, np.ndarray] = {}
    for name, w in weights.items():
        proj = net.projections[name]
        spec = proj.conv
        if spec is None or not proj.n_synapses or np.any(proj.delay != proj.delay[0]) \
                or not _symmetric(spec):
            continue
        kernel = shared_kernel(spec, proj, w)
        if kernel is not None:
            cands[name] = kernel
    while True:
        out = _shapes(net, cands, weights)
        if isinstance(out, ConvPlan):
            return out
        cands.pop(out)


def _shapes(net: NetworkIR, cands: dict[str, np.ndarray],
            weights: dict[str, np.ndarray]) -> ConvPlan | str:
    """The plan for these candidates, or the name of one candidate that cannot stay a conv."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name in cands:
        spec = net.projections[name].conv
        assert spec is not None
        for pop, shape in ((net.projections[name].pre, spec.in_shape),
                           (net.projections[name].post, spec.out_shape)):
            if shapes.setdefault(pop, shape) != shape:
                return name
    scales: set[str] = set()
    for name in weights:
        proj = net.projections[name]
        if name in cands or proj.post not in shapes:
            continue
        want = shapes[proj.post]
        if proj.pre not in shapes and net.populations[proj.pre].is_source:
            shapes[proj.pre] = want  # an entry (a bias source) takes the map's shape
        if not _one_to_one(net, proj) or shapes.get(proj.pre) != want:
            return next(c for c in cands if proj.post in (net.projections[c].pre,
                                                          net.projections[c].post))
        scales.add(name)
    return ConvPlan(shapes, dict(cands), scales)


def conv_node(nir: Any, spec: ConvSpec, kernel: np.ndarray, meta: dict[str, Any]) -> list[Any]:
    """The NIR node(s) of one convolution: SumPool2d / AvgPool2d (+ Scale for another
    uniform weight) for a one-valued depthwise kernel, else Conv1d / Conv2d."""
    c = spec.in_shape[0]
    flat = kernel.ravel()
    pool = (len(spec.kernel) == 2 and spec.groups == c == spec.out_shape[0] and flat.size
            and np.all(flat == flat[0]) and spec.dilation == (1, 1))
    if pool:
        args = {"kernel_size": np.array(spec.kernel), "stride": np.array(spec.stride),
                "padding": np.array(spec.padding)}
        area = float(np.prod(spec.kernel))
        if np.isclose(flat[0] * area, 1.0, rtol=1e-12, atol=0):
            return [nir.AvgPool2d(**args, metadata=meta)]
        nodes = [nir.SumPool2d(**args, metadata=meta)]
        if flat[0] != 1.0:
            nodes.append(nir.Scale(scale=np.full(spec.out_shape, flat[0]), metadata=dict(meta)))
        return nodes
    cls = nir.Conv2d if len(spec.kernel) == 2 else nir.Conv1d
    spatial = spec.in_shape[1:] if len(spec.kernel) == 2 else spec.in_shape[1]
    one = (lambda v: v) if len(spec.kernel) == 2 else (lambda v: v[0])
    return [cls(input_shape=spatial, weight=kernel, stride=one(spec.stride),
                padding=one(spec.padding), dilation=one(spec.dilation), groups=spec.groups,
                bias=np.zeros(spec.out_shape[0]), metadata=meta)]
