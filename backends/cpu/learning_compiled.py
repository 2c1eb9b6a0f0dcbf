"""The learning engine with its epoch update compiled (learning_kernels.learn_epoch).

`CompiledLearner` is `learning.Learner` (same traces, random numbers and results) whose
trace and per-synapse updates run in numba instead of numpy fancy indexing: per epoch it
walks the synapse runs of the spiking pre neurons (pre-sorted store) and of the spiking
post neurons (a post-sorted index built once), with no work per synapse beyond those and
O(neurons) trace updates. The compiled cpu engine uses it through `make_compiled_learner`.
"""

from __future__ import annotations

import numba
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
CHUNKS_PER_THREAD = 4  # work items per thread of the parallel kernels (balance)


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
    """`Learner` with the trace updates and the epoch's synapse update in numba (identical
    results); parallel over neurons' synapse runs when numba runs more than one thread."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tables = t = rule_tables(self)
        sign = {"excitatory": 1, "inhibitory": -1}.get(self.sign_mode, 0)
        consts = np.array([fx.ACC_SHIFT, ACC_MIN, ACC_MAX, sign], dtype=np.int64)
        lims = np.zeros((3, 2))
        if self.fixed:
            lims[lk.T_W] = clip_range(self.sign_mode)
            lims[lk.T_D] = VAR_RANGE_FIXED["d"]
            lims[lk.T_T] = VAR_RANGE_FIXED["t"]
        lo, hi = self.spec.w_min, self.spec.w_max
        bounds = np.array([-np.inf if lo is None else lo, np.inf if hi is None else hi,
                           float(lo is not None or hi is not None)])
        self.rule = (t["prod"], t["pscale"], t["pptr"], t["fac"], t["fptr"], t["deps"], consts,
                     lims, bounds)
        self.post_pre = self.pre[self.by_post.order]  # read in order when visiting by post
        # the row buffers hold one neuron's synapses: the largest fan-in or fan-out
        self.row_size = int(max(np.diff(self.by_post.ptr).max(initial=1),
                                np.diff(self.by_pre.ptr).max(initial=1)))
        fac = t["fac"][:, 0]
        self.tags = bool(np.any(t["pptr"][1:] > t["pptr"][1])
                         or np.any((fac == lk.V_T) | (fac == lk.V_D)))
        # Lava shifts left by exponent + 7: a negative count is left to the numpy engine
        self.compiled = bool(np.all(t["prod"][:, lk.P_EXP] + 7 >= 0))
        self.side = {"x": _side(self._xs), "y": _side(self._ys)}
        self._rows_x = np.ones(2, dtype=np.bool_)
        self._rows_y = np.array([True, self.modulator is None, True])
        self._rows_m = np.array([False, True, False])
        E = self.spec.t_epoch
        self._hist = {k: np.zeros((E,) + tr.shape, dtype=tr.dtype) if E > 1 else None
                      for k, tr in (("x", self.x), ("y", self.y))}
        self._lists = (np.zeros(self.tx.shape[0], dtype=np.int64),
                       np.zeros(self.ty.shape[0], dtype=np.int64))

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

    def _advance_traces(self) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's trace histories, (E, k, n) with row t - 1 = step t (Learner._histories
        without its start row), computed in numba; self.x and self.y end at the last step
        (with E = 1 the history is a view of them, updated in place)."""
        ty2 = self.tm if self.modulator is not None else self.ty
        out = []
        for key, tr, times, rnd in (("x", self.x, (self.tx, self.tx, self.tx),
                                     getattr(self, "_xr", None)),
                                    ("y", self.y, (self.ty, ty2, self.ty),
                                     getattr(self, "_yr", None))):
            side = self.side[key]
            hist = self._hist[key] if self._hist[key] is not None else tr[None]
            rd, ri = (float(rnd.decay), int(rnd.impulse)) if self.fixed else (0.0, 0)
            lk.histories(tr, hist, side[3], side[4], side[5], times[0], times[1], times[2],
                         self.fixed, side[0], side[1], side[2], rd, ri)
            out.append(hist)
        return out[0], out[1]

    def _learn(self) -> None:
        if not self.compiled:
            return super()._learn()
        self.epochs += 1
        if self.fixed:
            self._cr.advance()
        xh, yh = self._advance_traces()
        u = False
        if self._decimate is not None:
            u = int(self.time_step / self.spec.t_epoch) % 2**self._decimate == 0
        deps = self.tables["deps"]
        has = self.tables["pptr"][1:] > self.tables["pptr"][:-1]
        # Lava's fixed engine rounds and clips every w, d and t each epoch; a synapse without
        # an active dependency keeps its value once it went through that (first epoch), so
        # later epochs visit only the touched synapses, as the numpy engine does for w.
        all_sel = np.full(3, self.fixed and self.epochs == 1)
        all_sel |= deps[:, lk.D_U] & u
        rnd = float(self._cr.value) if self.fixed else 0.0
        threads = numba.get_num_threads()
        par = (CHUNKS_PER_THREAD * threads,) if threads > 1 else ()
        state = (self.tx, self.ty, bool(u), self.syn.weight, self.tag, self.tag2, self.tags,
                 xh, yh, self.rule, self.fixed, all_sel, rnd)
        if np.any(all_sel & has):
            (lk.learn_all_par if par else lk.learn_all_ser)(self.pre, self.post, *state, *par)
        else:
            pre_list = self._spiked(self.tx, self._lists[0], deps[:, lk.D_X0].any())
            post_list = self._spiked(self.ty, self._lists[1], deps[:, lk.D_Y0].any())
            (lk.learn_touched_par if par else lk.learn_touched_ser)(
                pre_list, post_list, self.row_size, self.by_pre.ptr, self.by_pre.order,
                self.post, self.by_post.ptr, self.by_post.order, self.post_pre, *state, *par)
        self.tx[:] = 0
        self.ty[:] = 0
        self.tm[:] = 0
        return None

    @staticmethod
    def _spiked(times: np.ndarray, buf: np.ndarray, used: bool) -> np.ndarray:
        """The neurons that spiked in the epoch (times > 0), if the rule `used` them."""
        return buf[:lk.spiked(times, buf)] if used else buf[:0]


def _side(slots) -> tuple[np.ndarray, ...]:
    """(imp, imp_int, imp_frac, decay per step, live, idle) of one side's trace slots, flat;
    idle: no decay and no impulse, so the trace stays 0."""
    live = slots.tau != 0
    decay = np.ones(slots.tau.shape[0])
    decay[live] = np.exp(-1 / slots.tau[live][:, None]).ravel()  # as Learner computes it
    imp = slots.imp.ravel().astype(np.float64)
    imp_int, imp_frac = slots.imp_int.ravel().astype(np.int64), slots.imp_frac.ravel().astype(np.int64)
    idle = ~live & (imp == 0) & (imp_int == 0) & (imp_frac == 0)
    return imp, imp_int, imp_frac, decay, live, idle


def make_compiled_learner(projection: Projection, synapses: SynapsesLike, network: NetworkIR,
                          *, seed: int | None = None) -> Learner:
    """As `learning.make_learner`, with the compiled epoch update."""
    return make_learner(projection, synapses, network, seed=seed, learner_class=CompiledLearner)
