"""CPU learning engine: Lava 0.10's learning semantics, vectorised over CSR synapses.

`make_learner(...)` returns a `Learner` whose `step` the CPU simulator calls once per time
step, after the neurons have updated, with the spikes emitted in that step. Every
`t_epoch` steps it updates `synapses.weight` in place (and its own tags), exactly as
Lava's `LearningDense` process models do:

* float precision - `LearningConnectionModelFloat`: traces decay by exp(-1/tau) per step
  and add their impulse on a spike; products are evaluated in Lava's order
  (((m*2^e) * f1) * f2 ...), summed, added to the weight; the weight then saturates by
  sign mode (excitatory >= 0, inhibitory <= 0).
* fixed precision - `LearningConnectionModelBitApproximate`: 7-bit integer traces with
  stochastic rounding of decay and impulse fractions, a 15-bit accumulator (products
  shifted right by their excess width, then left by e + 7), stochastic rounding back to
  the 8-bit weight, saturation to the sign mode's 8-bit range. The random numbers are
  scalars per step drawn like Lava's: trace generators seeded rng_seed .. rng_seed + 3,
  the synaptic-variable generator seeded 2 (Lava hard-codes it), so runs are reproducible
  and bit-equal to Lava given the same rng_seed.

Beyond Lava's own processes: w_min / w_max clip weights after each update, and a declared
modulator drives the y2 trace (snnc's Lava backend adds both; see backends/lava/learning.py).
Only existing synapses learn (Lava's LearningDense also changes absent, zero entries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from compiler.errors import BackendError
from compiler.ir import NetworkIR, Projection
from compiler.lava_weights import clip_range, sign_mode
from compiler.plasticity import LearningRuleSpec, lower_projection
from compiler.plasticity import fixed as fx
from compiler.plasticity.grammar import Product

W_TRACE_MAX = 2**fx.W_TRACE - 1
ACC_MIN, ACC_MAX = -(2**fx.W_ACCUMULATOR_U) - 1, 2**fx.W_ACCUMULATOR_U - 1
LAVA_CONN_VAR_SEED = 2  # Lava's ConnVarRandom() default: not derived from rng_seed
X_SLOTS, Y_SLOTS = ("x1", "x2"), ("y1", "y2", "y3")
VAR_RANGE_FIXED = {"t": (-(2**fx.W_TAG_U) - 1, 2**fx.W_TAG_U - 1), "d": (0, 2**fx.W_TAG_U - 1)}


class SynapsesLike(Protocol):
    """What the learner needs of the simulator's per-projection synapse store."""

    pre: np.ndarray  # (n_syn,) pre neuron of each synapse
    post: np.ndarray  # (n_syn,) post neuron of each synapse
    weight: np.ndarray  # (n_syn,) updated in place


class _TraceRandom:
    """Lava's TraceRandom: one decay and one impulse random number, redrawn by advance()."""

    def __init__(self, seed_decay: int, seed_impulse: int):
        self._rd = np.random.default_rng(seed=seed_decay)
        self._ri = np.random.default_rng(seed=seed_impulse)
        self.advance()

    def advance(self) -> None:
        self.decay = self._rd.random(1)[0]
        self.impulse = self._ri.integers(0, 2**fx.W_TRACE, size=1, dtype=int)[0]


class _ConnVarRandom:
    """Lava's ConnVarRandom: the stochastic-rounding number of the synaptic variables."""

    def __init__(self, seed: int = LAVA_CONN_VAR_SEED):
        self._r = np.random.default_rng(seed=seed)
        self.advance()

    def advance(self) -> None:
        self.value = self._r.random(1)[0]


def _stochastic_round(values: np.ndarray, random: float, prob: np.ndarray) -> np.ndarray:
    return (values + (random < prob).astype(int)).astype(int)


def _add_impulse(tr: np.ndarray, random: int, imp_int, imp_frac) -> np.ndarray:
    """Fixed-point impulse: add integer part, stochastically round the 8-bit fraction, clip 0..127."""
    new = _stochastic_round(tr + imp_int, random, imp_frac)
    return np.clip(new, 0, W_TRACE_MAX)


def _decay_fixed(tr: np.ndarray, taus: np.ndarray, random: float) -> np.ndarray:
    val = np.exp(-1 / taus) * tr
    frac = val % 1
    return _stochastic_round(np.floor(val), random, frac)


@dataclass
class _Slots:
    """Per-slot impulse and tau arrays, (k, 1) shaped for broadcasting over neurons."""

    tau: np.ndarray
    imp: np.ndarray
    imp_int: np.ndarray
    imp_frac: np.ndarray

    @classmethod
    def of(cls, spec: LearningRuleSpec, slots: tuple[str, ...]) -> _Slots:
        tau = np.array([spec.traces[s].tau for s in slots], dtype=float)
        imp = np.array([spec.traces[s].impulse for s in slots], dtype=float)
        ii = np.floor(imp)
        ifr = np.round((imp - ii) * 2**fx.W_TRACE_FRACTIONAL_PART)
        return cls(tau, imp[:, None], ii.astype(int)[:, None], ifr.astype(int)[:, None])


class Learner:
    """Learning state of one plastic projection (traces, tags, random generators)."""

    def __init__(self, spec: LearningRuleSpec, synapses: SynapsesLike, n_pre: int, n_post: int,
                 sign_mode: str, modulator_size: int | None = None):
        self.spec = spec
        self.syn = synapses
        self.fixed = spec.precision == "fixed"
        self.modulator = spec.modulator
        self.modulator_size = modulator_size
        self.sign_mode = sign_mode
        self.pre = np.asarray(synapses.pre, dtype=np.int64)
        self.post = np.asarray(synapses.post, dtype=np.int64)
        n = self.pre.shape[0]
        dt = int if self.fixed else float
        self.x = np.zeros((2, n_pre), dtype=dt)
        self.y = np.zeros((3, n_post), dtype=dt)
        self.tx = np.zeros(n_pre, dtype=np.int64)
        self.ty = np.zeros(n_post, dtype=np.int64)
        self.tm = np.zeros(n_post, dtype=np.int64)  # modulator spike time (y2 slot)
        self.tag = np.zeros(n, dtype=dt)  # t (tag_1)
        self.tag2 = np.zeros(n, dtype=dt)  # d (tag_2)
        self.time_step = 0
        self.epochs = 0
        self.by_pre, self.by_post = _Index(self.pre, n_pre), _Index(self.post, n_post)
        self._xs, self._ys = _Slots.of(spec, X_SLOTS), _Slots.of(spec, Y_SLOTS)
        self._decimate = spec.decimate
        if self.fixed:
            s = spec.rng_seed
            self._xr, self._yr = _TraceRandom(s, s + 1), _TraceRandom(s + 2, s + 3)
            self._cr = _ConnVarRandom()

    # ---------------------------------------------------------------- spiking phase
    def step(self, t: int, pre_spikes: np.ndarray, post_spikes: np.ndarray,
             modulators: dict[str, np.ndarray] | None = None) -> bool:
        """Record one step's spikes (bool vectors); learn at the end of an epoch. True if it learned."""
        self.time_step += 1
        E = self.spec.t_epoch
        within = self.time_step % E or E
        pre = np.asarray(pre_spikes, dtype=bool)
        post = np.asarray(post_spikes, dtype=bool)
        multi = (self.tx > 0) & pre
        if multi.any():
            if self.fixed:
                self.x[:, multi] = _add_impulse(self.x[:, multi], 0, self._xs.imp_int, self._xs.imp_frac)
            else:
                self.x[:, multi] += self._xs.imp
        self.tx[pre] = within
        if self.fixed:
            self._xr.advance()
            self._yr.advance()
        mod = None
        if self.modulator is not None:
            if modulators is None or self.modulator not in modulators:
                raise BackendError(f"rule '{self.spec.rule}' needs the spikes of modulator "
                                   f"'{self.modulator}': pass step(..., modulators={{name: spikes}})")
            m = np.asarray(modulators[self.modulator], dtype=bool)
            mod = np.broadcast_to(m, post.shape) if m.size <= 1 else m
        rows = [0, 2] if mod is not None else [0, 1, 2]
        self._post_multi(post, self.ty, rows)
        self.ty[post] = within
        if mod is not None:
            self._post_multi(mod, self.tm, [1])
            self.tm[mod] = within
        return self._end_step()

    def _end_step(self) -> bool:
        """After a step's impulses: advance the stochastic-rounding streams (fixed) and, at
        the end of an epoch, update the synapses; True when they were updated."""
        if self.fixed:
            self._xr.advance()
            self._yr.advance()
        if self.time_step % self.spec.t_epoch == 0:
            self._learn()
            return True
        return False

    def _post_multi(self, spikes: np.ndarray, times: np.ndarray, rows: list[int]) -> None:
        multi = (times > 0) & spikes
        if not multi.any():
            return
        r = np.asarray(rows)[:, None]
        sel = self.y[r, multi]
        if self.fixed:
            self.y[r, multi] = _add_impulse(sel, self._yr.impulse, self._ys.imp_int[rows],
                                            self._ys.imp_frac[rows])
        else:
            self.y[r, multi] = sel + self._ys.imp[rows]

    # ---------------------------------------------------------------- learning phase
    def _histories(self) -> tuple[np.ndarray, np.ndarray]:
        E = self.spec.t_epoch
        ty_rows = [self.ty, self.tm if self.modulator is not None else self.ty, self.ty]
        out = []
        for tr, sl, times, rnd in ((self.x, self._xs, [self.tx, self.tx], getattr(self, "_xr", None)),
                                   (self.y, self._ys, ty_rows, getattr(self, "_yr", None))):
            h = np.zeros((E + 1,) + tr.shape, dtype=tr.dtype)
            h[0] = tr
            live = sl.tau != 0
            for t in range(1, E + 1):
                if self.fixed:
                    h[t][live] = _decay_fixed(h[t - 1][live], sl.tau[live][:, None], rnd.decay)
                else:
                    h[t][live] = np.exp(-1 / sl.tau[live][:, None]) * h[t - 1][live]
                for k in range(tr.shape[0]):
                    ids = np.flatnonzero(times[k] == t)
                    if ids.size == 0:
                        continue
                    if self.fixed:
                        h[t][k, ids] = _add_impulse(h[t][k, ids], rnd.impulse, sl.imp_int[k], sl.imp_frac[k])
                    else:
                        h[t][k, ids] += sl.imp[k]
            out.append(h)
        return out[0], out[1]

    def _learn(self) -> None:
        self.epochs += 1
        if self.fixed:
            self._cr.advance()
        xh, yh = self._histories()
        self.x, self.y = xh[-1].copy(), yh[-1].copy()
        u = 0
        if self._decimate is not None:
            u = 1 if int(self.time_step / self.spec.t_epoch) % 2**self._decimate == 0 else 0
        ctx = _Context(self, xh, yh, u)
        old = {"w": self.syn.weight, "t": self.tag, "d": self.tag2}
        new = {}
        for target in ("dw", "dd", "dt"):  # Lava's order; every rule reads the old values
            prods = self.spec.products.get(target)
            if prods:
                var = target[1]
                new[var] = (self._apply_fixed if self.fixed else self._apply_float)(var, prods, ctx, old)
        for var, (sel, vals) in new.items():
            if var == "w":
                self.syn.weight[sel] = vals.astype(self.syn.weight.dtype, copy=False)
            elif var == "t":
                self.tag[sel] = vals
            else:
                self.tag2[sel] = vals
        self.tx[:] = 0
        self.ty[:] = 0
        self.tm[:] = 0

    def _bounds(self, var: str, vals: np.ndarray) -> np.ndarray:
        if var == "w" and (self.spec.w_min is not None or self.spec.w_max is not None):
            lo = -np.inf if self.spec.w_min is None else self.spec.w_min
            hi = np.inf if self.spec.w_max is None else self.spec.w_max
            vals = np.clip(vals, lo, hi)
        return vals

    def _apply_float(self, var: str, prods: tuple[Product, ...], ctx: _Context, old) -> tuple:
        cur = old[var]
        sel = ctx.touched(prods)
        total = None
        for p in prods:
            val = np.zeros(sel.size)
            act = ctx.active(p, sel)
            idx = sel[act]
            v = np.full(idx.size, p.mantissa * 2.0 ** p.exponent)
            for f in p.factors:
                fv = ctx.factor(f.var, p.dependency, idx, old)
                if f.const:
                    fv = fv + f.const
                if f.sgn:
                    fv = np.sign(fv)
                v = v * fv
            val[act] = v
            total = val if total is None else total + val
        res = cur[sel] + total
        res = self._keep_sign(var, res)
        return sel, self._bounds(var, res)

    def _keep_sign(self, var: str, res: np.ndarray) -> np.ndarray:
        """Weights keep the projection's sign mode and delays stay >= 0, as in Lava's engine."""
        if var == "w":
            if self.sign_mode == "excitatory":
                return np.maximum(0, res)
            if self.sign_mode == "inhibitory":
                return np.minimum(0, res)
        elif var == "d":
            return np.maximum(0, res)
        return res

    def _apply_fixed(self, var: str, prods: tuple[Product, ...], ctx: _Context, old) -> tuple:
        cur = old[var]
        if var == "w" and self.epochs > 1:
            sel = ctx.touched(prods)  # untouched weights are provably unchanged after epoch 1
        else:
            sel = np.arange(cur.shape[0])
        res = np.asarray(cur[sel], dtype=np.int64) << fx.ACC_SHIFT
        for p in prods:
            act = ctx.active(p, sel)
            idx = sel[act]
            mac = np.ones(idx.size, dtype=np.int64)
            for f in p.factors:
                width = fx.FACTOR_WIDTH[f.var]
                fv = ctx.factor(f.var, p.dependency, idx, old).astype(np.int64)
                fv = np.sign(fv + f.const) if f.sgn else fv + f.const
                mac *= np.clip(fv, -(2**width), 2**width - 1)
            mac *= p.mantissa
            mac >>= fx.product_shift(p.variables)
            mac <<= p.exponent + 7
            contrib = np.zeros(sel.size, dtype=np.int64)
            contrib[act] = np.clip(mac, ACC_MIN, ACC_MAX)
            res = np.clip(res + contrib, ACC_MIN, ACC_MAX)
        res = self._keep_sign(var, res)
        scale = 2 ** fx.ACC_SHIFT
        ip = res / scale
        frac = ip % 1
        ip = _stochastic_round(np.floor(ip), self._cr.value, frac)
        res = (ip * scale).astype(np.int64) >> fx.ACC_SHIFT
        lo, hi = clip_range(self.sign_mode) if var == "w" else VAR_RANGE_FIXED[var]
        res = np.clip(res, lo, hi)
        return sel, self._bounds(var, res)


class _Index:
    """Synapse ids grouped by one endpoint (a CSR over synapse ids), for event-driven updates."""

    def __init__(self, key: np.ndarray, n: int):
        self.order = np.argsort(key, kind="stable")
        self.ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(key, minlength=n), out=self.ptr[1:])

    def rows(self, neurons: np.ndarray) -> np.ndarray:
        """Ids of the synapses of these neurons."""
        if neurons.size == 0:
            return np.zeros(0, dtype=np.int64)
        starts, ends = self.ptr[neurons], self.ptr[neurons + 1]
        lens = ends - starts
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        offs = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
        return self.order[offs + np.arange(total)]


class _Context:
    """Per-epoch view of dependencies and trace histories, indexed per synapse."""

    def __init__(self, lr: Learner, xh: np.ndarray, yh: np.ndarray, u: int):
        self.lr, self.xh, self.yh, self.u = lr, xh, yh, u
        self.x0 = lr.tx > 0
        self.y0 = lr.ty > 0

    def _dep_mask(self, dep: str, sel: np.ndarray) -> np.ndarray:
        if dep == "x0":
            return self.x0[self.lr.pre[sel]]
        if dep == "y0":
            return self.y0[self.lr.post[sel]]
        return np.full(sel.size, bool(self.u))

    def touched(self, prods: tuple[Product, ...]) -> np.ndarray:
        """Synapses whose rule has at least one active dependency this epoch (sorted ids)."""
        lr = self.lr
        deps = {p.dependency for p in prods}
        if "u" in deps and self.u:
            return np.arange(lr.pre.shape[0])
        parts = []
        if "x0" in deps:
            parts.append(lr.by_pre.rows(np.flatnonzero(self.x0)))
        if "y0" in deps:
            parts.append(lr.by_post.rows(np.flatnonzero(self.y0)))
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(parts)) if len(parts) > 1 else np.sort(parts[0])

    def active(self, p: Product, sel: np.ndarray) -> np.ndarray:
        return self._dep_mask(p.dependency, sel)

    def factor(self, var: str, dep: str, idx: np.ndarray, old: dict[str, Any]) -> np.ndarray:
        lr = self.lr
        pre, post = lr.pre[idx], lr.post[idx]
        if var in ("w", "t", "d"):
            return np.asarray(old[var][idx])
        if var == "x0":
            return self.x0[pre].astype(int)
        if var == "y0":
            return self.y0[post].astype(int)
        if dep == "x0":
            at = lr.tx[pre]
        elif dep == "y0":
            at = lr.ty[post]
        else:
            at = -1
        if var in X_SLOTS:
            return self.xh[at, X_SLOTS.index(var), pre]
        return self.yh[at, Y_SLOTS.index(var), post]


def make_learner(projection: Projection, synapses: SynapsesLike, network: NetworkIR, *,
                 seed: int | None = None, learner_class: type[Learner] | None = None) -> Learner:
    """The learner for a plastic projection; `synapses.weight` must hold the effective weights.
    `learner_class`: a Learner subclass to build (default Learner).

    `seed` overrides the network seed used to derive the engine's rng seed (when the rule
    gives no rng_seed); the Lava lowering derives it the same way, so both backends agree.
    """
    if seed is not None and seed != network.seed:
        import dataclasses

        network = dataclasses.replace(network, seed=seed)
    spec = lower_projection(network, projection.name)
    n_pre = network.populations[projection.pre].size
    n_post = network.populations[projection.post].size
    mod_size = network.populations[spec.modulator].size if spec.modulator else None
    cls = Learner if learner_class is None else learner_class
    return cls(spec, synapses, n_pre, n_post, sign_mode(projection.weight), mod_size)
