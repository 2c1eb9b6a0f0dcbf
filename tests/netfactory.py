"""Small helpers that build NetworkIR / Program objects directly (no frontend) for backend tests."""

from __future__ import annotations

import numpy as np

from compiler.ir import Adapt, LIFParams, NetworkIR, Population, Probe, Projection, SpikeSource
from compiler.program import Program
from compiler.target import Target


def lif(name: str, size: int, adapt: Adapt | None = None, **params: float) -> Population:
    """A LIF population with Lava's parameter names (du, dv, vth, bias_mant, bias_exp)."""
    return Population(name, size, "lif", lif=LIFParams(adapt=adapt, **params))


def source(name: str, size: int, kind: str = "array", data: np.ndarray | None = None,
           **kw: float) -> Population:
    """A spike source: kind array (bool (T, size) data), poisson (rate) or periodic (period, phase)."""
    src = SpikeSource(kind=kind, data=None if data is None else np.asarray(data, bool), **kw)
    return Population(name, size, "spike_source", source=src)


def proj(name: str, pre: str, post: str, pre_idx, post_idx, weight, delay=0,
         weight_exp: int = 0, num_weight_bits: int = 8, fixed: bool = True) -> Projection:
    """A projection from COO arrays; scalar `delay` applies to every synapse."""
    pre_idx = np.asarray(pre_idx, dtype=np.int32)
    post_idx = np.asarray(post_idx, dtype=np.int32)
    w = np.asarray(weight, dtype=np.int32 if fixed else np.float64)
    w = np.broadcast_to(w, pre_idx.shape).copy()
    d = np.broadcast_to(np.asarray(delay, dtype=np.int16), pre_idx.shape).copy()
    return Projection(name, pre, post, pre_idx, post_idx, w, d, weight_exp=weight_exp,
                      num_weight_bits=num_weight_bits)


def dense_proj(name: str, pre: str, post: str, w: np.ndarray, delays: np.ndarray | int = 0,
               **kw) -> Projection:
    """A projection from a (post, pre) matrix; zero entries are no synapse, as in Lava Dense."""
    w = np.asarray(w)
    post_idx, pre_idx = np.nonzero(w)
    d = np.broadcast_to(np.asarray(delays), w.shape)[post_idx, pre_idx]
    return proj(name, pre, post, pre_idx, post_idx, w[post_idx, pre_idx], d,
                fixed=kw.pop("fixed", not np.issubdtype(w.dtype, np.floating)), **kw)


def network(pops: list[Population], projs: list[Projection], precision: str = "fixed",
            probes: list[str] = (), seed: int = 0, steps: int = 20) -> NetworkIR:
    """A NetworkIR from populations, projections and probe keys like 'hid.v'."""
    net = NetworkIR(name="t", precision=precision, seed=seed, steps=steps)
    net.populations = {p.name: p for p in pops}
    net.projections = {p.name: p for p in projs}
    net.probes = [Probe(*k.rsplit(".", 1)) for k in probes]
    return net


def program(net: NetworkIR) -> Program:
    """A trivial Program around `net` (no partition: the CPU backend ignores it)."""
    return Program(network=net, target=Target("t"), core_of={}, cores=[])
