"""The learning engine with its epoch update compiled (learning_kernels.learn_epoch).

`CompiledLearner` is `learning.Learner` (same traces, random numbers and results) whose
per-synapse update runs in numba instead of numpy fancy indexing; the compiled cpu engine
uses it through `make_compiled_learner`.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import NetworkIR, Projection
from compiler.lava_weights import clip_range
from compiler.plasticity import fixed as fx

from . import learning_kernels as lk
from .learning import ACC_MAX, ACC_MIN, VAR_RANGE_FIXED, Learner, SynapsesLike, make_learner

VAR_CODES = {"w": lk.V_W, "t": lk.V_T, "d": lk.V_D, "x0": lk.V_X0, "y0": lk.V_Y0,
             "x1": lk.V_X1, "x2": lk.V_X2, "y1": lk.V_Y1, "y2": lk.V_Y2, "y3": lk.V_Y3}
DEP_CODES = {"x0": lk.D_X0, "y0": lk.D_Y0, "u": lk.D_U}
TARGETS = ("dw", "dd", "dt")  # lk.T_W, T_D, T_T


def rule_tables(learner: Learner) -> dict[str, np.ndarray]:
    """The rule's products as kernel tables: prod (target, dep, mantissa, exponent, shift),
    pscale, pptr (products of target k: pptr[k]:pptr[k + 1]), fac (var, const, sgn, width),
    fptr, deps (target x dependency used)."""
    prod, pscale, pptr, fac, fptr = [], [], [0], [], [0]
    deps = np.zeros((3, 3), dtype=np.bool_)
    for k, target in enumerate(TARGETS):
        for p in learner.spec.products.get(target) or ():
            dep = DEP_CODES[p.dependency]
            deps[k, dep] = True
            prod.append((k, dep, p.mantissa, p.exponent, fx.product_shift(p.variables)))
            pscale.append(p.mantissa * 2.0**p.exponent)
            fac += [(VAR_CODES[f.var], f.const, int(f.sgn), fx.FACTOR_WIDTH[f.var])
                    for f in p.factors]
            fptr.append(len(fac))
        pptr.append(len(prod))
    return {"prod": np.array(prod, dtype=np.int64).reshape(-1, 5),
            "pscale": np.array(pscale, dtype=np.float64),
            "pptr": np.array(pptr, dtype=np.int64),
            "fac": np.array(fac, dtype=np.int64).reshape(-1, 4),
            "fptr": np.array(fptr, dtype=np.int64), "deps": deps}


class CompiledLearner(Learner):
    """`Learner` with the epoch's synapse update in numba (identical results)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tables = rule_tables(self)
        sign = {"excitatory": 1, "inhibitory": -1}.get(self.sign_mode, 0)
        self.consts = np.array([fx.ACC_SHIFT, ACC_MIN, ACC_MAX, sign], dtype=np.int64)
        lims = np.zeros((3, 2))
        if self.fixed:
            lims[lk.T_W] = clip_range(self.sign_mode)
            lims[lk.T_D] = VAR_RANGE_FIXED["d"]
            lims[lk.T_T] = VAR_RANGE_FIXED["t"]
        self.lims = lims
        lo, hi = self.spec.w_min, self.spec.w_max
        self.bounds = np.array([-np.inf if lo is None else lo, np.inf if hi is None else hi,
                                float(lo is not None or hi is not None)])
        self.mark = np.zeros(self.pre.shape[0], dtype=np.uint8)
        self.post_pre = self.pre[self.by_post.order]  # read in order when visiting by post
        fac = self.tables["fac"][:, 0]
        self.tags = bool(np.any(self.tables["pptr"][1:] > self.tables["pptr"][1])
                         or np.any((fac == lk.V_T) | (fac == lk.V_D)))
        # Lava shifts left by exponent + 7: a negative count is left to the numpy engine
        self.compiled = bool(np.all(self.tables["prod"][:, lk.P_EXP] + 7 >= 0))
        self.side = {"x": _side(self._xs), "y": _side(self._ys)}
        self._rows_x = np.ones(2, dtype=np.bool_)
        self._rows_y = np.array([True, self.modulator is None, True])
        self._rows_m = np.array([False, True, False])

    def step(self, t: int, pre_spikes: np.ndarray, post_spikes: np.ndarray,
             modulators: dict[str, np.ndarray] | None = None) -> bool:
        """Learner.step with the trace impulses in numba (same random numbers, same order)."""
        if self.modulator is not None and (modulators is None or self.modulator not in modulators):
            return super().step(t, pre_spikes, post_spikes, modulators)  # its error message
        self.time_step += 1
        E = self.spec.t_epoch
        within = self.time_step % E or E
        x, y = self.side["x"], self.side["y"]
        lk.impulses(self.x, self.tx, np.asarray(pre_spikes, dtype=bool), self._rows_x, within,
                    self.fixed, x[0], x[1], x[2], 0)
        if self.fixed:
            self._xr.advance()
            self._yr.advance()
        rnd = int(self._yr.impulse) if self.fixed else 0
        lk.impulses(self.y, self.ty, np.asarray(post_spikes, dtype=bool), self._rows_y, within,
                    self.fixed, y[0], y[1], y[2], rnd)
        if self.modulator is not None:
            m = np.asarray(modulators[self.modulator], dtype=bool)
            mod = np.broadcast_to(m, post_spikes.shape) if m.size <= 1 else m
            lk.impulses(self.y, self.tm, np.ascontiguousarray(mod), self._rows_m, within,
                        self.fixed, y[0], y[1], y[2], rnd)
        return self._end_step()

    def _histories(self) -> tuple[np.ndarray, np.ndarray]:
        """Learner._histories in numba."""
        E = self.spec.t_epoch
        ty2 = self.tm if self.modulator is not None else self.ty
        out = []
        for tr, side, times, rnd in ((self.x, self.side["x"], (self.tx, self.tx),
                                      getattr(self, "_xr", None)),
                                     (self.y, self.side["y"], (self.ty, ty2, self.ty),
                                      getattr(self, "_yr", None))):
            decay, live = side[3], side[4]
            rd, ri = (float(rnd.decay), int(rnd.impulse)) if self.fixed else (0.0, 0)
            out.append(lk.histories(tr, decay, live, np.stack(times), self.fixed, side[0],
                                    side[1], side[2], rd, ri, E))
        return out[0], out[1]

    def _learn(self) -> None:
        if not self.compiled:
            return super()._learn()
        self.epochs += 1
        if self.fixed:
            self._cr.advance()
        xh, yh = self._histories()
        self.x, self.y = xh[-1].copy(), yh[-1].copy()
        u = False
        if self._decimate is not None:
            u = int(self.time_step / self.spec.t_epoch) % 2**self._decimate == 0
        t = self.tables
        has = t["pptr"][1:] > t["pptr"][:-1]
        all_sel = np.zeros(3, dtype=np.bool_)
        # Lava's fixed engine rounds and clips every w, d and t each epoch; a synapse without
        # an active dependency keeps its value once it went through that (first epoch), so
        # later epochs visit only the touched synapses, as the numpy engine does for w.
        all_sel[:] = self.fixed and self.epochs == 1
        all_sel |= t["deps"][:, lk.D_U] & u
        every = bool(np.any(all_sel & has))
        rnd = float(self._cr.value) if self.fixed else 0.0
        w = self.syn.weight
        lk.learn_epoch(every, self.fixed, all_sel, self.pre, self.post, w, self.tag, self.tag2,
                       self.tx > 0, self.ty > 0, bool(u), self.tx, self.ty, xh, yh,
                       t["prod"], t["pscale"], t["pptr"], t["fac"], t["fptr"], t["deps"],
                       self.consts, self.lims, self.bounds, rnd, self.by_pre.ptr,
                       self.by_pre.order, self.by_post.ptr, self.by_post.order, self.post_pre,
                       self.mark, self.tags)
        self.tx[:] = 0
        self.ty[:] = 0
        self.tm[:] = 0
        return None


def _side(slots) -> tuple[np.ndarray, ...]:
    """(imp, imp_int, imp_frac, decay per step, live) of one side's trace slots, flat."""
    live = slots.tau != 0
    decay = np.ones(slots.tau.shape[0])
    decay[live] = np.exp(-1 / slots.tau[live][:, None]).ravel()  # as Learner computes it
    return (slots.imp.ravel().astype(np.float64), slots.imp_int.ravel().astype(np.int64),
            slots.imp_frac.ravel().astype(np.int64), decay, live)


def make_compiled_learner(projection: Projection, synapses: SynapsesLike, network: NetworkIR,
                          *, seed: int | None = None) -> Learner:
    """As `learning.make_learner`, with the compiled epoch update."""
    return make_learner(projection, synapses, network, seed=seed, learner_class=CompiledLearner)
