"""Lowering of `LearningRuleSpec` to Lava 0.10 learning rules and plastic connections.

`make_learning_rule(spec)` builds a `Loihi2FLearningRule` from the spec's dw/dt/dd strings
and trace parameters (rng_seed included, so fixed_pt runs are reproducible and equal to
snnc's CPU engine). `learning_dense_kwargs(spec, weights)` gives the keyword arguments for
`LearningDense` / `LearningSparse`, and `proc_model_map(precision)` the process models to
pass as `exception_proc_model_map` to the run config (they add w_min / w_max clipping,
which Lava's engine lacks; without bounds they behave exactly like Lava's own models).

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

from typing import Any

import numpy as np

from compiler.errors import BackendError
from compiler.plasticity import LearningRuleSpec
from compiler.plasticity import fixed as fx

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


def sign_mode(weights: np.ndarray):
    """Lava's SignMode for a weight matrix, chosen as Lava's Dense would (automatic)."""
    from lava.utils.weightutils import SignMode

    return {"excitatory": SignMode.EXCITATORY, "inhibitory": SignMode.INHIBITORY,
            "mixed": SignMode.MIXED}[fx.sign_mode(weights)]


def learning_dense_kwargs(spec: LearningRuleSpec, weights: np.ndarray) -> dict[str, Any]:
    """Keyword arguments for LearningDense/LearningSparse(weights=..., **kwargs).

    The sign mode is passed explicitly (Lava's learning models default to MIXED, unlike
    Dense, which would halve the weight resolution); w_min / w_max travel in proc_params
    for the models of `proc_model_map`. Weights should already be clipped to 8 bits
    (fixed), as Dense would do: the learning models only truncate them.
    """
    kw: dict[str, Any] = {"learning_rule": make_learning_rule(spec), "sign_mode": sign_mode(weights)}
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
        class Bounded(base):
            def _saturate_synaptic_variable(self, name, values):
                values = super()._saturate_synaptic_variable(name, values)
                if name != "weights":
                    return values
                if hasattr(values, "data") and not isinstance(values, np.ndarray):
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
