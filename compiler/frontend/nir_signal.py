"""Linear signals between spiking NIR nodes: sparse maps from source spikes to a node's output.

Between two spiking nodes NIR chains linear nodes (Linear, Affine, Scale, Delay, Flatten,
Conv, pool); snnc composes each chain into one synapse matrix per (source, delay). A
`Signal` is a node's output as sum over terms M s(t - delay) plus a constant bias, each M a
scipy CSR matrix (n, n_source): convolutions stay sparse, only Linear nodes are dense.
A term also remembers whether it is still one convolution of its source (`Term.conv`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..ir import ConvSpec
from .nir_conv import compose

IDENTITY, CONV, POOL, OTHER = "identity", "conv", "pool", "other"


@dataclass
class Term:
    """One source's contribution: matrix `m` (n, n_source), the NIR node ids it went
    through (`labels`), and `form`: identity (a multiple of it), conv / pool (then `conv`
    is its geometry), or other."""

    m: sp.csr_matrix
    labels: set[str]
    form: str = IDENTITY
    conv: ConvSpec | None = None


@dataclass
class Signal:
    """A node's output: {(source id, delay steps): Term} plus a constant `bias` (n,);
    `shape` is the NIR shape of the output (channels, *spatial) or (n,)."""

    n: int
    shape: tuple[int, ...]
    terms: dict[tuple[str, int], Term] = field(default_factory=dict)
    bias: np.ndarray | None = None

    def add(self, other: Signal) -> None:
        """Sum `other` into this signal (terms of one source and delay add up)."""
        for key, t in other.terms.items():
            if key in self.terms:
                t0 = self.terms[key]
                self.terms[key] = Term((t0.m + t.m).tocsr(), t0.labels | t.labels, OTHER)
            else:
                self.terms[key] = Term(t.m, set(t.labels), t.form, t.conv)
        if other.bias is not None:
            self.bias = other.bias.copy() if self.bias is None else self.bias + other.bias


def source(src: str, n: int, shape: tuple[int, ...]) -> Signal:
    """The spikes of node `src` (n neurons, NIR shape `shape`) as a signal."""
    return Signal(n, shape, {(src, 0): Term(sp.identity(n, format="csr"), set())})


def reshaped(sig: Signal, shape: tuple[int, ...]) -> Signal:
    """The same signal seen with another shape (Flatten: C-order, no change of values)."""
    return Signal(sig.n, shape, sig.terms, sig.bias)


def linear(sig: Signal, w: np.ndarray, label: str) -> Signal:
    """W (out, n) applied to the signal (a Linear node; its bias is added by the caller)."""
    out = Signal(w.shape[0], (w.shape[0],))
    for key, t in sig.terms.items():
        out.terms[key] = Term(sp.csr_matrix(np.asarray(w @ t.m)), t.labels | {label}, OTHER)
    if sig.bias is not None:
        out.bias = w @ sig.bias
    return out


def scaled(sig: Signal, s: np.ndarray, label: str) -> Signal:
    """Element-wise scale `s` (n,); a uniform scale keeps the term's form (identity: a
    multiple of it; a convolution: still one)."""
    d = sp.diags(s, format="csr")
    uniform = bool(np.all(s == s[0])) if s.size else True
    out = Signal(sig.n, sig.shape)
    for key, t in sig.terms.items():
        keep = uniform  # a multiple of the identity, of a conv, is still one
        labels = t.labels or {label}  # named after the Scale only when nothing else names it
        out.terms[key] = Term((d @ t.m).tocsr(), labels, t.form if keep else OTHER,
                              t.conv if keep else None)
    out.bias = None if sig.bias is None else s * sig.bias
    return out


def delayed(sig: Signal, steps: np.ndarray) -> Signal:
    """Per-element delays (n,) in steps: rows with delay k move to the term of delay d0 + k."""
    out = Signal(sig.n, sig.shape, bias=sig.bias)
    values = np.unique(steps)
    for (src, d0), t in sig.terms.items():
        for k in values:
            part = t.m if values.size == 1 else (sp.diags((steps == k).astype(float)) @ t.m).tocsr()
            form, conv = (t.form, t.conv) if values.size == 1 else (OTHER, None)
            out.add(Signal(sig.n, sig.shape, {(src, int(d0 + k)): Term(part, t.labels, form, conv)}))
    return out


def convolved(sig: Signal, spec: ConvSpec, matrix: sp.csr_matrix, label: str,
              pool: bool) -> Signal:
    """A conv or pool (geometry `spec`, unrolled `matrix`) applied to the signal."""
    out = Signal(matrix.shape[0], spec.out_shape)
    for key, t in sig.terms.items():
        m = (matrix @ t.m).tocsr()
        if t.form == IDENTITY:
            form, conv = (POOL if pool else CONV), spec
        elif t.form == POOL and not pool and t.conv is not None:
            conv = compose(t.conv, spec)
            form = CONV if conv is not None else OTHER
        else:
            form, conv = OTHER, None
        out.terms[key] = Term(m, t.labels | {label}, form, conv)
    if sig.bias is not None:
        out.bias = matrix @ sig.bias
    return out
