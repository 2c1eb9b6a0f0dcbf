"""Lowering of `plasticity:` blocks to the learning-engine form.

Every rule becomes a `LearningRuleSpec`: up to three sums of products (dw, dt, dd; see
`grammar`) plus the trace configuration. Conventions shared by all rules:

* Traces (Lava's learning engine, per step): `trace <- trace * exp(-1 / tau)`, then
  `trace += impulse` on a spike of its source (x1, x2: pre; y1, y2, y3: post; a declared
  modulator replaces y2's source). Fixed precision: traces are 7-bit integers 0..127, the
  decay and the impulse's 8 fractional bits are stochastically rounded (seeded).
  `tau` is in steps (> 0), `impulse` in trace units (fixed: 0..127).
* Updates happen once per epoch of `t_epoch` steps (1..63): x0 / y0 say the pre / post
  neuron spiked in the epoch, traces in x0 / y0 products are read at that spike's step,
  in u<k> products at the epoch's end.
* Weights are in the projection's units (fixed: Lava Dense integers; float: floats).
  `w_min` / `w_max` (optional) clip the weight after every update, on top of the
  hardware's own range (fixed: 8 bits + sign by sign mode).

Each rule's own equations are in the docstring of its lowering function (`named`,
`loihi`); `registry.RULES` lists the rules and the parameters each takes.

Fixed precision: Lava's engine shifts a product right by (sum of factor widths + 4 - 15)
bits (`fixed.product_shift`); for the named rules the compiler adds that shift to the
exponent so that fixed and float learn at the same rate. `loihi` strings run as written.
"""

from __future__ import annotations

import numpy as np

from ..errors import brief, suggest
from ..ir import Plasticity, stream_seed
from . import fixed
from .context import Context
from .registry import COMMON_KEYS, RULES, RuleSpec
from .spec import MODULATOR_SLOT, TRACE_SLOTS, Issue, LearningRuleSpec, RuleError, TraceSpec

__all__ = ["COMMON_KEYS", "MODULATOR_SLOT", "RULES", "TRACE_SLOTS", "Issue", "LearningRuleSpec",
           "RuleError", "RuleSpec", "TraceSpec", "derive_rng_seed", "lower"]


def derive_rng_seed(seed: int, name: str) -> int:
    """The learning engine's rng seed for a projection, drawn from the network seed."""
    rng = np.random.default_rng(stream_seed(seed, "plasticity", name))
    return int(rng.integers(1, 2**31 - 8))


def lower(plasticity: Plasticity, precision: str, *, seed: int = 0, name: str = "",
          nonlocal_names: dict[str, str] | None = None) -> LearningRuleSpec:
    """A plasticity block in learning-engine form; raises RuleError listing every issue."""
    rule = RULES.get(plasticity.rule)
    if rule is None:
        raise RuleError([Issue("rule", f"unknown rule {brief(plasticity.rule)}", ", ".join(RULES))])
    params = dict(plasticity.params)
    params.pop("rule", None)
    ctx = Context(params, precision, nonlocal_names)
    _check_keys(ctx, rule)
    ctx.modulator = _check_modulator(ctx, rule, plasticity.modulator_name)
    t_epoch = ctx.num("t_epoch", 1, lo=1, hi=fixed.MAX_T_EPOCH, integer=True)
    rng_seed = ctx.num("rng_seed", None, lo=0, hi=2**31 - 8, integer=True)
    if rng_seed is None:
        rng_seed = derive_rng_seed(seed, name)
    ctx.w_min, ctx.w_max = _weight_bounds(ctx)
    rule.lower(ctx)
    spec = LearningRuleSpec(rule.name, precision, ctx.products, ctx.traces, t_epoch, rng_seed,
                            ctx.w_min, ctx.w_max, ctx.modulator,
                            {k: v for k, v in params.items() if k != "modulator"})
    _check_decays(ctx, spec)
    if ctx.issues:
        raise RuleError(ctx.issues)
    return spec


def _check_keys(ctx: Context, rule: RuleSpec) -> None:
    """An issue for every parameter that `rule` does not take."""
    allowed = rule.keys + COMMON_KEYS
    for key in ctx.p:
        if key not in allowed:
            ctx.issues.append(Issue(key, f"unknown parameter for rule '{rule.name}'"
                                    f"{suggest(key, allowed)}", ", ".join(allowed)))


def _check_modulator(ctx: Context, rule: RuleSpec, modulator: object) -> str | None:
    """The block's modulator population name if `rule` takes one and it is valid, else None."""
    if modulator is not None and rule.modulator == "none":
        takers = " or ".join(r.name for r in RULES.values() if r.modulator != "none")
        ctx.issues.append(Issue("modulator", f"rule '{rule.name}' takes no modulator",
                                f"modulator only with rule {takers}"))
        modulator = None
    if rule.modulator == "required" and modulator is None:
        ctx.issues.append(Issue("modulator", "is required: the population whose spikes modulate "
                                "learning", "a population name"))
    if modulator is not None and not isinstance(modulator, str):
        ctx.issues.append(Issue("modulator", f"{brief(modulator)} is not a population name",
                                "a population name"))
        modulator = None
    return modulator


def _weight_bounds(ctx: Context) -> tuple[float | None, float | None]:
    """w_min, w_max (optional; integers in fixed precision, w_min <= w_max)."""
    w_min = ctx.num("w_min")
    w_max = ctx.num("w_max")
    for key, v in (("w_min", w_min), ("w_max", w_max)):
        if ctx.fixed and v is not None and v != int(v):
            ctx.issues.append(Issue(key, f"{v:g} is not an integer (fixed-precision weights are "
                                    "integers)", "an integer"))
    if w_min is not None and w_max is not None and w_min > w_max:
        ctx.issues.append(Issue("w_max", f"w_max {w_max:g} is below w_min {w_min:g}",
                                "w_max >= w_min"))
    return w_min, w_max


def _check_decays(ctx: Context, spec: LearningRuleSpec) -> None:
    """Every trace the rule's products read needs a decay time constant."""
    for s in spec.used_traces:
        if spec.traces[s].tau <= 0:
            key = "modulator_tau" if spec.traces[s].source == "modulator" else f"{s}_tau"
            ctx.issues.append(Issue(key, f"trace {s} is used by the rule but has no decay time "
                                    "constant", "tau > 0 (steps)"))
