"""The quantize pass's weight choice equals a plain, unfused reference of the documented
algorithm (every weight_exp tried on a strided sample of a big projection, then the choice
compared with the next finer exponent on all weights; ties: the coarser): same mantissas,
weight_exp, num_weight_bits and reported error, on random weights of every sign mode,
small and large projections, and weights that round to zero in one sign."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from compiler_helpers import proj

from compiler.ir import LIFParams, NetworkIR, Population, SpikeSource
from compiler.lava_weights import clip_range, effective_weights, sign_mode, truncate_bits
from compiler.passes.quantize import SAMPLE, lossless_weight_bits, quantize


def ref_mantissas(target, e, step, lo, hi, bits):
    w = np.clip(np.round(target / (2.0**e * step)) * step, lo, hi).astype(np.int64)
    if w.size and w.min() < 0 and not (w.max() > 0) and target.max() > 0:
        w = effective_weights(w, bits)
    return w


def ref_err(target, e, step, lo, hi, bits):
    return float(np.linalg.norm(ref_mantissas(target, e, step, lo, hi, bits) * 2.0**e - target))


def ref_quantize_weights(target, max_bits):
    mode = sign_mode(np.sign(target))
    step = 2 ** truncate_bits(max_bits, mode)
    lo, hi = clip_range(mode)
    lo, hi = -((-lo) // step) * step, (hi // step) * step
    if float(np.abs(target).max()) == 0:
        return np.zeros(target.shape, np.int32), 0
    sample = target if target.size <= SAMPLE else target[:: target.size // SAMPLE]
    best_err, best_e = math.inf, 0
    for e in range(-8, 8):
        err = ref_err(sample, e, step, lo, hi, max_bits)
        if err <= best_err * (1 + 1e-12):
            best_err, best_e = min(err, best_err), e
    if sample is not target and best_e > -8:
        fine, coarse = (ref_err(target, x, step, lo, hi, max_bits) for x in (best_e - 1, best_e))
        if fine < coarse * (1 - 1e-12):
            best_e -= 1
    return ref_mantissas(target, best_e, step, lo, hi, max_bits).astype(np.int32), best_e


def weights(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "mixed":
        return rng.normal(0.0, 0.3, n)
    if kind == "positive":
        return rng.exponential(0.5, n)
    if kind == "negative":
        return -rng.gamma(2.0, 0.1, n)
    if kind == "sparse_levels":  # few distinct values (a conv kernel shared across positions)
        return rng.choice(rng.normal(0.0, 0.2, 40), n)
    if kind == "wide":  # 6 decades: some clip, some round to zero
        return rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-4, 2, n)
    # tiny positive weights beside large negative ones: the positives round to zero
    w = -rng.uniform(0.5, 2.0, n)
    w[::7] = 1e-6
    return w


KINDS = ["mixed", "positive", "negative", "sparse_levels", "wide", "lost_sign"]


def float_net(w: np.ndarray, n_pre: int, n_post: int, vth: float) -> NetworkIR:
    net = NetworkIR("q", precision="float", seed=1)
    net.populations["inp"] = Population("inp", n_pre, "spike_source",
                                        source=SpikeSource("poisson", rate=0.2))
    net.populations["hid"] = Population("hid", n_post, "lif", lif=LIFParams(
        du=0.5, dv=0.1, vth=vth, bias_mant=0.0))
    net.projections["p"] = proj("p", "inp", "hid", n_pre, n_post, w)
    return net


def check_against_reference(net: NetworkIR, w: np.ndarray, bits: int) -> int:
    """Asserts the pass's result equals the reference; returns the weight_exp."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, report = quantize(net, weight_bits=bits)
    k = report["populations"]["hid"]["scale"]
    want, want_e = ref_quantize_weights(k * w, bits)
    got = out.projections["p"]
    assert got.weight.dtype == np.int32 and np.array_equal(got.weight, want), bits
    assert got.weight_exp == want_e, bits
    assert got.num_weight_bits == lossless_weight_bits(want, bits)
    err = np.linalg.norm(want * 2.0**want_e / k - w) / np.linalg.norm(w)
    assert report["projections"]["p"]["rel_error"] == err
    return want_e


@pytest.mark.parametrize("n_pre", [7, SAMPLE // 64 + 3])  # 7 x 64 and above SAMPLE synapses
@pytest.mark.parametrize("kind", KINDS)
def test_weights_equal_the_plain_reference(kind, n_pre):
    rng = np.random.default_rng(KINDS.index(kind) * 10 + n_pre % 7)
    w = weights(kind, n_pre * 64, rng)
    net = float_net(w, n_pre, 64, rng.uniform(0.5, 5.0))
    for bits in (8, 5):
        check_against_reference(net, w, bits)


def test_a_finer_exponent_than_the_samples_choice_is_taken_when_all_weights_prefer_it():
    """The sample (every 2nd weight) holds only 2^-6 (exact at a coarse exponent), the other
    half 2^-7: on all weights the next finer exponent is exact, the sample's choice is not."""
    n_pre, n_post = 2 * SAMPLE // 64, 64
    w = np.where(np.arange(n_pre * n_post) % 2 == 0, 2.0**-6, 2.0**-7)
    net = float_net(w, n_pre, n_post, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, report = quantize(net)
    k = report["populations"]["hid"]["scale"]
    got = out.projections["p"]
    assert np.array_equal(got.weight * 2.0**got.weight_exp, k * w)  # exact: the finer one
    assert check_against_reference(net, w, 8) == got.weight_exp
