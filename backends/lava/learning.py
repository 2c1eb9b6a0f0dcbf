"""Lowering of `LearningRuleSpec` to Lava 0.10 learning rules and plastic connections.

`make_learning_rule(spec)` builds a `Loihi2FLearningRule` from the spec's dw/dt/dd strings
and trace parameters (rng_seed included, so fixed_pt runs are reproducible and equal to
snnc's CPU engine). `learning_dense_kwargs(spec, weights)` gives the keyword arguments for
`LearningDense` / `LearningSparse`, and `proc_model_map(precision)` the process models to
pass as `exception_proc_model_map` to the run config: Lava's own models plus w_min / w_max
clipping (which Lava's engine lacks) and two fixes for LearningSparse: an excitatory or
inhibitory sign mode (Lava 0.10 calls np.maximum on a csr_matrix there, raises, and hangs),
and products with a w / t / d factor (Lava's appliers fail on csr factors; the update is
computed on dense copies, as LearningDense does, and kept at the existing synapses only).

What Lava 0.10 can run (each checked under a watchdog in tests/test_learning_lava.py):
* stdp (additive, multiplicative), hebbian, oja, loihi strings: float and fixed.
* A product with a second spike indicator (x0*y0 ...) in floating_pt: Lava's float
  applier raises inside the process and the run hangs -> `unsupported` reports it.
* reward_stdp and any rule with a modulator: `ModulatedLearningDense/Sparse`
  (procs/modulated.py) take the modulator population's spikes on a port `s_in_mod` and
  drive the y2 trace from them (Lava's Loihi3FLearningRule cannot: see that module).
Use `LearningSparse` for connectivity that is not all-to-all: `LearningDense` learns on
absent (zero) synapses too, snnc's CPU engine does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.errors import BackendError
from compiler.lava_weights import clip_range, sign_mode
from compiler.plasticity import LearningRuleSpec

BOUNDS_PARAM = "snnc_w_bounds"


def unsupported(spec: LearningRuleSpec) -> list[str]:
    """Reasons Lava 0.10 cannot run this rule as snnc defines it (empty list: it can)."""
    out = []
    if spec.precision == "float":
        for target, prods in spec.products.items():
            for p in prods:
                if any(f.var in ("x0", "y0") for f in p.factors):
                    out.append(f"{target}: product '{p.text()}' multiplies two spike indicators; Lava "
                               f"0.10's floating_pt learning engine fails on it (the run hangs); use "
                               f"precision fixed")
    return out


def make_learning_rule(spec: LearningRuleSpec):
    """A Lava `Loihi2FLearningRule` equivalent to `spec`; BackendError if Lava cannot run it."""
    why = unsupported(spec)
    if why:
        raise BackendError("; ".join(why))
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule

    kw: dict[str, Any] = {t: s for t, s in spec.strings().items()}
    for slot, tr in spec.traces.items():
        kw[f"{slot}_tau"] = tr.tau
        kw[f"{slot}_impulse"] = tr.impulse
    return Loihi2FLearningRule(t_epoch=spec.t_epoch, rng_seed=spec.rng_seed, **kw)


def learning_dense_kwargs(spec: LearningRuleSpec, weights: np.ndarray | None = None,
                          mode: str | None = None) -> dict[str, Any]:
    """Keyword arguments for LearningDense/LearningSparse(weights=..., **kwargs).

    `mode` is the projection-wide sign mode (default: determined from `weights`, as Lava's
    Dense would). The sign mode is passed explicitly (Lava's learning models default to MIXED, unlike
    Dense, which would halve the weight resolution); w_min / w_max travel in proc_params
    for the models of `proc_model_map`. Weights should already be clipped to 8 bits
    (fixed), as Dense would do: the learning models only truncate them.
    """
    from .lowering import lava_sign_mode

    mode = sign_mode(weights) if mode is None else mode
    kw: dict[str, Any] = {"learning_rule": make_learning_rule(spec),
                          "sign_mode": lava_sign_mode(mode)}
    if spec.w_min is not None or spec.w_max is not None:
        kw[BOUNDS_PARAM] = (spec.w_min, spec.w_max)
    return kw


def _clip_bounds(model, values):
    bounds = model.proc_params.get(BOUNDS_PARAM, None) if hasattr(model, "proc_params") else None
    if not bounds:
        return values
    lo, hi = bounds
    out = np.clip(values, -np.inf if lo is None else lo, np.inf if hi is None else hi)
    return out.astype(np.asarray(values).dtype, copy=False)


def _is_sparse(values) -> bool:
    from scipy.sparse import issparse

    return issparse(values)


def _on_pattern(pattern, dense):
    """`dense`'s entries at the stored entries (explicit zeros included) of csr `pattern`."""
    from scipy.sparse import csr_matrix

    if not _is_sparse(pattern):
        return dense
    coo = pattern.tocoo()  # keeps explicitly stored zeros
    vals = np.asarray(dense)[coo.row, coo.col]
    return csr_matrix((vals, (coo.row, coo.col)), shape=pattern.shape)


def _sign_saturate_sparse(model, values):
    from lava.utils.weightutils import SignMode

    if model.sign_mode == SignMode.EXCITATORY:
        values.data = np.maximum(0, values.data)
    elif model.sign_mode == SignMode.INHIBITORY:
        values.data = np.minimum(0, values.data)
    return values


def _learn_on_dense_copies(model: Any, apply: Any, fixed_model: bool, x_hist: Any,
                           y_hist: Any) -> None:
    """Lava's appliers fail on csr synaptic variables used as factors (w, t, d: the float
    one evaluates to None, the fixed one calls np.clip on them): run `apply` (the model's
    own `_apply_learning_rules`) on dense copies, as LearningDense does, and keep the
    result at the existing synapses only (one value per synapse, as the cpu engine)."""
    saved = {n: getattr(model, n) for n in ("weights", "tag_1", "tag_2")}
    try:
        for n, v in saved.items():
            v = v.toarray() if _is_sparse(v) else np.asarray(v)
            setattr(model, n, v.astype(np.int64) if fixed_model else v)
        apply(x_hist, y_hist)
        new = {n: getattr(model, n) for n in model._learning_rule_appliers}
    finally:
        for n, v in saved.items():
            setattr(model, n, v)
    for n, dense in new.items():
        setattr(model, n, _on_pattern(saved["weights"], dense))


def _bounded_weights(model: Any, values: Any) -> Any:
    """w_min / w_max (proc param BOUNDS_PARAM) applied to a dense or csr weight matrix."""
    if _is_sparse(values):
        values.data = _clip_bounds(model, values.data)
        return values
    return _clip_bounds(model, values)


def bounded(base: type) -> type:
    """Learning model `base` plus w_min / w_max clipping and the LearningSparse fixes (see
    the module docstring)."""
    from lava.magma.core.model.py.connection import LearningConnectionModelBitApproximate

    fixed_model = issubclass(base, LearningConnectionModelBitApproximate)

    class Bounded(base):
        def _apply_learning_rules(self, x_hist, y_hist):
            if not _is_sparse(self.weights):
                return super()._apply_learning_rules(x_hist, y_hist)
            _learn_on_dense_copies(self, super()._apply_learning_rules, fixed_model,
                                   x_hist, y_hist)
            return None

        def _saturate_synaptic_variable_accumulator(self, name, values):
            if name == "weights" and _is_sparse(values):
                return _sign_saturate_sparse(self, values)  # Lava's np.maximum fails on csr
            return super()._saturate_synaptic_variable_accumulator(name, values)

        def _saturate_synaptic_variable(self, name, values):
            if name == "weights" and _is_sparse(values) and not fixed_model:
                values = _sign_saturate_sparse(self, values)
            else:
                values = super()._saturate_synaptic_variable(name, values)
            return _bounded_weights(self, values) if name == "weights" else values

    Bounded.__name__ = f"Bounded{base.__name__}"
    return Bounded


def proc_model_map(precision: str) -> dict:
    """{LearningDense: model, LearningSparse: model} adding w_min/w_max clipping to Lava's models."""
    from lava.proc.dense.models import PyLearningDenseModelBitApproximate, PyLearningDenseModelFloat
    from lava.proc.dense.process import LearningDense
    from lava.proc.sparse.models import (
        PyLearningSparseModelBitApproximate,
        PyLearningSparseModelFloat,
    )
    from lava.proc.sparse.process import LearningSparse

    from .procs.modulated import ModulatedLearningDense, ModulatedLearningSparse

    if precision == "fixed":
        dense, sparse = PyLearningDenseModelBitApproximate, PyLearningSparseModelBitApproximate
    else:
        dense, sparse = PyLearningDenseModelFloat, PyLearningSparseModelFloat
    return {LearningDense: bounded(dense), LearningSparse: bounded(sparse),
            ModulatedLearningDense: modulated(bounded(dense)),
            ModulatedLearningSparse: modulated(bounded(sparse))}


class _ModulatedY2:
    """Mixin for a learning model: y2 impulses at the spike times of `s_in_mod` (the
    modulator's entry per post neuron, proc param MOD_INDEX) instead of the post's.
    `_snnc_fixed` is set by `modulated`."""

    _snnc_fixed = True

    def __init__(self, proc_params: Any):
        from .procs.modulated import MOD_INDEX

        super().__init__(proc_params)
        self._snnc_mod_index = np.asarray(proc_params[MOD_INDEX], dtype=np.int64)
        self._snnc_tm = np.zeros(self._snnc_mod_index.size, dtype=np.int64)
        self._snnc_mod = np.zeros(self._snnc_mod_index.size, dtype=bool)

    def recv_traces(self, s_in: Any) -> None:
        m = np.asarray(self.s_in_mod.recv())
        self._snnc_mod = m[self._snnc_mod_index].astype(bool)
        super().recv_traces(s_in)

    def _add_y_impulses(self, y: np.ndarray, spikes: np.ndarray, times: np.ndarray,
                        rows: list[int]) -> None:
        """Impulses on y trace `rows` of the neurons spiking now that spiked before."""
        multi = (times > 0) & spikes
        if not multi.any():
            return
        r = np.asarray(rows)[:, None]
        if self._snnc_fixed:
            y[r, multi] = self._add_impulse(
                y[r, multi], self._y_random.random_impulse_addition,
                self._y_impulses_int[rows][:, None], self._y_impulses_frac[rows][:, None])
        else:
            y[r, multi] = y[r, multi] + self._y_impulses[rows][:, None]

    def _process_post_spikes(self, s_in_bap: np.ndarray) -> None:
        self.y0[s_in_bap] = True
        y = self._y_traces
        self._add_y_impulses(y, s_in_bap, self.ty, [0, 2])
        self._add_y_impulses(y, self._snnc_mod, self._snnc_tm, [1])
        self._set_y_traces(y)
        ts = self._within_epoch_time_step()
        self.ty[s_in_bap] = ts
        self._snnc_tm[self._snnc_mod] = ts

    def _compute_trace_histories(self):
        # Lava adds every y impulse at the post spike times; y2's come from tm instead.
        # The trace randoms do not advance here, so both evaluations see the same numbers.
        xh, yh = super()._compute_trace_histories()
        ty = self.ty
        try:
            self.ty = self._snnc_tm.astype(ty.dtype)
            _, yh_mod = super()._compute_trace_histories()
        finally:
            self.ty = ty
        yh[:, 1] = yh_mod[:, 1]
        return xh, yh

    def _reset_dependencies_and_spike_times(self) -> None:
        super()._reset_dependencies_and_spike_times()
        self._snnc_tm[:] = 0


def modulated(base: type) -> type:
    """`base` (a learning model) whose y2 trace is driven by the spikes on `s_in_mod`, as in
    backends/cpu/learning.py: impulses at the modulator's spike times, not the post's.

    Made schedule-aware (backends/lava/gating.py `gated_model`) so that phases can freeze
    it; the modulator port is drained on every step, frozen or not.
    """
    from lava.magma.core.model.py.connection import LearningConnectionModelBitApproximate
    from lava.magma.core.model.py.ports import PyInPort
    from lava.magma.core.model.py.type import LavaPyType

    from .gating import gated_model

    fixed = issubclass(base, LearningConnectionModelBitApproximate)
    port_type = (LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24) if fixed
                 else LavaPyType(PyInPort.VEC_DENSE, float))
    return type(f"Modulated{base.__name__}", (_ModulatedY2, gated_model(base)),
                {"s_in_mod": port_type, "_snnc_fixed": fixed, "__module__": __name__})


@dataclass(frozen=True)
class LearningFactory:
    """Picklable `learning_rule_factory` for `backends.lava.run`: one plastic synapse process.

    `seed` is the network seed (it derives the engine's rng seed as the CPU backend does).
    Gives LearningDense for a full dense block, else LearningSparse (LearningDense would
    also learn on absent synapses). Weights are clipped to 8 bits first, as Dense does.
    The caller must connect the post neurons' s_out to the process's `s_in_bap`, and run
    with `proc_model_map=proc_model_map`.
    """

    seed: int = 0

    def __call__(self, block: Any, proj: Any, precision: str,
                 modulator: tuple[int, np.ndarray] | None = None) -> Any:
        """`modulator`: (size of the modulator's Lava process, index of its entry for each
        post neuron of the block), required for a rule with a modulator."""
        from lava.proc.dense.process import LearningDense
        from lava.proc.sparse.process import LearningSparse

        from compiler.plasticity import lower_rule

        from .procs.modulated import ModulatedLearningDense, ModulatedLearningSparse

        spec = lower_rule(proj.plasticity, precision, seed=self.seed, name=proj.name)
        if np.any(np.asarray(block.delay) != 0):
            raise BackendError(f"projection '{proj.name}': Lava 0.10 has no learning synapse with "
                               f"delays (LearningDense/LearningSparse); use delay 0 or the CPU backend")
        fixed = precision == "fixed"
        w = np.asarray(block.weight).astype(np.int64 if fixed else np.float64)
        if fixed:
            w = np.clip(w, *clip_range(block.sign_mode))
        kw = learning_dense_kwargs(spec, mode=block.sign_mode)
        kw["name"] = block.name
        if fixed:
            kw.update(weight_exp=int(block.weight_exp), num_weight_bits=int(block.num_weight_bits))
        full = np.asarray(block.rows).size == block.shape[0] * block.shape[1]
        dense = block.kind == "dense" and full
        if spec.modulator is not None:
            if modulator is None:
                raise BackendError(f"projection '{proj.name}': rule '{spec.rule}' needs the spikes "
                                   f"of modulator '{spec.modulator}' wired to its synapses")
            n_mod, index = modulator
            kw.update(n_mod=int(n_mod), mod_index=np.asarray(index, dtype=np.int64))
            if dense:
                return ModulatedLearningDense(weights=block.dense(w), **kw)
            return ModulatedLearningSparse(weights=block.csr(w), **kw)
        if dense:
            return LearningDense(weights=block.dense(w), **kw)
        return LearningSparse(weights=block.csr(w), **kw)
