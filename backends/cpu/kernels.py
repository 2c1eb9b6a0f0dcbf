"""numba kernels of the compiled cpu engine: LIF update and spike delivery, per neuron block.

Each kernel works on one block of post neurons, so a thread that runs a block writes only
its own neurons (no atomics). The arithmetic repeats the numpy engine's float64 operations
in the same order (backends/cpu/neurons.py), so fixed precision gives the same integers and
float precision the same values. `*_par` run the blocks in parallel (`prange`), `*_ser` in
order; both give identical results. Fixed precision keeps u, v (and the input ring, where a
bound allows) in int32 and computes in float64, exact on those integers; a parameter is a
float (uniform) or a row per neuron, each combination compiled on its own.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .intrinsics import prefetch

M24 = 2.0**23  # Lava's max_uv_val
TWO32 = 2.0**32
TWO31 = 2.0**31
INV32 = 2.0**-32  # multiplying by it equals dividing by 2**32 (exact power of two)
AHEAD = 4  # delivery prefetches the synapses of the spiking neuron this many places ahead


def at(x, j):  # noqa: ANN001, ANN201 (numba helper)
    """x[j] for a row, x itself for a scalar (resolved when compiled, see _at_impl)."""
    return x[j] if isinstance(x, np.ndarray) else x


@overload(at, inline="always")
def _at_impl(x, j):  # noqa: ANN001, ANN202
    if isinstance(x, types.Array):
        return lambda x, j: x[j]
    return lambda x, j: x


def part(x, lo, hi):  # noqa: ANN001, ANN201 (numba helper)
    """x[lo:hi] for a row, x itself for a scalar (resolved when compiled)."""
    return x[lo:hi] if isinstance(x, np.ndarray) else x


@overload(part, inline="always")
def _part_impl(x, lo, hi):  # noqa: ANN001, ANN202
    if isinstance(x, types.Array):
        return lambda x, lo, hi: x[lo:hi]
    return lambda x, lo, hi: x


@njit(cache=True, inline="always")
def _wrap32(x: float) -> float:
    """x reduced to int32 range by wrap-around, as neurons.wrap_int32 (identity inside)."""
    return x - TWO32 * np.floor((x + TWO31) * INV32)


@njit(cache=True, inline="always")
def _wrap24(x: float) -> float:
    """neurons.lava_wrap24 on one value (identity on (-2**23, 2**23])."""
    w = x - 2.0 * M24 if x > M24 else x
    return x + 2.0 * M24 if w <= -M24 else w


@njit(cache=True, inline="always")
def _fixed_uv(aj, uj, vj, c_u, c_v, b):
    """Lava's fixed precision u, v of one neuron from input aj (neurons._step_fixed):
    float64 on exact integers, each wrap chosen by a select (the loop stays vectorised)."""
    uj = np.trunc(uj * c_u) + aj * 64.0  # c_u == 0: trunc(+-0) + x == x
    wide = (uj > M24) | (uj <= -M24)  # the wraps are the identity inside this range
    uj = _wrap24(_wrap32(uj)) if wide else uj
    vj = np.trunc(vj * c_v) + uj + b
    vj = _wrap32(vj) if (vj >= TWO31) | (vj < -TWO31) else vj
    return uj, min(max(vj, -(M24 - 1.0)), M24 - 1.0)


@njit(cache=True, inline="always")
def _uv(fixed, aj, uj, vj, c_u, c_v, b):
    """(u, v) of one neuron after one step (float: u * cu + a, v * cv + u + bias)."""
    if fixed:
        return _fixed_uv(aj, uj, vj, c_u, c_v, b)
    uj = uj * c_u + aj
    return uj, vj * c_v + uj + b


@njit(cache=True)
def _lif_plain(fixed, a, u, v, cu, cv, thr, bias, wta, spk):
    """u, v and spikes of one block (arrays sliced to it) without an adaptive threshold;
    v reset unless wta. No branch on the data and indices from 0 (no negative index
    wrap-around): compiled to vector instructions."""
    for j in range(a.shape[0]):
        uj, vj = _uv(fixed, a[j], u[j], v[j], at(cu, j), at(cv, j), at(bias, j))
        a[j] = 0
        s = vj > at(thr, j)
        u[j] = uj
        v[j] = vj if wta | (not s) else 0.0
        spk[j] = s


@njit(cache=True)
def _lif_adapt(fixed, a, u, v, th, cu, cv, thr, bias, wta, adapt, spk):
    """_lif_plain with the adaptive threshold th (updated here unless wta)."""
    mode = int(adapt[0])
    for j in range(a.shape[0]):
        uj, vj = _uv(fixed, a[j], u[j], v[j], at(cu, j), at(cv, j), at(bias, j))
        a[j] = 0
        s = vj > at(thr, j) + th[j]
        u[j] = uj
        spk[j] = s
        if wta:
            v[j] = vj
            continue
        v[j] = 0.0 if s else vj
        th[j] = _adapt_one(th[j], s, mode, adapt)


@njit(cache=True)
def _compact(lo, hi, spk, idx):
    """The spiking neurons of lo..hi-1 into idx[lo:lo + count]; returns count. Reads 8
    flags at a time: few neurons spike, so most words are zero."""
    count = 0
    m = (hi - lo) // 8
    words = spk[lo:lo + 8 * m].view(np.uint64)
    for w in range(m):
        if words[w]:
            for j in range(lo + 8 * w, lo + 8 * w + 8):
                if spk[j]:
                    idx[lo + count] = j
                    count += 1
    for j in range(lo + 8 * m, hi):
        if spk[j]:
            idx[lo + count] = j
            count += 1
    return count


@njit(cache=True, inline="always")
def _lif_block(lo, hi, fixed, a, u, v, th, cu, cv, thr, bias, wta, adapt, spk, idx):
    """Update neurons lo..hi-1 from input a (zeroed after reading); spikes into spk.

    Without wta it also resets v, updates the adaptive threshold (adapt = (mode, mul,
    increment, tau): mode 0 none, 1 fixed, 2 float) and lists the spiking neurons in
    idx[lo:lo + count]; returns count. With wta only the candidates are marked.
    u, v are int32 in fixed precision (float64 values stored exactly), else float64.
    """
    cu, cv, thr, bias = part(cu, lo, hi), part(cv, lo, hi), part(thr, lo, hi), part(bias, lo, hi)
    if adapt[0] == 0:
        _lif_plain(fixed, a[lo:hi], u[lo:hi], v[lo:hi], cu, cv, thr, bias, wta, spk[lo:hi])
    else:
        _lif_adapt(fixed, a[lo:hi], u[lo:hi], v[lo:hi], th[lo:hi], cu, cv, thr, bias, wta,
                   adapt, spk[lo:hi])
    return 0 if wta else _compact(lo, hi, spk, idx)


@njit(cache=True, inline="always")
def _adapt_one(thj, s, mode, adapt):
    """compiler.neuron_math.adapt_update for one neuron (decay, then the spike's increment)."""
    mul, inc, tau = adapt[1], adapt[2], adapt[3]
    if mode == 1:
        if mul != 1.0:
            thj = np.trunc(thj * mul)
    elif tau > 0:
        thj -= thj / tau
    if s:
        thj += inc
    return thj


@njit(cache=True)
def lif_wta_finish(n, v, th, thr, adapt, spk, idx):
    """Winner-take-all over the whole population (compiler.neuron_math.wta_select), then the
    reset and adaptive threshold of the winners; returns the spike count (in idx[0])."""
    mode = int(adapt[0])
    best, k, cands = -np.inf, -1, 0
    for j in range(n):
        if spk[j]:
            cands += 1
            m = v[j] - (at(thr, j) + th[j] if mode else at(thr, j))
            if m > best:
                best, k = m, j
    count = 0
    for j in range(n):
        s = spk[j] and (cands <= 1 or j == k)
        spk[j] = s
        if s:
            v[j] = 0
            idx[count] = j
            count += 1
        if mode:
            th[j] = _adapt_one(th[j], s, mode, adapt)
    return count


@njit(cache=True, parallel=True)
def lif_par(bounds, fixed, a, u, v, th, cu, cv, thr, bias, wta, adapt, spk, idx, cnt):
    """_lif_block over every block (bounds[b]..bounds[b + 1]) in parallel; counts into cnt."""
    for b in prange(bounds.shape[0] - 1):
        cnt[b] = _lif_block(bounds[b], bounds[b + 1], fixed, a, u, v, th, cu, cv, thr, bias,
                            wta, adapt, spk, idx)


@njit(cache=True)
def lif_ser(bounds, fixed, a, u, v, th, cu, cv, thr, bias, wta, adapt, spk, idx, cnt):
    """lif_par, one block after the other."""
    for b in range(bounds.shape[0] - 1):
        cnt[b] = _lif_block(bounds[b], bounds[b + 1], fixed, a, u, v, th, cu, cv, thr, bias,
                            wta, adapt, spk, idx)


@njit(cache=True, inline="always")
def _prefetch_ahead(ptr, post, w, b, pre_idx, first, q):
    """Prefetch block b's offsets of the spiking neuron 2 * AHEAD places before q and the
    post indices and weights (or perm) of the one AHEAD places before q."""
    if q >= 2 * AHEAD:
        prefetch(ptr, pre_idx[first + q - 2 * AHEAD] * ptr.shape[1] + b)
    if q >= AHEAD:
        j = pre_idx[first + q - AHEAD]
        k0, k1 = ptr[j, b], ptr[j, b + 1]
        for k in range(k0, k1, 64 // post.itemsize):  # one per 64-byte cache line
            prefetch(post, k)
        for k in range(k0, k1, 64 // w.itemsize):
            prefetch(w, k)


@njit(cache=True, inline="always")
def _scatter(row, ptr, post, w, scale, b, pre_idx, pre_start, pre_cnt):
    """row[post[k]] += w[k] * scale over block b's synapses of every spiking pre neuron,
    last neuron first (the numpy engine's order of float sums); returns the event count.
    The inner loop runs over slices from 0 (no index wrap-around test)."""
    events = 0
    for pb in range(pre_cnt.shape[0] - 1, -1, -1):
        first = pre_start[pb]
        for q in range(pre_cnt[pb] - 1, -1, -1):
            _prefetch_ahead(ptr, post, w, b, pre_idx, first, q)
            i = pre_idx[first + q]
            k0, k1 = ptr[i, b], ptr[i, b + 1]
            ps, ws = post[k0:k1], w[k0:k1]
            events += k1 - k0
            if scale == 1:  # x * 1 == x: the trivial loop
                for k in range(ps.shape[0]):
                    row[ps[k]] += ws[k]
            else:
                for k in range(ps.shape[0]):
                    row[ps[k]] += ws[k] * scale
    return events


@njit(cache=True)
def _deliver_block(b, lo, hi, ptr, post, w, perm, delay, ud, scale, t, out, direct,
                   pre_idx, pre_start, pre_cnt):
    """Add the synapses of block b of every spiking pre neuron, last neuron first.

    Target: `out` is the post ring (direct: row (t + 1 + d) % rows) or the projection's
    scratch (row d). Weight of synapse k: w[perm[k]] with a perm (plastic), else w[k].
    Delay: ud for all (ud >= 0) or delay[k]. Returns the number of synaptic events.
    """
    rows = out.shape[0]
    base = (t + 1) % rows if direct else 0
    indirect = perm.shape[0] > 0
    if ud >= 0 and not indirect:
        r = base + ud
        return _scatter(out[r - rows if r >= rows else r, lo:hi], ptr, post, w, scale, b,
                        pre_idx, pre_start, pre_cnt)
    events = 0
    for pb in range(pre_cnt.shape[0] - 1, -1, -1):
        first = pre_start[pb]
        for q in range(pre_cnt[pb] - 1, -1, -1):
            if indirect:
                _prefetch_ahead(ptr, post, perm, b, pre_idx, first, q)
            else:
                _prefetch_ahead(ptr, post, w, b, pre_idx, first, q)
            i = pre_idx[first + q]
            k0, k1 = ptr[i, b], ptr[i, b + 1]
            events += k1 - k0
            for k in range(k0, k1):
                r = base + (ud if ud >= 0 else np.int64(delay[k]))
                wk = w[perm[k]] if indirect else w[k]
                out[r - rows if r >= rows else r, lo + post[k]] += wk * scale
    return events


@njit(cache=True)
def _flush_block(lo, hi, t, scratch, ring, shift):
    """Floor-shift the projection's per-(delay, post) sums of one block into the ring
    (Lava's `a_accum >> -weight_exp` for negative weight_exp) and clear them."""
    rows = ring.shape[0]
    for d in range(scratch.shape[0]):
        r = (t + 1 + d) % rows
        for p in range(lo, hi):
            x = scratch[d, p]
            if x != 0.0:
                ring[r, p] += np.floor(x * shift)
                scratch[d, p] = 0.0


@njit(cache=True, inline="always")
def _deliver_one(b, bounds, ptr, post, w, perm, delay, ud, scale, shift, t, ring, scratch,
                 pre_idx, pre_start, pre_cnt):
    """Block b of deliver_par / deliver_ser: into the ring (shift == 0), else into the
    scratch and then floor-shifted into the ring. Two calls, as an int ring and the
    float scratch do not unify as one `out`."""
    lo, hi = bounds[b], bounds[b + 1]
    if shift == 0.0:
        return _deliver_block(b, lo, hi, ptr, post, w, perm, delay, ud, scale, t, ring,
                              True, pre_idx, pre_start, pre_cnt)
    events = _deliver_block(b, lo, hi, ptr, post, w, perm, delay, ud, scale, t, scratch,
                            False, pre_idx, pre_start, pre_cnt)
    _flush_block(lo, hi, t, scratch, ring, shift)
    return events


@njit(cache=True, parallel=True)
def deliver_par(bounds, ptr, post, w, perm, delay, ud, scale, shift, t, ring, scratch,
                pre_idx, pre_start, pre_cnt):
    """Deliver one projection's spikes of step t, post blocks in parallel (see _deliver_block);
    returns the number of synaptic events.

    shift == 0: straight into the ring, each weight times `scale` (an int for an int ring);
    else into `scratch`, then floor(sum * shift) into the ring.
    """
    events = 0
    for b in prange(bounds.shape[0] - 1):
        events += _deliver_one(b, bounds, ptr, post, w, perm, delay, ud, scale, shift, t,
                               ring, scratch, pre_idx, pre_start, pre_cnt)
    return events


@njit(cache=True)
def deliver_ser(bounds, ptr, post, w, perm, delay, ud, scale, shift, t, ring, scratch,
                pre_idx, pre_start, pre_cnt):
    """deliver_par, one block after the other."""
    events = 0
    for b in range(bounds.shape[0] - 1):
        events += _deliver_one(b, bounds, ptr, post, w, perm, delay, ud, scale, shift, t,
                               ring, scratch, pre_idx, pre_start, pre_cnt)
    return events


@njit(cache=True)
def post_abs_sum(bounds, ptr, post, w, scale, out):
    """out[p] += sum of |w| * scale over the synapses onto post neuron p (a bound of the
    input one step can bring)."""
    for i in range(ptr.shape[0]):
        for b in range(bounds.shape[0] - 1):
            lo = bounds[b]
            for k in range(ptr[i, b], ptr[i, b + 1]):
                out[lo + post[k]] += abs(np.float64(w[k])) * scale
