"""NIR convolutions and pools (Conv1d, Conv2d, SumPool2d, AvgPool2d) as unrolled synapses.

PyTorch's NCHW cross-correlation: out[o, y, x] = bias[o] + sum over c in o's group and
kernel offsets (ky, kx) of w[o, c', ky, kx] in[c, y s - p + ky d, x s - p + kx d] (zero
outside the input). A pool is the depthwise conv whose kernel is all ones (SumPool2d) or
all 1 / (kh kw) (AvgPool2d, padding counted as zeros, as PyTorch's default). The geometry
is a `ConvSpec`; `conv_matrix` unrolls it into a sparse (out, in) matrix with numpy index
arithmetic (no loop over neurons). A sum pool followed by a conv composes into one conv
(`compose`) when the pool tiles its input exactly, so such a chain stays a convolution.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..ir import ConvSpec

CONV_TYPES = ("Conv1d", "Conv2d")
POOL_TYPES = ("SumPool2d", "AvgPool2d")
MAX_SYNAPSES = 1 << 29  # unrolled synapses of one conv (about 9 GiB as IR arrays)


class GeometryError(ValueError):
    """A conv/pool node whose parameters do not describe a convolution (message says why)."""


def _pair(value: Any, dims: int, what: str) -> tuple[int, ...]:
    """An int or a sequence of `dims` ints as a tuple (error otherwise)."""
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype.kind not in "iuf" or arr.size not in (1, dims) or np.any(arr != np.round(arr)):
        raise GeometryError(f"{what} = {value!r:.60}: expected 1 or {dims} integers")
    return tuple(int(v) for v in np.broadcast_to(arr.ravel(), (dims,)))


def _out_size(n: int, k: int, s: int, p_lo: int, p_hi: int, d: int) -> int:
    return (n + p_lo + p_hi - d * (k - 1) - 1) // s + 1


def conv_spec(node: Any, in_shape: tuple[int, ...]) -> ConvSpec:
    """The ConvSpec of a Conv1d/Conv2d node reading an input of shape (C, *spatial).

    Padding: integers, 'valid' / 'same' (any case), or (lo, hi) pairs per axis (haiku's
    form); the spec keeps the low side, a high side only changes the output size."""
    w = np.asarray(node.weight)
    dims = 2 if type(node).__name__ == "Conv2d" else 1
    if w.ndim != dims + 2 or w.dtype.kind not in "biuf":
        raise GeometryError(f"weight has shape {w.shape} ({w.dtype}); expected numbers of "
                            f"shape (out, in / groups, {', '.join(['k'] * dims)})")
    groups = int(node.groups)
    if len(in_shape) != dims + 1:
        raise GeometryError(f"input shape {in_shape}; expected (channels, {dims} spatial sizes)")
    if groups < 1 or in_shape[0] != w.shape[1] * groups or w.shape[0] % groups:
        raise GeometryError(f"weight {w.shape} with {groups} groups does not fit "
                            f"{in_shape[0]} input channels")
    kernel = tuple(int(k) for k in w.shape[2:])
    stride = _pair(node.stride, dims, "stride")
    dilation = _pair(node.dilation, dims, "dilation")
    if min(stride) < 1 or min(dilation) < 1:
        raise GeometryError(f"stride {stride}, dilation {dilation}: expected integers >= 1")
    padding = node.padding.decode() if isinstance(node.padding, bytes) else node.padding
    pairs = None if isinstance(padding, str) else np.asarray(padding)
    if isinstance(padding, str):  # Spyx writes "SAME"
        lo, hi = _named_padding(padding.lower(), kernel, stride, dilation)
    elif pairs is not None and pairs.shape == (dims, 2):  # ((lo, hi), ...) per axis (haiku)
        lo, hi = _pair(pairs[:, 0], dims, "padding"), _pair(pairs[:, 1], dims, "padding")
        if min(lo + hi) < 0:
            raise GeometryError(f"padding {pairs.tolist()}: expected integers >= 0")
    else:
        lo = hi = _pair(padding, dims, "padding")
        if min(lo) < 0:
            raise GeometryError(f"padding {lo}: expected integers >= 0")
    out = tuple(_out_size(n, k, s, a, b, d) for n, k, s, a, b, d
                in zip(in_shape[1:], kernel, stride, lo, hi, dilation, strict=True))
    if min(out) < 1:
        raise GeometryError(f"kernel {kernel} (dilation {dilation}) is larger than the "
                            f"padded input {in_shape[1:]}")
    return ConvSpec(tuple(int(v) for v in in_shape), (int(w.shape[0]), *out), kernel, stride,
                    lo, dilation, groups)


def _named_padding(name: str, kernel: tuple[int, ...], stride: tuple[int, ...],
                   dilation: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """'valid': none; 'same' (stride 1 only, as PyTorch): total d (k - 1), the odd one high."""
    if name == "valid":
        return (0,) * len(kernel), (0,) * len(kernel)
    if name != "same" or max(stride) != 1:
        raise GeometryError(f"padding {name!r} with stride {stride}: expected 'valid', or "
                            "'same' with stride 1")
    total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)


def pool_spec(node: Any, in_shape: tuple[int, ...]) -> ConvSpec:
    """The ConvSpec of a SumPool2d/AvgPool2d node: depthwise, one group per channel."""
    if len(in_shape) != 3:
        raise GeometryError(f"input shape {in_shape}; expected (channels, height, width)")
    kernel = _pair(node.kernel_size, 2, "kernel_size")
    stride = _pair(node.stride, 2, "stride")
    pad = _pair(node.padding, 2, "padding")
    if min(kernel) < 1 or min(stride) < 1 or min(pad) < 0:
        raise GeometryError(f"kernel_size {kernel}, stride {stride}, padding {pad}: expected "
                            "kernel and stride >= 1, padding >= 0")
    out = tuple(_out_size(n, k, s, p, p, 1) for n, k, s, p in zip(in_shape[1:], kernel, stride, pad, strict=True))
    if min(out) < 1:
        raise GeometryError(f"kernel {kernel} is larger than the padded input {in_shape[1:]}")
    c = int(in_shape[0])
    return ConvSpec((c, *in_shape[1:]), (c, *out), kernel, stride, pad, (1, 1), c)


def pool_kernel(node: Any, spec: ConvSpec) -> np.ndarray:
    """The (C, 1, kh, kw) kernel of a pool: ones, or 1 / (kh kw) for AvgPool2d."""
    value = 1.0 / math.prod(spec.kernel) if type(node).__name__ == "AvgPool2d" else 1.0
    return np.full((spec.out_shape[0], 1, *spec.kernel), value)


def unroll(spec: ConvSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(post, pre, kernel index) arrays of every synapse inside the input, the kernel index
    into the flattened (out, in/groups, *kernel) weight. Neuron indices are int32 (a layer
    has fewer than 2**31 neurons), as the sparse matrix stores them; kernel indices too,
    unless the kernel has 2**31 elements or more."""
    two = spec.in_shape if len(spec.kernel) == 2 else (spec.in_shape[0], 1, spec.in_shape[1])
    out2 = spec.out_shape if len(spec.kernel) == 2 else (spec.out_shape[0], 1, spec.out_shape[1])
    k2, s2, p2, d2 = ((spec.kernel, spec.stride, spec.padding, spec.dilation)
                      if len(spec.kernel) == 2 else
                      ((1, *spec.kernel), (1, *spec.stride), (0, *spec.padding),
                       (1, *spec.dilation)))
    ys = _axis_pairs(out2[1], two[1], k2[0], s2[0], p2[0], d2[0])
    xs = _axis_pairs(out2[2], two[2], k2[1], s2[1], p2[1], d2[1])
    n = spec.out_shape[0] * (spec.in_shape[0] // spec.groups) * ys[0].size * xs[0].size
    if n > MAX_SYNAPSES or max(math.prod(spec.in_shape), math.prod(spec.out_shape)) >= 2**31:
        raise GeometryError(f"unrolls into {n} synapses between {math.prod(spec.in_shape)} "
                            f"and {math.prod(spec.out_shape)} neurons; at most {MAX_SYNAPSES} "
                            "synapses and 2**31 neurons per layer")
    # spatial pairs: every valid (out y, kernel y) with every valid (out x, kernel x)
    post_s = (ys[0][:, None] * out2[2] + xs[0][None, :]).ravel()
    pre_s = (ys[2][:, None] * two[2] + xs[2][None, :]).ravel()
    k_s = (ys[1][:, None] * k2[1] + xs[1][None, :]).ravel()
    cin_g, cout_g = spec.in_shape[0] // spec.groups, spec.out_shape[0] // spec.groups
    o = np.repeat(np.arange(spec.out_shape[0], dtype=np.int64), cin_g)
    cl = np.tile(np.arange(cin_g, dtype=np.int64), spec.out_shape[0])
    c = (o // cout_g) * cin_g + cl
    n_out_s, n_in_s, n_k = out2[1] * out2[2], two[1] * two[2], k2[0] * k2[1]
    i32, kt = np.int32, np.int32 if spec.kernel_size < 2**31 else np.int64
    post = (o * n_out_s).astype(i32)[:, None] + post_s.astype(i32)[None, :]
    pre = (c * n_in_s).astype(i32)[:, None] + pre_s.astype(i32)[None, :]
    kidx = (((o * cin_g + cl) * n_k).astype(kt)[:, None] + k_s.astype(kt)[None, :])
    return post.ravel(), pre.ravel(), kidx.ravel()


def _axis_pairs(n_out: int, n_in: int, k: int, s: int, p: int, d: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(out index, kernel offset, in index) along one axis, for positions inside the input."""
    q, kk = np.meshgrid(np.arange(n_out), np.arange(k), indexing="ij")
    i = q * s - p + kk * d
    ok = (i >= 0) & (i < n_in)
    return q[ok].astype(np.int64), kk[ok].astype(np.int64), i[ok].astype(np.int64)


def conv_matrix(spec: ConvSpec, kernel: np.ndarray) -> sp.csr_matrix:
    """The (out size, in size) sparse matrix of a conv with `kernel` (out, in/groups, *k);
    zero weights are left out."""
    post, pre, kidx = unroll(spec)
    flat = np.asarray(kernel, dtype=np.float64).ravel()
    w = flat[kidx]
    if not np.all(flat != 0):  # only a kernel with zeros leaves synapses out
        keep = w != 0
        w, post, pre = w[keep], post[keep], pre[keep]
    shape = (math.prod(spec.out_shape), math.prod(spec.in_shape))
    return sp.csr_matrix((w, (post, pre)), shape=shape)


def compose(first: ConvSpec, second: ConvSpec) -> ConvSpec | None:
    """The one conv equal to pool `first` (kernel == stride, no padding, tiling its input)
    followed by conv `second`, or None when they do not compose that way."""
    if len(first.kernel) != 2 or len(second.kernel) != 2 or first.groups != first.in_shape[0] \
            or first.in_shape[0] != first.out_shape[0] or first.kernel != first.stride \
            or max(first.padding) or first.dilation != (1, 1) \
            or any(n % k for n, k in zip(first.in_shape[1:], first.kernel, strict=True)) \
            or second.in_shape != first.out_shape or second.dilation != (1, 1):
        return None
    kp = first.kernel
    return ConvSpec(first.in_shape, second.out_shape,
                    tuple(p * k for p, k in zip(kp, second.kernel, strict=True)),
                    tuple(p * s for p, s in zip(kp, second.stride, strict=True)),
                    tuple(p * q for p, q in zip(kp, second.padding, strict=True)), (1, 1), second.groups)
