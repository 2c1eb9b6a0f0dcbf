"""Quantization: map a float network onto Loihi fixed point (Lava `fixed_pt` semantics).

Float LIF (Lava floating_pt):  u = u(1 - du) + a,  v = v(1 - dv) + u + bias,  spike: v > vth.
Fixed LIF (Lava fixed_pt):     U = rtz(U (4095 - du) / 4096) + (A << 6),
                               V = rtz(V (4096 - dv) / 4096) + U + (bias_mant << bias_exp),
                               spike: V > vth << 6,   A = (sum of W) << weight_exp.
With a per post-population scale k (a power of two, so integer-valued networks map
exactly) the fixed state tracks the float one as U = 64 k u, V = 64 k v, hence
W 2^weight_exp = k w,  vth_fixed = k vth,  bias_mant 2^bias_exp = 64 k bias,
du_fixed = 4096 du - 1,  dv_fixed = 4096 dv.  All projections into a population share k
(they add into the same u). k is the largest power of two that keeps vth in 17 bits, every
weight within 8-bit mantissa x 2^7, the bias in 13 bits x 2^7, and one step of the largest
possible input (all presynaptic neurons firing) within half of u's 24-bit range.
Per projection, weight_exp (-8..7) minimises ||W 2^e - k w|| (ties: the larger e; every e is
tried, on a strided sample for very large projections), then
num_weight_bits is the fewest bits that keep those weights exactly (Lava truncation).
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import numpy as np

from ..ir import LIFParams, NetworkIR, Projection
from ..lava_weights import clip_range, sign_mode, truncate_bits
from ..lava_weights import effective_weights as lava_effective_weights

WARN_REL_ERROR = 0.01
VTH_MAX = 2**17 - 1  # 17-bit unsigned threshold mantissa
BIAS_MANT_MIN, BIAS_MANT_MAX = -(2**12), 2**12 - 1  # 13-bit signed
BIAS_EXP_MAX = 7
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7
DECAY_MAX = 4095
# headroom targets (see module docstring): V threshold <= 2^22 (vth <= 2^16), one step of
# input into U <= 2^22
VTH_BUDGET = 2**16
U_STEP_BUDGET = 2**16
WEIGHT_BUDGET = 254 * 2**WEIGHT_EXP_MAX
BIAS_BUDGET = BIAS_MANT_MAX * 2**BIAS_EXP_MAX / 64


CHUNK = 1 << 22  # weights processed at once (bounds temporary memory on big projections)


def _low_bits(w: np.ndarray) -> int:
    """Bitwise OR of all |w| (its lowest set bit gives the common trailing zeros)."""
    out = 0
    for i in range(0, w.size, CHUNK):
        out |= int(np.bitwise_or.reduce(np.abs(w[i:i + CHUNK].astype(np.int64)), initial=0))
    return out


def lossless_weight_bits(weight: np.ndarray, max_bits: int = 8) -> int:
    """Fewest num_weight_bits (1..max_bits) under which Lava keeps `weight` unchanged."""
    w = np.asarray(weight)
    if w.size == 0:
        return 1
    mode = sign_mode(w)
    lo, hi = clip_range(mode)
    if w.min() < lo or w.max() > hi:
        return max_bits  # Lava clips: nothing keeps them
    low = _low_bits(w)
    tz = (low & -low).bit_length() - 1 if low else 8  # common trailing zero bits
    need = 8 + int(mode == "mixed") - min(tz, 8)  # truncate_bits(bits) <= tz
    return int(min(max(need, 1), max_bits))


def lost_bits(weight: np.ndarray, num_weight_bits: int) -> int:
    """How many low-order bits of the given weights Lava's truncation throws away."""
    w = np.asarray(weight)
    if w.size == 0:
        return 0
    k = truncate_bits(num_weight_bits, sign_mode(w))
    low = _low_bits(w) & ((1 << k) - 1) if k > 0 else 0
    return 0 if low == 0 else k - (low & -low).bit_length() + 1


def truncation_error(weight: np.ndarray, num_weight_bits: int) -> tuple[int, float, float]:
    """(weights changed, ||eff - w||, ||w||) of Lava's clip+truncation, in bounded memory."""
    w = np.asarray(weight)
    if w.size == 0:
        return 0, 0.0, 0.0
    mode = sign_mode(w)
    k = truncate_bits(num_weight_bits, mode)
    lo, hi = clip_range(mode)
    changed, err2, norm2 = 0, 0.0, 0.0
    exact = k == 0 and w.min() >= lo and w.max() <= hi
    for i in range(0, w.size, CHUNK):
        part = w[i:i + CHUNK].astype(np.int64)
        norm2 += float(np.dot(part, part))
        if not exact:
            d = lava_effective_weights(part, num_weight_bits, mode) - part
            changed += int(np.count_nonzero(d))
            err2 += float(np.dot(d, d))
    return changed, math.sqrt(err2), math.sqrt(norm2)


def _rel(err: float, ref: float) -> float:
    return float(err / ref) if ref else (0.0 if err == 0 else math.inf)


def _pow2_floor(x: float) -> float:
    return 2.0 ** math.floor(math.log2(x))


def _population_scale(net: NetworkIR, pop: str, lif: LIFParams) -> tuple[float, dict[str, float]]:
    """The shared fixed/float scale k of one post population and the bound each limit allows."""
    bounds: dict[str, float] = {}
    if lif.vth > 0:
        bounds["vth"] = VTH_BUDGET / float(lif.vth)
    if lif.bias_mant != 0:
        bounds["bias"] = BIAS_BUDGET / abs(float(lif.bias_mant))
    size = net.populations[pop].size
    pos = np.zeros(size)
    neg = np.zeros(size)
    wmax = 0.0
    for proj in net.projections.values():
        if proj.post != pop or proj.n_synapses == 0:
            continue
        w = np.asarray(proj.weight, dtype=np.float64)
        wmax = max(wmax, float(np.abs(w).max()))
        pos += np.bincount(proj.post_idx, np.clip(w, 0, None), minlength=size)
        neg += np.bincount(proj.post_idx, np.clip(-w, 0, None), minlength=size)
    if wmax > 0:
        bounds["weights"] = WEIGHT_BUDGET / wmax
        bounds["u_range"] = U_STEP_BUDGET / float(max(pos.max(), neg.max()))
    if not bounds:
        return 1.0, bounds
    return _pow2_floor(min(bounds.values())), bounds


SAMPLE = 1 << 18  # weights looked at to choose weight_exp of a big projection


def _mantissas(target: np.ndarray, e: int, step: int, lo: int, hi: int, bits: int,
               out: np.ndarray | None = None) -> np.ndarray:
    """Rounded, clipped mantissas (float64 holding integers, written into `out`); if
    rounding zeroed every weight of one sign, Lava sees another sign mode, so they become
    what Lava then makes of them. 1 / (2^e step) is a power of two: multiplying by it is
    exactly the division."""
    w = np.multiply(target, 1.0 / (2.0**e * step), out=out)
    np.round(w, out=w)
    w *= step
    np.clip(w, lo, hi, out=w)
    if w.size and w.min() < 0 and not (w.max() > 0) and target.max() > 0:
        w[...] = lava_effective_weights(w.astype(np.int64), bits)
    return w


def _err(target: np.ndarray, mant: np.ndarray, e: int) -> float:
    """||mant 2^e - target|| (numpy's norm: the square root of the dot product), computed
    in `mant`'s buffer (its mantissas are gone afterwards)."""
    mant *= 2.0**e
    mant -= target
    return float(np.sqrt(mant.dot(mant)))


def _quantize_weights(target: np.ndarray, max_bits: int) -> tuple[np.ndarray, int]:
    """Integer mantissas W and weight_exp e minimising ||W 2^e - target|| (Lava-representable)."""
    mode = sign_mode(np.sign(target))
    k = truncate_bits(max_bits, mode)
    step = 2**k
    lo, hi = clip_range(mode)
    lo, hi = -((-lo) // step) * step, (hi // step) * step  # representable ends
    big = float(np.abs(target).max())
    if big == 0:
        return np.zeros(target.shape, np.int32), 0
    # every exponent is tried (ties: the coarser one); big projections choose on a strided
    # sample, then compare the choice with the next finer exponent on all weights
    sample = target if target.size <= SAMPLE else \
        np.ascontiguousarray(target[:: target.size // SAMPLE])
    buf = np.empty_like(sample)
    best_err, best_e = math.inf, 0
    for e in range(WEIGHT_EXP_MIN, WEIGHT_EXP_MAX + 1):
        err = _err(sample, _mantissas(sample, e, step, lo, hi, max_bits, buf), e)
        if err <= best_err * (1 + 1e-12):
            best_err, best_e = min(err, best_err), e
    if sample is target:
        return _mantissas(target, best_e, step, lo, hi, max_bits, buf).astype(np.int32), best_e
    # one float buffer; the two candidates kept as int16 (mantissas lie in [-256, 255])
    buf = _mantissas(target, best_e, step, lo, hi, max_bits)
    chosen = buf.astype(np.int16)
    if best_e > WEIGHT_EXP_MIN:
        coarse_err = _err(target, buf, best_e)
        fine = _mantissas(target, best_e - 1, step, lo, hi, max_bits, buf).astype(np.int16)
        if _err(target, buf, best_e - 1) < coarse_err * (1 - 1e-12):
            chosen, best_e = fine, best_e - 1
    return chosen.astype(np.int32), best_e


def _decay(value: float, offset: int) -> tuple[int, dict[str, Any]]:
    """Fixed du (offset 1) or dv (offset 0) for a float decay rate, with its error."""
    fixed = int(np.clip(round(4096 * float(value)) - offset, 0, DECAY_MAX))
    eff = (fixed + offset) / 4096
    err = abs(eff - float(value))
    return fixed, {"float": float(value), "fixed": fixed, "effective": eff,
                   "abs_error": err, "rel_error": _rel(err, float(value)) if value else None}


def _bias(value: float) -> tuple[int, int, dict[str, Any]]:
    """bias_mant, bias_exp with bias_mant << bias_exp closest to `value` (in V units)."""
    exp = 0
    while exp < BIAS_EXP_MAX and not (BIAS_MANT_MIN <= round(value / 2**exp) <= BIAS_MANT_MAX):
        exp += 1
    mant = int(np.clip(round(value / 2**exp), BIAS_MANT_MIN, BIAS_MANT_MAX))
    err = abs(mant * 2**exp - value)
    return mant, exp, {"mant": mant, "exp": exp, "rel_error": _rel(err, abs(value))}


def _quantize_lif(lif: LIFParams, k: float) -> tuple[LIFParams, dict[str, Any]]:
    du, du_rep = _decay(lif.du, 1)
    dv, dv_rep = _decay(lif.dv, 0)
    vth = int(np.clip(round(k * float(lif.vth)), 0, VTH_MAX))
    vth_err = _rel(abs(vth / k - float(lif.vth)), float(lif.vth))
    mant, exp, bias_rep = _bias(64 * k * float(lif.bias_mant))
    bias_rep["float"] = float(lif.bias_mant)
    adapt = None
    if lif.adapt is not None:
        adapt = copy.copy(lif.adapt)
        adapt.increment = int(round(k * float(lif.adapt.increment)))
    q = LIFParams(du=du, dv=dv, vth=vth, bias_mant=mant, bias_exp=exp, adapt=adapt, wta=lif.wta)
    rep = {"du": du_rep, "dv": dv_rep,
           "vth": {"float": float(lif.vth), "fixed": vth, "rel_error": vth_err},
           "bias": bias_rep}
    if adapt is not None:
        rep["adapt"] = {"increment": adapt.increment, "note": "increment scaled by k like vth"}
    return q, rep


def _fixed_projection_report(proj: Projection) -> dict[str, Any]:
    w = np.asarray(proj.weight)
    changed, err, norm = truncation_error(w, proj.num_weight_bits)
    return {
        "sign_mode": sign_mode(w),
        "weight_exp": int(proj.weight_exp),
        "num_weight_bits": int(proj.num_weight_bits),
        "lost_bits": lost_bits(w, proj.num_weight_bits),
        "changed": changed,
        "rel_error": _rel(err, norm),
    }


def _warn(report: dict[str, Any], message: str) -> None:
    report["warnings"].append(message)


def _fixed_report(net: NetworkIR) -> tuple[NetworkIR, dict[str, Any]]:
    report: dict[str, Any] = {"precision": "fixed", "converted": False, "populations": {},
                              "projections": {}, "warnings": []}
    for name, proj in net.projections.items():
        rep = _fixed_projection_report(proj)
        report["projections"][name] = rep
        if rep["lost_bits"] and rep["rel_error"] > WARN_REL_ERROR:
            _warn(report, f"projection {name}: lost {rep['lost_bits']} bits in weight rounding "
                  f"(num_weight_bits {proj.num_weight_bits}, {rep['sign_mode']}): "
                  f"{rep['changed']} of {proj.n_synapses} weights change, relative error "
                  f"{rep['rel_error']:.2%}")
    return net, report


def quantize(net: NetworkIR, *, weight_bits: int = 8) -> tuple[NetworkIR, dict[str, Any]]:
    """A fixed-point copy of a float network, plus a report of every error it introduces.

    Fixed networks come back unchanged with a report of what Lava's weight truncation
    loses. Errors above 1% are also emitted as Python warnings. `weight_bits` caps
    num_weight_bits (the target's synaptic weight precision).
    """
    out, report = _fixed_report(net) if net.precision != "float" else _from_float(net, weight_bits)
    for message in report["warnings"]:
        warnings.warn(message, stacklevel=2)
    return out, report


def _from_float(net: NetworkIR, weight_bits: int) -> tuple[NetworkIR, dict[str, Any]]:
    """The fixed-point copy of a float network and its error report (see module doc)."""
    out = copy.copy(net)
    out.precision = "fixed"
    out.populations = dict(net.populations)
    out.projections = dict(net.projections)
    report: dict[str, Any] = {"precision": "float", "converted": True, "populations": {},
                              "projections": {}, "warnings": []}
    scales: dict[str, float] = {}
    for name, pop in net.populations.items():
        if pop.is_source or pop.lif is None:
            continue
        k, bounds = _population_scale(net, name, pop.lif)
        scales[name] = k
        lif, rep = _quantize_lif(pop.lif, k)
        rep.update(scale=k, v_scale=64 * k, scale_bounds=bounds)
        out.populations[name] = copy.copy(pop)
        out.populations[name].lif = lif
        report["populations"][name] = rep
        for key in ("vth", "bias"):
            e = rep[key]["rel_error"]
            if e > WARN_REL_ERROR:
                _warn(report, f"population {name}: {key} quantized with relative error {e:.2%}")
        for key in ("du", "dv"):
            e = rep[key]["rel_error"]
            if e is not None and e > WARN_REL_ERROR:
                _warn(report, f"population {name}: {key} {rep[key]['float']} becomes "
                      f"{rep[key]['effective']:.6g} per step (relative error {e:.2%})")
    for name, proj in net.projections.items():
        k = scales.get(proj.post, 1.0)
        w_f = np.asarray(proj.weight, dtype=np.float64)
        q = copy.copy(proj)
        if proj.n_synapses:
            w_q, e = _quantize_weights(k * w_f, weight_bits)
        else:
            w_q, e = np.zeros(0, np.int32), 0
        bits = (min(int(proj.num_weight_bits), weight_bits) if proj.plasticity is not None
                else lossless_weight_bits(w_q, weight_bits))
        q.weight, q.weight_exp, q.num_weight_bits = w_q, e, bits
        out.projections[name] = q
        d = w_q * 2.0**e  # the error in float units, in place (same values as unfused)
        d /= k
        d -= w_f
        err = _rel(float(np.linalg.norm(d)), float(np.linalg.norm(w_f)))
        rep = {"sign_mode": sign_mode(w_q), "weight_exp": e, "num_weight_bits": bits,
               "weight_scale": k / 2.0**e, "rel_error": err,
               "zeroed": int(np.count_nonzero((w_q == 0) & (w_f != 0)))}
        report["projections"][name] = rep
        if err > WARN_REL_ERROR:
            _warn(report, f"projection {name}: weights quantized with relative error {err:.2%} "
                  f"(weight_exp {e}, {bits} bits, {rep['zeroed']} weights became 0)")
        if proj.plasticity is not None:
            _warn(report, f"projection {name}: plastic; its learning parameters stay in float "
                  f"units while weights are now mantissas ({k / 2.0**e:g} per float unit): "
                  "check the rule's parameters")
    return out, report
