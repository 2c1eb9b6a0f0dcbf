"""Lowering of `LearningRuleSpec` to Lava 0.10 learning rules and plastic connections.

`make_learning_rule(spec)` builds a `Loihi2FLearningRule` from the spec's dw/dt/dd strings
and trace parameters (rng_seed included, so fixed_pt runs are reproducible and equal to
snnc's CPU engine). `learning_dense_kwargs(spec, weights)` gives the keyword arguments for
`LearningDense` / `LearningSparse`, and `proc_model_map(precision)` the process models to
pass as `exception_proc_model_map` to the run config: Lava's own models plus w_min / w_max
clipping (which Lava's engine lacks) and a fix for LearningSparse with an excitatory or
inhibitory sign mode (Lava 0.10 calls np.maximum on a csr_matrix there, raises, and hangs).

What Lava 0.10 can run (each checked under a watchdog in tests/test_learning_lava.py):
* stdp (additive, multiplicative), hebbian, oja, loihi strings: float and fixed.
* A product with a second spike indicator (x0*y0 ...) in floating_pt: Lava's float
  applier raises inside the process and the run hangs -> `unsupported` reports it.
* reward_stdp and any rule with a modulator: needs Loihi3FLearningRule with y2 supplied
  by the post neuron (LearningLIF's third-factor port); not wired here -> CPU only.
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
    if spec.modulator is not None:
        out.append(f"rule '{spec.rule}' uses modulator '{spec.modulator}' (a third factor): Lava 0.10's "
                   f"LIF/Dense models do not route a modulator trace to the synapses (CPU backend only)")
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


def _sign_saturate_sparse(model, values):
    from lava.utils.weightutils import SignMode

    if model.sign_mode == SignMode.EXCITATORY:
        values.data = np.maximum(0, values.data)
    elif model.sign_mode == SignMode.INHIBITORY:
        values.data = np.minimum(0, values.data)
    return values


def proc_model_map(precision: str) -> dict:
    """{LearningDense: model, LearningSparse: model} adding w_min/w_max clipping to Lava's models."""
    from lava.proc.dense.models import PyLearningDenseModelBitApproximate, PyLearningDenseModelFloat
    from lava.proc.dense.process import LearningDense
    from lava.proc.sparse.models import (
        PyLearningSparseModelBitApproximate,
        PyLearningSparseModelFloat,
    )
    from lava.proc.sparse.process import LearningSparse

    def bounded(base):
        fixed_model = hasattr(base, "_saturate_synaptic_variable_accumulator")

        class Bounded(base):
            def _saturate_synaptic_variable_accumulator(self, name, values):
                if name == "weights" and _is_sparse(values):
                    return _sign_saturate_sparse(self, values)  # Lava's np.maximum fails on csr
                return super()._saturate_synaptic_variable_accumulator(name, values)

            def _saturate_synaptic_variable(self, name, values):
                if name == "weights" and _is_sparse(values) and not fixed_model:
                    values = _sign_saturate_sparse(self, values)
                else:
                    values = super()._saturate_synaptic_variable(name, values)
                if name != "weights":
                    return values
                if _is_sparse(values):
                    values.data = _clip_bounds(self, values.data)
                    return values
                return _clip_bounds(self, values)

        Bounded.__name__ = f"Bounded{base.__name__}"
        return Bounded

    if precision == "fixed":
        return {LearningDense: bounded(PyLearningDenseModelBitApproximate),
                LearningSparse: bounded(PyLearningSparseModelBitApproximate)}
    return {LearningDense: bounded(PyLearningDenseModelFloat),
            LearningSparse: bounded(PyLearningSparseModelFloat)}


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

    def __call__(self, block: Any, proj: Any, precision: str) -> Any:
        from lava.proc.dense.process import LearningDense
        from lava.proc.sparse.process import LearningSparse

        from compiler.plasticity import lower_rule

        spec = lower_rule(proj.plasticity, precision, seed=self.seed, name=proj.name)
        if np.any(np.asarray(block.delay) != 0):
            raise BackendError(f"projection '{proj.name}': Lava 0.10 has no learning synapse with "
                               f"delays (LearningDense/LearningSparse); use delay 0 or the CPU backend")
        fixed = precision == "fixed"
        w = np.asarray(block.weight).astype(np.int64 if fixed else np.float64)
        if fixed:
            w = np.clip(w, *clip_range(block.sign_mode))
        kw = learning_dense_kwargs(spec, mode=block.sign_mode)
        kw["name"] = block.key
        if fixed:
            kw.update(weight_exp=int(block.weight_exp), num_weight_bits=int(block.num_weight_bits))
        full = np.asarray(block.rows).size == block.shape[0] * block.shape[1]
        if block.kind == "dense" and full:
            return LearningDense(weights=block.dense(w), **kw)
        return LearningSparse(weights=block.csr(w), **kw)
