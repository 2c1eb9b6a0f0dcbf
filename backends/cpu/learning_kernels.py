"""numba kernel of the learning engine's epoch update (backends/cpu/learning.py, compiled).

One call updates every synapse the epoch touches, each from its own old w, t, d and the
trace histories, with the same arithmetic as `Learner._apply_fixed` / `_apply_float`:
synapses are independent, so each is computed and written in one visit. The products
of the rule come as tables (see learning_compiled.rule_tables).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# factor variable codes (rule_tables) and product table columns
V_W, V_T, V_D, V_X0, V_Y0, V_X1, V_X2, V_Y1, V_Y2, V_Y3 = range(10)
P_TARGET, P_DEP, P_MANT, P_EXP, P_SHIFT = range(5)
D_X0, D_Y0, D_U = range(3)
T_W, T_D, T_T = range(3)  # targets in Lava's order dw, dd, dt


@njit(cache=True)
def _candidates(x0, y0, by_x0, by_y0, post_pre, pre_ptr, pre_order, post_ptr, post_order,
                mark):
    """(synapse, pre, post) of the synapses of the spiking pre (x0, if by_x0) and post (y0,
    if by_y0) neurons, each once; post_pre[q] is the pre neuron of synapse post_order[q]."""
    if not by_x0:
        x0 = x0[:0]
    if not by_y0:
        y0 = y0[:0]
    total = 0
    for i in range(x0.shape[0]):
        if x0[i]:
            total += pre_ptr[i + 1] - pre_ptr[i]
    for j in range(y0.shape[0]):
        if y0[j]:
            total += post_ptr[j + 1] - post_ptr[j]
    out = np.empty((3, total), dtype=np.int64)
    n = 0
    for i in range(x0.shape[0]):
        if x0[i]:
            for q in range(pre_ptr[i], pre_ptr[i + 1]):
                s = pre_order[q]
                mark[s] = 1
                out[0, n], out[1, n], out[2, n] = s, i, -1
                n += 1
    for j in range(y0.shape[0]):
        if y0[j]:
            for q in range(post_ptr[j], post_ptr[j + 1]):
                s = post_order[q]
                if not mark[s]:
                    out[0, n], out[1, n], out[2, n] = s, post_pre[q], j
                    n += 1
    for q in range(n):
        mark[out[0, q]] = 0
    return out[:, :n]


@njit(cache=True, inline="always")
def _factor(var, act, old, at, i, j, xh, yh):
    """The value of factor variable `var` of one synapse (w, t, d, x0, y0 or a trace)."""
    if var == V_W:
        return old[0]
    if var == V_T:
        return old[2]
    if var == V_D:
        return old[1]
    if var == V_X0:
        return 1.0 if act[0] else 0.0
    if var == V_Y0:
        return 1.0 if act[1] else 0.0
    if var <= V_X2:
        return float(xh[at, var - V_X1, i])
    return float(yh[at, var - V_Y1, j])


@njit(cache=True, inline="always")
def _product(p, fixed, on, act, old, at, i, j, fptr, fac, pscale, xh, yh):
    """(integer, float) product of product term p's factors (1 and its scale when off)."""
    imac = np.int64(1)
    fmac = pscale[p]
    if not on:
        return imac, fmac
    for f in range(fptr[p], fptr[p + 1]):
        fv = _factor(fac[f, 0], act, old, at, i, j, xh, yh)
        if fixed:
            iv = np.int64(fv) + fac[f, 1]
            if fac[f, 2]:
                iv = np.int64(np.sign(iv))
            lim = np.int64(1) << fac[f, 3]
            imac *= min(max(iv, -lim), lim - 1)
        else:
            if fac[f, 1]:
                fv = fv + fac[f, 1]
            if fac[f, 2]:
                fv = np.sign(fv)
            fmac = fmac * fv
    return imac, fmac


@njit(cache=True, inline="always")
def _result(tgt, fixed, ires, fres, old, sign, unit, rnd, acc_shift, lims, bounds):
    """The new value of target tgt (w, d or t) from its accumulated sum: stochastic
    rounding and range in fixed precision, the sign mode of w and w's bounds."""
    if fixed:
        if tgt == T_W:
            ires = max(ires, 0) if sign > 0 else (min(ires, 0) if sign < 0 else ires)
        elif tgt == T_D:
            ires = max(ires, 0)
        ip = ires / unit
        r = np.int64(np.floor(ip)) + (1 if rnd < ip % 1.0 else 0)
        r = (r << acc_shift) >> acc_shift
        r = min(max(r, np.int64(lims[tgt, 0])), np.int64(lims[tgt, 1]))
        val = float(r)
    else:
        val = old[tgt] + fres
        if tgt == T_W:
            val = max(0.0, val) if sign > 0 else (min(0.0, val) if sign < 0 else val)
        elif tgt == T_D:
            val = max(0.0, val)
    if tgt == T_W and bounds[2]:
        val = min(max(val, bounds[0]), bounds[1])
    return val


@njit(cache=True)
def learn_epoch(every, fixed, all_sel, pre, post, w, tag, tag2, x0, y0, u, tx, ty, xh, yh,
                prod, pscale, pptr, fac, fptr, deps, consts, lims, bounds, rnd,
                pre_ptr, pre_order, post_ptr, post_order, post_pre, mark, tags):
    """One epoch's update: every synapse (`every`), else the candidates (_candidates); for
    each, the new w, d and t its rule selects, all from the old values
    (Learner._apply_fixed / _apply_float). `tags`: the rule reads or writes t or d."""
    acc_shift, acc_min, acc_max, sign = consts[0], consts[1], consts[2], consts[3]
    unit = float(np.int64(1) << acc_shift)
    last = xh.shape[0] - 1
    if every:
        cand = np.empty((3, 0), dtype=np.int64)
        n = pre.shape[0]
    else:
        cand = _candidates(x0, y0, deps[:, D_X0].any(), deps[:, D_Y0].any(), post_pre,
                           pre_ptr, pre_order, post_ptr, post_order, mark)
        n = cand.shape[1]
    for q in range(n):
        if every:
            s, i, j = q, pre[q], post[q]
        else:
            s, i, j = cand[0, q], cand[1, q], cand[2, q]
            if j < 0:
                j = post[s]
        act = (x0[i], y0[j], u)
        old = (float(w[s]), float(tag2[s]) if tags else 0.0, float(tag[s]) if tags else 0.0)
        nw, nd, nt = old
        for tgt in range(3):
            p0, p1 = pptr[tgt], pptr[tgt + 1]
            if p0 == p1 or not (all_sel[tgt] or (deps[tgt, D_X0] and act[0])
                                or (deps[tgt, D_Y0] and act[1]) or (deps[tgt, D_U] and act[2])):
                continue
            ires = np.int64(old[tgt]) << acc_shift
            fres = 0.0
            for p in range(p0, p1):
                dep = prod[p, P_DEP]
                on = act[0] if dep == D_X0 else (act[1] if dep == D_Y0 else act[2])
                at = tx[i] if dep == D_X0 else (ty[j] if dep == D_Y0 else last)
                imac, fmac = _product(p, fixed, on, act, old, at, i, j, fptr, fac, pscale,
                                      xh, yh)
                if fixed:
                    contrib = np.int64(0)
                    if on:
                        imac *= prod[p, P_MANT]
                        imac >>= prod[p, P_SHIFT]
                        imac <<= prod[p, P_EXP] + 7
                        contrib = min(max(imac, acc_min), acc_max)
                    ires = min(max(ires + contrib, acc_min), acc_max)
                else:
                    val = fmac if on else 0.0
                    fres = val if p == p0 else fres + val
            val = _result(tgt, fixed, ires, fres, old, sign, unit, rnd, acc_shift, lims, bounds)
            if tgt == T_W:
                nw = val
            elif tgt == T_D:
                nd = val
            else:
                nt = val
        w[s] = nw
        if tags:
            tag2[s] = nd
            tag[s] = nt


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
def histories(tr, decay, live, times, fixed, imp, imp_int, imp_frac, rnd_decay, rnd_imp,
              epoch):
    """Trace values at each step of the epoch (Learner._histories): h[0] = tr, then per step
    the decay of the live traces (others are 0) and the impulse of row r's neurons whose
    spike time (times[r]) is that step."""
    k, n = tr.shape
    h = np.zeros((epoch + 1, k, n), dtype=tr.dtype)
    h[0] = tr
    for t in range(1, epoch + 1):
        for r in range(k):
            if live[r]:
                for i in range(n):
                    val = decay[r] * h[t - 1, r, i]
                    if fixed:
                        frac = val % 1.0
                        h[t, r, i] = np.floor(val) + (1.0 if rnd_decay < frac else 0.0)
                    else:
                        h[t, r, i] = val
            for i in range(n):
                if times[r, i] == t:
                    if fixed:
                        v = h[t, r, i] + imp_int[r] + (1 if rnd_imp < imp_frac[r] else 0)
                        h[t, r, i] = min(max(v, 0), 127)
                    else:
                        h[t, r, i] = h[t, r, i] + imp[r]
    return h
