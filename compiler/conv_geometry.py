"""Geometry of a convolution's unrolled synapses (`ir.ConvSpec`), shared by the NIR
frontend, the NIR export and the artifact checks without loading the frontend."""

from __future__ import annotations

import numpy as np

from .ir import ConvSpec


def kernel_index(spec: ConvSpec, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """The flat kernel index (out, in/groups, *k) of each synapse (pre, post) of `spec`'s
    unrolled form; -1 where the pair is not a synapse of the convolution."""
    dims = len(spec.kernel)
    pre_c = np.unravel_index(np.asarray(pre, np.int64), spec.in_shape)
    post_c = np.unravel_index(np.asarray(post, np.int64), spec.out_shape)
    cin_g, cout_g = spec.in_shape[0] // spec.groups, spec.out_shape[0] // spec.groups
    ok = pre_c[0] // cin_g == post_c[0] // cout_g
    flat = post_c[0] * cin_g + pre_c[0] % cin_g
    for a in range(dims):
        off = pre_c[a + 1] - post_c[a + 1] * spec.stride[a] + spec.padding[a]
        k, r = np.divmod(off, spec.dilation[a])
        ok &= (r == 0) & (k >= 0) & (k < spec.kernel[a])
        flat = flat * spec.kernel[a] + k
    return np.where(ok, flat, -1)
