"""Which convolutions lower to Lava's Conv process, and with which parameters (pure numpy).

Lava 0.10's `lava.proc.conv` Conv adds, one step after the spikes arrive (as Dense), the true
2-D convolution of its (X, Y, C) input with a kernel (out, kx, ky, in): symmetric zero padding,
stride, dilation and groups, in float64, cast to the kernel's dtype; its fixed_pt model ignores
weight_exp and num_weight_bits and wraps the sums to 24 signed bits. snnc's conv projections
(`ir.ConvSpec`) are PyTorch cross-correlations over NCHW neurons. A projection therefore maps
bit-exactly onto Conv when its synapses are the whole convolution of one shared kernel, without
delays or plasticity, with symmetric padding, and when Lava's effective weights shifted by
weight_exp are integers whose sums stay inside 24 bits; `conv_lowering` gives the Conv
parameters then, else the reason it stays on Sparse/Dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.conv_geometry import kernel_index
from compiler.ir import ConvSpec, Projection
from compiler.lava_weights import effective_weights

INT8_MAX = 127  # Lava's Conv model holds kernel size, stride, padding, dilation, groups as int8
ACC_LIMIT = 1 << 23  # the fixed_pt model wraps each output to 24 signed bits


@dataclass
class LavaConv:
    """Lava Conv arguments for one projection, plus the NCHW shapes of both ends.

    Lava's X axis is snnc's width, Y its height (a 1-D conv has height 1); the kernel is
    stored flipped, since Lava convolves where snnc cross-correlates.
    """

    weight: np.ndarray  # (out, kx, ky, in / groups): int32 in fixed precision, float64 in float
    in_chw: tuple[int, int, int]
    out_chw: tuple[int, int, int]
    padding: tuple[int, int]  # (x, y)
    stride: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    synapses: int = 0  # of the unrolled form it replaces (Lava's cost grows with them)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Lava's (X, Y, C) input shape: (width, height, channels)."""
        c, h, w = self.in_chw
        return (w, h, c)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        c, h, w = self.out_chw
        return (w, h, c)


def as_2d(spec: ConvSpec) -> ConvSpec:
    """`spec` with a leading height axis of 1 when it is a 1-D convolution."""
    if len(spec.kernel) == 2:
        return spec
    return ConvSpec((spec.in_shape[0], 1, spec.in_shape[1]),
                    (spec.out_shape[0], 1, spec.out_shape[1]), (1, *spec.kernel),
                    (1, *spec.stride), (0, *spec.padding), (1, *spec.dilation), spec.groups)


def geometry_reason(spec: ConvSpec) -> str | None:
    """Why Lava's Conv cannot express `spec`'s geometry, or None when it can."""
    values = (*spec.kernel, *spec.stride, *spec.padding, *spec.dilation, spec.groups)
    if max(values) > INT8_MAX:
        return f"kernel, stride, padding, dilation or groups above {INT8_MAX} (Lava's Conv " \
               "holds them as int8)"
    for n, m, k, s, p, d in zip(spec.in_shape[1:], spec.out_shape[1:], spec.kernel,
                                spec.stride, spec.padding, spec.dilation, strict=True):
        if (n + 2 * p - d * (k - 1) - 1) // s + 1 != m:
            return "asymmetric padding (Lava's Conv pads both sides by the same amount)"
    return None


def valid_positions(spec: ConvSpec) -> np.ndarray:
    """Per flat kernel index (out, in / groups, *k): the output positions whose window puts
    that kernel element inside the input (the synapses a full convolution has for it)."""
    per_axis = []
    for n, m, k, s, p, d in zip(spec.in_shape[1:], spec.out_shape[1:], spec.kernel,
                                spec.stride, spec.padding, spec.dilation, strict=True):
        i = np.arange(m)[None, :] * s - p + np.arange(k)[:, None] * d
        per_axis.append(((i >= 0) & (i < n)).sum(axis=1))
    spatial = per_axis[0] if len(per_axis) == 1 else np.outer(per_axis[0], per_axis[1]).ravel()
    return np.tile(spatial, spec.kernel_size // spatial.size)


def shared_kernel(spec: ConvSpec, proj: Projection, w: np.ndarray) -> np.ndarray | str:
    """The flat kernel whose full convolution the synapses (values `w`) are, or the reason
    they are not one (a synapse off the convolution, weights differing between positions
    of one kernel element, or a missing synapse of a non-zero element)."""
    kidx = kernel_index(spec, proj.pre_idx, proj.post_idx)
    if kidx.size and int(kidx.min()) < 0:
        return "synapses outside the convolution's pattern"
    kernel = np.zeros(spec.kernel_size, dtype=w.dtype)
    kernel[kidx] = w
    if not np.array_equal(kernel[kidx], w):
        return "weights differ between positions of one kernel element"
    count = np.bincount(kidx[w != 0], minlength=spec.kernel_size)
    if not np.array_equal(count, np.where(kernel != 0, valid_positions(spec), 0)):
        return "synapses missing from the convolution (a kernel element absent at some positions)"
    return kernel


def fixed_kernel(proj: Projection, kernel: np.ndarray, kidx_weights: np.ndarray) -> np.ndarray | str:
    """Lava's effective kernel with weight_exp folded in (Conv has no shift), or why not."""
    e = int(proj.weight_exp)
    if e < 0 and np.any(kernel % (1 << -e)):
        return "weight_exp < 0 with weights that are not multiples of 2**-weight_exp " \
               "(Dense shifts the sum, Conv has no shift)"
    scaled = kernel << e if e >= 0 else kernel >> -e
    per_post = np.bincount(proj.post_idx, weights=np.abs(kidx_weights).astype(np.float64))
    scale = 2.0 ** e
    if per_post.size and float(per_post.max()) * scale >= ACC_LIMIT:
        return "inputs could reach 2**23 (Lava's Conv wraps its sums to 24 bits)"
    return scaled


def conv_lowering(proj: Projection, precision: str) -> LavaConv | str:
    """Lava Conv parameters for `proj`, or the reason it stays a (Delay)Sparse/Dense."""
    if proj.conv is None:
        return "not a convolution"
    if proj.plasticity is not None:
        return "plastic (Conv has no learning rule)"
    if proj.delay.size and int(proj.delay.max()) > 0:
        return "synaptic delays (Conv has none)"
    spec = as_2d(proj.conv)
    why = geometry_reason(spec)
    if why:
        return why
    fixed = precision == "fixed"
    w = effective_weights(proj.weight, proj.num_weight_bits) if fixed \
        else np.asarray(proj.weight, dtype=np.float64)
    kernel = shared_kernel(proj.conv, proj, w)
    if isinstance(kernel, str):
        return kernel
    if fixed:
        kernel = fixed_kernel(proj, kernel, w)
        if isinstance(kernel, str):
            return kernel
    o, cg = spec.out_shape[0], spec.in_shape[0] // spec.groups
    k4 = kernel.reshape(o, cg, *spec.kernel)[:, :, ::-1, ::-1]  # flipped: Lava convolves
    weight = np.ascontiguousarray(k4.transpose(0, 3, 2, 1)).astype(np.int32 if fixed else np.float64)
    return LavaConv(weight=weight, in_chw=tuple(spec.in_shape), out_chw=tuple(spec.out_shape),
                    padding=(spec.padding[1], spec.padding[0]),
                    stride=(spec.stride[1], spec.stride[0]),
                    dilation=(spec.dilation[1], spec.dilation[0]), groups=int(spec.groups),
                    synapses=int(proj.weight.size))
