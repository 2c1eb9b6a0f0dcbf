"""numba kernels of the compiled cpu engine: LIF update and spike delivery, per neuron block.

Each kernel works on one block of post neurons, so a thread that runs a block writes only
its own neurons (no atomics). The arithmetic repeats the numpy engine's float64 operations
in the same order (backends/cpu/neurons.py), so fixed precision gives the same integers and
float precision the same values. `*_par` run the blocks in parallel (`prange`), `*_ser` in
order; both give identical results.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

M24 = 2.0**23  # Lava's max_uv_val
TWO32 = 2.0**32
TWO31 = 2.0**31
INV32 = 2.0**-32  # multiplying by it equals dividing by 2**32 (exact power of two)

# parameter rows of a population's `par` array (kernel_params in compiled.py)
P_CU, P_CV, P_THR, P_BIAS = 0, 1, 2, 3


@njit(cache=True, inline="always")
def _wrap32(x: float) -> float:
    """x reduced to int32 range by wrap-around, as neurons.wrap_int32 (identity inside)."""
    return x - TWO32 * np.floor((x + TWO31) * INV32)


@njit(cache=True, inline="always")
def _wrap24(x: float) -> float:
    """neurons.lava_wrap24 on one value (identity on (-2**23, 2**23])."""
    w = x - 2.0 * M24 if x > M24 else x
    return x + 2.0 * M24 if w <= -M24 else w


@njit(cache=True)
def _lif_block(lo, hi, fixed, a, u, v, th, par, wta, adapt, spk, idx):
    """Update neurons lo..hi-1 from input a (zeroed after reading); spikes into spk.

    Without wta it also resets v, updates the adaptive threshold (adapt = (mode, mul,
    increment, tau): mode 0 none, 1 fixed, 2 float) and lists the spiking neurons in
    idx[lo:lo + count]; returns count. With wta only the candidates are marked.
    """
    cu, cv, thr, bias = par[P_CU], par[P_CV], par[P_THR], par[P_BIAS]
    mode = int(adapt[0])
    count = 0
    for j in range(lo, hi):
        aj = a[j]
        a[j] = 0.0
        if fixed:
            uj = aj * 64.0 if cu[j] == 0.0 else np.trunc(u[j] * cu[j]) + aj * 64.0
            if uj > M24 or uj <= -M24:  # the wraps are the identity inside these ranges
                uj = _wrap24(_wrap32(uj))
            vj = np.trunc(v[j] * cv[j]) + uj + bias[j]
            if vj >= TWO31 or vj < -TWO31:
                vj = _wrap32(vj)
            vj = min(max(vj, -(M24 - 1.0)), M24 - 1.0)
        else:
            uj = u[j] * cu[j] + aj
            vj = v[j] * cv[j] + uj + bias[j]
        u[j] = uj
        s = vj > (thr[j] + th[j] if mode else thr[j])
        spk[j] = s
        if wta:
            v[j] = vj
            continue
        v[j] = 0.0 if s else vj
        idx[lo + count] = j  # branch-free: kept only when s
        count += s
        if mode:
            th[j] = _adapt_one(th[j], s, mode, adapt)
    return count


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
def lif_wta_finish(n, v, th, par, adapt, spk, idx):
    """Winner-take-all over the whole population (compiler.neuron_math.wta_select), then the
    reset and adaptive threshold of the winners; returns the spike count (in idx[0])."""
    thr = par[P_THR]
    mode = int(adapt[0])
    best, k, cands = -np.inf, -1, 0
    for j in range(n):
        if spk[j]:
            cands += 1
            m = v[j] - (thr[j] + th[j] if mode else thr[j])
            if m > best:
                best, k = m, j
    count = 0
    for j in range(n):
        s = spk[j] and (cands <= 1 or j == k)
        spk[j] = s
        if s:
            v[j] = 0.0
            idx[count] = j
            count += 1
        if mode:
            th[j] = _adapt_one(th[j], s, mode, adapt)
    return count


@njit(cache=True, parallel=True)
def lif_par(bounds, fixed, a, u, v, th, par, wta, adapt, spk, idx, cnt):
    """_lif_block over every block (bounds[b]..bounds[b + 1]) in parallel; counts into cnt."""
    for b in prange(bounds.shape[0] - 1):
        cnt[b] = _lif_block(bounds[b], bounds[b + 1], fixed, a, u, v, th, par, wta, adapt,
                            spk, idx)


@njit(cache=True)
def lif_ser(bounds, fixed, a, u, v, th, par, wta, adapt, spk, idx, cnt):
    """lif_par, one block after the other."""
    for b in range(bounds.shape[0] - 1):
        cnt[b] = _lif_block(bounds[b], bounds[b + 1], fixed, a, u, v, th, par, wta, adapt,
                            spk, idx)


@njit(cache=True)
def _deliver_block(b, lo, ptr, post, w, perm, delay, ud, scale, t, out, direct,
                   pre_idx, pre_start, pre_cnt):
    """Add the synapses of block b of every spiking pre neuron, last neuron first.

    Target: `out` is the post ring (direct: row (t + 1 + d) % rows) or the projection's
    scratch (row d). Weight of synapse k: w[perm[k]] with a perm (plastic), else w[k].
    Delay: ud for all (ud >= 0) or delay[k]. Returns the number of synaptic events.
    """
    rows = out.shape[0]
    base = (t + 1) % rows if direct else 0
    indirect = perm.shape[0] > 0
    events = 0
    for pb in range(pre_cnt.shape[0] - 1, -1, -1):
        first = pre_start[pb]
        for q in range(pre_cnt[pb] - 1, -1, -1):
            i = pre_idx[first + q]
            k0, k1 = ptr[i, b], ptr[i, b + 1]
            events += k1 - k0
            if ud >= 0:
                r = base + ud
                row = out[r - rows if r >= rows else r, lo:]
                if indirect:
                    for k in range(k0, k1):
                        row[post[k]] += w[perm[k]] * scale
                else:
                    for k in range(k0, k1):
                        row[post[k]] += w[k] * scale
            else:
                for k in range(k0, k1):
                    r = base + np.int64(delay[k])
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


@njit(cache=True, parallel=True)
def deliver_par(bounds, ptr, post, w, perm, delay, ud, scale, shift, t, ring, scratch,
                pre_idx, pre_start, pre_cnt):
    """Deliver one projection's spikes of step t, post blocks in parallel (see _deliver_block);
    returns the number of synaptic events.

    shift == 0: straight into the ring, each weight times `scale`; else into `scratch`,
    then floor(sum * shift) into the ring.
    """
    direct = shift == 0.0
    events = 0
    for b in prange(bounds.shape[0] - 1):
        out = ring if direct else scratch
        events += _deliver_block(b, bounds[b], ptr, post, w, perm, delay, ud, scale, t, out,
                                 direct, pre_idx, pre_start, pre_cnt)
        if not direct:
            _flush_block(bounds[b], bounds[b + 1], t, scratch, ring, shift)
    return events


@njit(cache=True)
def deliver_ser(bounds, ptr, post, w, perm, delay, ud, scale, shift, t, ring, scratch,
                pre_idx, pre_start, pre_cnt):
    """deliver_par, one block after the other."""
    direct = shift == 0.0
    events = 0
    for b in range(bounds.shape[0] - 1):
        out = ring if direct else scratch
        events += _deliver_block(b, bounds[b], ptr, post, w, perm, delay, ud, scale, t, out,
                                 direct, pre_idx, pre_start, pre_cnt)
        if not direct:
            _flush_block(bounds[b], bounds[b + 1], t, scratch, ring, shift)
    return events
