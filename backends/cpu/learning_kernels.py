"""numba kernels of the learning engine (backends/cpu/learning.py, compiled).

An epoch's update visits the synapses of the neurons that spiked in the epoch: those of
the spiking pre neurons as contiguous runs of the pre-sorted store, those of the spiking
post neurons through a post-sorted index. Each neuron's synapses are gathered into row
buffers (the random reads of a post neuron's weights in one tight loop, so their cache
misses overlap), updated product by product with loops over the row (the rule's tables
are read once per row, not per synapse), and scattered back. Each synapse's new w, d and
t come from its own old values and the trace histories, with the arithmetic of
`Learner._apply_fixed` / `_apply_float`; synapses are independent, so any visiting order
(and any thread split) gives the same result. The rule comes as tables
(learning_compiled.rule_tables).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# factor variable codes (rule_tables) and product table columns
V_W, V_T, V_D, V_X0, V_Y0, V_X1, V_X2, V_Y1, V_Y2, V_Y3 = range(10)
P_TARGET, P_DEP, P_MANT, P_EXP, P_SHIFT = range(5)
D_X0, D_Y0, D_U = range(3)
T_W, T_D, T_T = range(3)  # targets in Lava's order dw, dd, dt
# rows of the integer row buffer: synapse, pre, post, history rows of the x0 / y0
# products, integer product and accumulator; of the float one: old w, d, t, new w, d, t,
# float product and sum; of the bool one: x0, y0, u active (in the order of D_X0, D_Y0, D_U)
R_S, R_I, R_J, R_AT0, R_AT1, R_MAC, R_ACC = range(7)
F_OLD, F_NEW, F_MAC, F_ACC, F_GATHER = 0, 3, 6, 7, 8


@njit(cache=True, inline="always")
def _result(tgt, fixed, ires, fres, cur, consts, lims, bounds, rnd):
    """The new value of target tgt (w, d or t) from its accumulated sum: stochastic
    rounding and range in fixed precision, the sign mode of w and w's bounds."""
    acc_shift, sign = consts[0], consts[3]
    if fixed:
        if tgt == T_W:
            ires = max(ires, 0) if sign > 0 else (min(ires, 0) if sign < 0 else ires)
        elif tgt == T_D:
            ires = max(ires, 0)
        ip = ires / float(np.int64(1) << acc_shift)
        r = np.int64(np.floor(ip)) + (1 if rnd < ip % 1.0 else 0)
        r = (r << acc_shift) >> acc_shift
        r = min(max(r, np.int64(lims[tgt, 0])), np.int64(lims[tgt, 1]))
        val = float(r)
    else:
        val = cur + fres
        if tgt == T_W:
            val = max(0.0, val) if sign > 0 else (min(0.0, val) if sign < 0 else val)
        elif tgt == T_D:
            val = max(0.0, val)
    if tgt == T_W and bounds[2]:
        val = min(max(val, bounds[0]), bounds[1])
    return val


@njit(cache=True, inline="always")
def _factor_into(var, const, sgn, width, at_row, last, n, ib, fb, bb, xh, yh, fixed):
    """Multiply the row's products (ib[R_MAC] fixed, fb[F_MAC] float) by factor `var`
    (w, t, d, x0, y0 or a trace at the history row ib[at_row], or `last` if at_row < 0)
    + const, its sign if sgn; fixed: clipped to the factor's width, as Learner._apply_fixed."""
    lim = np.int64(1) << width
    old = F_OLD + (T_W if var == V_W else (T_T if var == V_T else T_D))
    for k in range(n):
        if var <= V_D:
            fv = fb[old, k]
        elif var == V_X0:
            fv = 1.0 if bb[D_X0, k] else 0.0
        elif var == V_Y0:
            fv = 1.0 if bb[D_Y0, k] else 0.0
        elif var <= V_X2:
            fv = float(xh[ib[at_row, k] if at_row >= 0 else last, var - V_X1, ib[R_I, k]])
        else:
            fv = float(yh[ib[at_row, k] if at_row >= 0 else last, var - V_Y1, ib[R_J, k]])
        if fixed:
            iv = np.int64(fv) + const
            if sgn:
                iv = np.int64(np.sign(iv))
            ib[R_MAC, k] *= min(max(iv, -lim), lim - 1)
        else:
            if const:
                fv = fv + const
            if sgn:
                fv = np.sign(fv)
            fb[F_MAC, k] = fb[F_MAC, k] * fv


@njit(cache=True, inline="always")
def _add_product(p, first, n, ib, fb, bb, prod, consts, fixed):
    """Add product p of every synapse of the row whose dependency is active to the row's
    sums (fixed: shifted, clipped 15-bit accumulator; float: the sum, from `first`)."""
    acc_min, acc_max = consts[1], consts[2]
    on = prod[p, P_DEP]
    mant, shift, exp = prod[p, P_MANT], prod[p, P_SHIFT], prod[p, P_EXP] + 7
    for k in range(n):
        if fixed:
            contrib = np.int64(0)
            if bb[on, k]:
                mac = ((ib[R_MAC, k] * mant) >> shift) << exp
                contrib = min(max(mac, acc_min), acc_max)
            ib[R_ACC, k] = min(max(ib[R_ACC, k] + contrib, acc_min), acc_max)
        else:
            val = fb[F_MAC, k] if bb[on, k] else 0.0
            fb[F_ACC, k] = val if first else fb[F_ACC, k] + val


@njit(cache=True, inline="always")
def _update_rows(n, ib, fb, bb, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims,
                 bounds, fixed, all_sel, rnd):
    """New w, d, t (fb[F_NEW:F_NEW + 3], filled with the old ones) of the row's n synapses
    from the old ones: each target with products, where all_sel or an active dependency of
    one selects it."""
    last = xh.shape[0] - 1
    for tgt in range(3):
        p0, p1 = pptr[tgt], pptr[tgt + 1]
        if p0 == p1:
            continue
        for k in range(n):
            ib[R_ACC, k] = np.int64(fb[F_OLD + tgt, k]) << consts[0]
            fb[F_ACC, k] = 0.0
        for p in range(p0, p1):
            dep = prod[p, P_DEP]
            at_row = R_AT0 if dep == D_X0 else (R_AT1 if dep == D_Y0 else -1)
            for k in range(n):
                ib[R_MAC, k] = 1
                fb[F_MAC, k] = pscale[p]
            for f in range(fptr[p], fptr[p + 1]):
                _factor_into(fac[f, 0], fac[f, 1], fac[f, 2], fac[f, 3], at_row, last, n, ib, fb,
                             bb, xh, yh, fixed)
            _add_product(p, p == p0, n, ib, fb, bb, prod, consts, fixed)
        sel_all, by_x0, by_y0, by_u = all_sel[tgt], deps[tgt, D_X0], deps[tgt, D_Y0], deps[tgt, D_U]
        for k in range(n):
            if sel_all or (by_x0 and bb[D_X0, k]) or (by_y0 and bb[D_Y0, k]) or (by_u and bb[D_U, k]):
                fb[F_NEW + tgt, k] = _result(tgt, fixed, ib[R_ACC, k], fb[F_ACC, k],
                                             fb[F_OLD + tgt, k], consts, lims, bounds, rnd)


@njit(cache=True, inline="always")
def _fill(k, s, i, j, ow, tx, ty, u, tag, tag2, tags, ib, fb, bb):
    """Slot k of the row buffers: synapse s (pre i, post j), its activity, its old values
    (weight ow; also as the new ones, for the targets the epoch leaves)."""
    ti, tj = tx[i], ty[j]
    ib[R_S, k], ib[R_I, k], ib[R_J, k] = s, i, j
    ib[R_AT0, k], ib[R_AT1, k] = max(ti - 1, 0), max(tj - 1, 0)
    bb[D_X0, k], bb[D_Y0, k], bb[D_U, k] = ti > 0, tj > 0, u
    fb[F_OLD + T_W, k] = ow
    fb[F_NEW + T_W, k] = ow
    if tags:
        fb[F_OLD + T_D, k] = fb[F_NEW + T_D, k] = tag2[s]
        fb[F_OLD + T_T, k] = fb[F_NEW + T_T, k] = tag[s]


@njit(cache=True, inline="always")
def _store(n, w, tag, tag2, tags, ib, fb):
    """Write the row's new w (and d, t) back to its synapses."""
    for k in range(n):
        w[ib[R_S, k]] = fb[F_NEW + T_W, k]
    if tags:
        for k in range(n):
            tag2[ib[R_S, k]] = fb[F_NEW + T_D, k]
            tag[ib[R_S, k]] = fb[F_NEW + T_T, k]


@njit(cache=True)
def _buffers(size):
    """Row buffers (int, float, bool) for rows of up to `size` synapses."""
    return (np.zeros((7, size), dtype=np.int64), np.zeros((9, size)),
            np.zeros((3, size), dtype=np.bool_))


@njit(cache=True)
def _pre_chunk(lo, hi, pre_list, size, pre_ptr, pre_order, post, tx, ty, u, w, tag, tag2,
               tags, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims, bounds, fixed,
               all_sel, rnd):
    """The synapses of the spiking pre neurons pre_list[lo:hi], one row per neuron (runs
    of the pre-sorted store, disjoint); size: the largest row."""
    ib, fb, bb = _buffers(size)
    for k in range(lo, hi):
        i = pre_list[k]
        q0 = pre_ptr[i]
        n = pre_ptr[i + 1] - q0
        for m in range(n):
            s = pre_order[q0 + m]
            _fill(m, s, i, post[s], w[s], tx, ty, u, tag, tag2, tags, ib, fb, bb)
        _update_rows(n, ib, fb, bb, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims,
                     bounds, fixed, all_sel, rnd)
        _store(n, w, tag, tag2, tags, ib, fb)


@njit(cache=True)
def _post_chunk(lo, hi, post_list, size, skip_x0, post_ptr, post_order, post_pre, tx, ty, u,
                w, tag, tag2, tags, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims,
                bounds, fixed, all_sel, rnd):
    """The synapses of the spiking post neurons post_list[lo:hi] (post-sorted index), one
    row per neuron, but those of spiking pre neurons when `skip_x0` (the pre pass did
    them); size: the largest row."""
    ib, fb, bb = _buffers(size)
    for k in range(lo, hi):
        j = post_list[k]
        q0, q1 = post_ptr[j], post_ptr[j + 1]
        for q in range(q0, q1):  # random reads in a tight loop: their cache misses overlap
            fb[F_GATHER, q - q0] = w[post_order[q]]
        n = 0
        for q in range(q0, q1):
            i = post_pre[q]
            if skip_x0 and tx[i] > 0:
                continue
            _fill(n, post_order[q], i, j, fb[F_GATHER, q - q0], tx, ty, u, tag, tag2, tags, ib,
                  fb, bb)
            n += 1
        _update_rows(n, ib, fb, bb, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims,
                     bounds, fixed, all_sel, rnd)
        _store(n, w, tag, tag2, tags, ib, fb)


@njit(cache=True)
def _all_chunk(lo, hi, size, pre, post, tx, ty, u, w, tag, tag2, tags, xh, yh, prod, pscale,
               pptr, fac, fptr, deps, consts, lims, bounds, fixed, all_sel, rnd):
    """Synapses lo..hi-1, in rows of `size`."""
    ib, fb, bb = _buffers(size)
    for r0 in range(lo, hi, size):
        n = min(size, hi - r0)
        for m in range(n):
            s = r0 + m
            _fill(m, s, pre[s], post[s], w[s], tx, ty, u, tag, tag2, tags, ib, fb, bb)
        _update_rows(n, ib, fb, bb, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims,
                     bounds, fixed, all_sel, rnd)
        _store(n, w, tag, tag2, tags, ib, fb)


@njit(cache=True)
def spiked(times, out):
    """Indices of the neurons with times > 0 (spiked in the epoch) into out; their count."""
    n = 0
    for i in range(times.shape[0]):
        if times[i] > 0:
            out[n] = i
            n += 1
    return n


@njit(cache=True)
def learn_touched_ser(pre_list, post_list, size, pre_ptr, pre_order, post, post_ptr,
                      post_order, post_pre, tx, ty, u, w, tag, tag2, tags, xh, yh, rule, fixed,
                      all_sel, rnd):
    """The synapses of the spiking pre neurons (pre_list), then those of the spiking post
    neurons (post_list) not also of a spiking pre neuron; size: the largest neuron's
    synapse count. Serial."""
    prod, pscale, pptr, fac, fptr, deps, consts, lims, bounds = rule
    _pre_chunk(0, pre_list.shape[0], pre_list, size, pre_ptr, pre_order, post, tx, ty, u, w,
               tag, tag2, tags, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims,
               bounds, fixed, all_sel, rnd)
    _post_chunk(0, post_list.shape[0], post_list, size, pre_list.shape[0] > 0, post_ptr,
                post_order, post_pre, tx, ty, u, w, tag, tag2, tags, xh, yh, prod, pscale, pptr,
                fac, fptr, deps, consts, lims, bounds, fixed, all_sel, rnd)


@njit(cache=True, parallel=True)
def learn_touched_par(pre_list, post_list, size, pre_ptr, pre_order, post, post_ptr,
                      post_order, post_pre, tx, ty, u, w, tag, tag2, tags, xh, yh, rule, fixed,
                      all_sel, rnd, chunks):
    """learn_touched_ser with each pass cut into `chunks` parts run in parallel (same
    result: the parts' synapses are disjoint)."""
    prod, pscale, pptr, fac, fptr, deps, consts, lims, bounds = rule
    npre, npost = pre_list.shape[0], post_list.shape[0]
    for c in prange(chunks):
        _pre_chunk(c * npre // chunks, (c + 1) * npre // chunks, pre_list, size, pre_ptr,
                   pre_order, post, tx, ty, u, w, tag, tag2, tags, xh, yh, prod, pscale, pptr,
                   fac, fptr, deps, consts, lims, bounds, fixed, all_sel, rnd)
    for c in prange(chunks):
        _post_chunk(c * npost // chunks, (c + 1) * npost // chunks, post_list, size, npre > 0,
                    post_ptr, post_order, post_pre, tx, ty, u, w, tag, tag2, tags, xh, yh, prod,
                    pscale, pptr, fac, fptr, deps, consts, lims, bounds, fixed, all_sel, rnd)


ALL_ROW = 256  # synapses per row when every synapse is updated


@njit(cache=True)
def learn_all_ser(pre, post, tx, ty, u, w, tag, tag2, tags, xh, yh, rule, fixed, all_sel, rnd):
    """Every synapse (first fixed epoch, or an active `u` dependency). Serial."""
    prod, pscale, pptr, fac, fptr, deps, consts, lims, bounds = rule
    _all_chunk(0, pre.shape[0], ALL_ROW, pre, post, tx, ty, u, w, tag, tag2, tags, xh, yh,
               prod, pscale, pptr, fac, fptr, deps, consts, lims, bounds, fixed, all_sel, rnd)


@njit(cache=True, parallel=True)
def learn_all_par(pre, post, tx, ty, u, w, tag, tag2, tags, xh, yh, rule, fixed, all_sel, rnd,
                  chunks):
    """learn_all_ser cut into `chunks` parts run in parallel (same result)."""
    prod, pscale, pptr, fac, fptr, deps, consts, lims, bounds = rule
    n = pre.shape[0]
    for c in prange(chunks):
        _all_chunk(c * n // chunks, (c + 1) * n // chunks, ALL_ROW, pre, post, tx, ty, u, w,
                   tag, tag2, tags, xh, yh, prod, pscale, pptr, fac, fptr, deps, consts, lims,
                   bounds, fixed, all_sel, rnd)


@njit(cache=True)
def impulses(tr, times, spikes, rows, within, fixed, imp, imp_int, imp_frac, rnd):
    """A step's trace impulses of one side (Learner.step / _post_multi): each spiking
    neuron that already spiked in this epoch (times > 0) gets the impulse on the `rows`
    traces (fixed: integer part, stochastic 8-bit fraction with `rnd`, clipped to 0..127);
    then its spike time becomes `within`."""
    for i in range(spikes.shape[0]):
        if not spikes[i]:
            continue
        if times[i] > 0:
            for r in range(tr.shape[0]):
                if not rows[r]:
                    continue
                if fixed:
                    v = tr[r, i] + imp_int[r] + (1 if rnd < imp_frac[r] else 0)
                    tr[r, i] = min(max(v, 0), 127)
                else:
                    tr[r, i] = tr[r, i] + imp[r]
        times[i] = within


@njit(cache=True)
def histories(tr, hist, decay, live, idle, t0, t1, t2, fixed, imp, imp_int, imp_frac,
              rnd_decay, rnd_imp):
    """Trace values at each step t = 1..E of the epoch into hist[t - 1] (Learner._histories
    without its row 0, the start value tr): per step the decay of the live traces (others
    are 0) and the impulse of row r's neurons whose spike time (t0, t1, t2 for rows 0, 1,
    2) is that step; then tr = hist[E - 1]. hist may be tr itself (E = 1, shape (1, k, n)).
    Rows marked `idle` (tau 0, zero impulse) stay 0 and are skipped."""
    epoch, k, n = hist.shape
    for r in range(k):
        if idle[r]:
            continue
        times = t0 if r == 0 else (t1 if r == 1 else t2)
        for t in range(1, epoch + 1):
            for i in range(n):
                prev = tr[r, i] if t == 1 else hist[t - 2, r, i]
                if live[r]:
                    val = decay[r] * prev
                    if fixed:
                        val = np.floor(val) + (1.0 if rnd_decay < val % 1.0 else 0.0)
                else:
                    val = 0.0
                if times[i] == t:
                    if fixed:
                        v = val + imp_int[r] + (1 if rnd_imp < imp_frac[r] else 0)
                        val = min(max(v, 0), 127)
                    else:
                        val = val + imp[r]
                hist[t - 1, r, i] = val
        if epoch > 1:
            for i in range(n):
                tr[r, i] = hist[epoch - 1, r, i]
