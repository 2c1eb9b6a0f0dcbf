"""Lowering of `plasticity:` blocks (SPEC.md section 4) to the learning-engine form.

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

Named rules (a_* and learning_rate are magnitudes; their products must be exactly m * 2^e
with m in [-8, 7], e in [-7, 8]):

* stdp:  additive `dw = lr*a_plus*y0*x1 - lr*a_minus*x0*y1` (pre-before-post potentiates);
  multiplicative `dw = lr*a_plus*y0*x1*(w_max - w) - lr*a_minus*x0*y1*(w - w_min)`.
  x1: tau_plus, y1: tau_minus, impulses x1_impulse / y1_impulse (default 16, as STDPLoihi).
  Lava's STDPLoihi puts A_minus into dw as written (lava issue #484); here it is negated.
* hebbian: `dw = lr * u0 * x1 * y1` (every epoch, product of the end-of-epoch traces).
* oja: `dw = lr * u0 * x1 * y1 - lr * u0 * y1 * y1 * w`.
  hebbian / oja traces: x1 (tau_pre, x1_impulse), y1 (tau_post, y1_impulse).
* reward_stdp: tag `dt = a_plus*y0*x1 - a_minus*x0*y1 - (1/tau_e)*u0*t` (eligibility,
  decaying by t/tau_e per epoch), `dw = lr * u0 * t * (m - baseline)` where m is the trace
  (y2 slot; modulator_tau, modulator_impulse) of the spikes of the `modulator` population
  and `baseline` (default 0, >= 0) the expected reward trace: with a baseline, reward
  below expectation depresses eligible synapses (so a rule can unlearn).
* loihi: `dw` / `dt` / `dd` strings in Lava's grammar, trace parameters x1_tau, x1_impulse,
  ... y3_impulse as in Lava's LoihiLearningRule; a declared modulator is referred to by
  its population name and occupies the y2 slot.

Fixed precision: Lava's engine shifts a product right by (sum of factor widths + 4 - 15)
bits (`fixed.product_shift`); for the named rules the compiler adds that shift to the
exponent so that fixed and float learn at the same rate. `loihi` strings run as written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import Plasticity, stream_seed
from . import fixed
from .grammar import TARGETS, GrammarError, Product, decimation, parse, to_string

RULES = ("stdp", "hebbian", "oja", "reward_stdp", "loihi")
TRACE_SLOTS = ("x1", "x2", "y1", "y2", "y3")
MODULATOR_SLOT = "y2"
COMMON_KEYS = ("t_epoch", "rng_seed", "w_min", "w_max", "modulator")
RULE_KEYS = {
    "stdp": ("a_plus", "a_minus", "tau_plus", "tau_minus", "learning_rate", "mode",
             "x1_impulse", "y1_impulse"),
    "hebbian": ("learning_rate", "tau_pre", "tau_post", "x1_impulse", "y1_impulse"),
    "oja": ("learning_rate", "tau_pre", "tau_post", "x1_impulse", "y1_impulse"),
    "reward_stdp": ("a_plus", "a_minus", "tau_plus", "tau_minus", "learning_rate", "tau_e",
                    "modulator_tau", "modulator_impulse", "x1_impulse", "y1_impulse", "baseline"),
    "loihi": ("dw", "dt", "dd", "modulator_tau", "modulator_impulse")
    + tuple(f"{s}_{k}" for s in TRACE_SLOTS for k in ("tau", "impulse")),
}
DEFAULT_IMPULSE = 16  # STDPLoihi's default trace impulse


@dataclass(frozen=True)
class TraceSpec:
    """A trace slot: decays with `tau` steps, jumps by `impulse` on a spike of `source`."""

    tau: float = 0.0
    impulse: float = 0.0
    source: str = "pre"  # "pre" | "post" | "modulator"


@dataclass
class LearningRuleSpec:
    """A rule in learning-engine form, the same for the CPU engine and the Lava lowering."""

    rule: str
    precision: str
    products: dict[str, tuple[Product, ...]]  # target ("dw", "dt", "dd") -> products
    traces: dict[str, TraceSpec]  # slot -> trace configuration (all five slots)
    t_epoch: int = 1
    rng_seed: int = 1
    w_min: float | None = None
    w_max: float | None = None
    modulator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # resolved parameters

    @property
    def decimate(self) -> int | None:
        return decimation(self.products)

    def strings(self) -> dict[str, str]:
        """Lava rule strings (modulator written as its y2 slot)."""
        return {t: to_string(p) for t, p in self.products.items()}

    @property
    def used_traces(self) -> set[str]:
        return {f.var for ps in self.products.values() for p in ps for f in p.factors
                if f.var in TRACE_SLOTS}

    @property
    def used_vars(self) -> set[str]:
        return {f.var for ps in self.products.values() for p in ps for f in p.factors}


@dataclass
class Issue:
    """One problem with a rule: the parameter it concerns (relative to `plasticity`)."""

    field: str
    message: str
    allowed: str | None = None
    fit: bool = False  # a hardware limit rather than a malformed value


class RuleError(ValueError):
    """All issues found in one plasticity block."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("; ".join(f"{i.field}: {i.message}" for i in issues))


class _Params:
    """Typed access to a params dict that records every issue instead of stopping."""

    def __init__(self, params: dict[str, Any]):
        self.p = dict(params)
        self.issues: list[Issue] = []

    def num(self, key: str, default: Any = None, *, lo: float | None = None,
            hi: float | None = None, integer: bool = False, lo_open: bool = False,
            required: bool = False) -> Any:
        if key not in self.p or self.p[key] is None:
            if required:
                self.issues.append(Issue(key, "is required", _range(lo, hi, integer, lo_open)))
            return default
        v = self.p[key]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)):
            self.issues.append(Issue(key, f"{v!r} is not a number", _range(lo, hi, integer, lo_open)))
            return default
        if integer and float(v) != int(v):
            self.issues.append(Issue(key, f"{v!r} is not an integer", _range(lo, hi, integer, lo_open)))
            return default
        v = int(v) if integer else float(v)
        bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
        if bad_lo or (hi is not None and v > hi):
            self.issues.append(Issue(key, f"{v:g} is out of range", _range(lo, hi, integer, lo_open)))
            return default
        return v

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        v = self.p.get(key, default)
        if v not in choices:
            self.issues.append(Issue(key, f"{v!r} is not a valid choice", ", ".join(choices)))
            return default
        return v

    def scale(self, key: str, value: float, shift: int, what: str) -> tuple[int, int] | None:
        """m, e for a product scale `value`, exponent pre-compensated by `shift` (fixed precision)."""
        me = fixed.to_mant_exp(value, fixed.EXP_MIN - shift, fixed.EXP_MAX - shift)
        if me is None:
            m, e = fixed.nearest(abs(value), fixed.EXP_MIN - shift, fixed.EXP_MAX - shift)
            extra = (f" (fixed precision: the engine's 15-bit accumulator scales this product by "
                     f"2^-{shift}, so e must lie in [{fixed.EXP_MIN - shift}, {fixed.EXP_MAX - shift}])"
                     if shift else "")
            self.issues.append(Issue(key, f"{what} = {abs(value):g} is not representable as m*2^e with m "
                                     f"in [-8, 7], e in [-7, 8]{extra}; nearest: {fixed.fmt_scale(m, e)}",
                                     "m * 2^e", fit=True))
            return None
        return me


def _range(lo, hi, integer, lo_open) -> str:
    kind = "integer" if integer else "number"
    if lo is not None and hi is not None:
        return f"{kind} in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f"{kind} {'>' if lo_open else '>='} {lo:g}"
    return kind


def derive_rng_seed(seed: int, name: str) -> int:
    """The learning engine's rng seed for a projection, drawn from the network seed."""
    rng = np.random.default_rng(stream_seed(seed, "plasticity", name))
    return int(rng.integers(1, 2**31 - 8))


def lower(plasticity: Plasticity, precision: str, *, seed: int = 0, name: str = "",
          nonlocal_names: dict[str, str] | None = None) -> LearningRuleSpec:
    """A plasticity block in learning-engine form; raises RuleError listing every issue."""
    rule = plasticity.rule
    if rule not in RULES:
        raise RuleError([Issue("rule", f"unknown rule {rule!r}", ", ".join(RULES))])
    params = dict(plasticity.params)
    params.pop("rule", None)
    modulator = plasticity.modulator_name
    P = _Params(params)
    allowed = RULE_KEYS[rule] + COMMON_KEYS
    for key in params:
        if key not in allowed:
            from ..errors import suggest

            P.issues.append(Issue(key, f"unknown parameter for rule '{rule}'{suggest(key, allowed)}",
                                  ", ".join(allowed)))
    if modulator is not None and rule not in ("reward_stdp", "loihi"):
        P.issues.append(Issue("modulator", f"rule '{rule}' takes no modulator",
                              "modulator only with rule reward_stdp or loihi"))
        modulator = None
    if rule == "reward_stdp" and modulator is None:
        P.issues.append(Issue("modulator", "is required: the population whose spikes modulate learning",
                              "a population name"))
    if modulator is not None and not isinstance(modulator, str):
        P.issues.append(Issue("modulator", f"{modulator!r} is not a population name", "a population name"))
        modulator = None

    t_epoch = P.num("t_epoch", 1, lo=1, hi=fixed.MAX_T_EPOCH, integer=True)
    rng_seed = P.num("rng_seed", None, lo=0, hi=2**31 - 8, integer=True)
    if rng_seed is None:
        rng_seed = derive_rng_seed(seed, name)
    w_min = P.num("w_min")
    w_max = P.num("w_max")
    for key, v in (("w_min", w_min), ("w_max", w_max)):
        if precision == "fixed" and v is not None and v != int(v):
            P.issues.append(Issue(key, f"{v:g} is not an integer (fixed-precision weights are integers)",
                                  "an integer"))
    if w_min is not None and w_max is not None and w_min > w_max:
        P.issues.append(Issue("w_max", f"w_max {w_max:g} is below w_min {w_min:g}", "w_max >= w_min"))
    imp_hi = fixed.MAX_IMPULSE if precision == "fixed" else None
    fx = precision == "fixed"

    def shift(vars_: tuple[str, ...]) -> int:
        return fixed.product_shift(vars_) if fx else 0

    traces = {s: TraceSpec(0.0, 0.0, "pre" if s.startswith("x") else "post") for s in TRACE_SLOTS}
    products: dict[str, tuple[Product, ...]] = {}
    from .grammar import Factor

    def prod(key: str, dep: str, value: float, vars_: tuple, what: str, factors=None) -> Product | None:
        factors = factors if factors is not None else tuple(Factor(v) for v in vars_)
        me = P.scale(key, value, shift(tuple(f.var for f in factors)), what)
        if me is None:
            return None
        m, e = fixed.normalize(me[0], me[1] + shift(tuple(f.var for f in factors)))
        return Product(dep, m, e, factors, 0 if dep == "u" else None)

    if rule in ("stdp", "reward_stdp"):
        a_plus = P.num("a_plus", 1.0, lo=0, required=True)
        a_minus = P.num("a_minus", 1.0, lo=0, required=True)
        lr = P.num("learning_rate", 1.0, lo=0)
        traces["x1"] = TraceSpec(P.num("tau_plus", 10.0, lo=0, lo_open=True),
                                 P.num("x1_impulse", DEFAULT_IMPULSE, lo=0, hi=imp_hi), "pre")
        traces["y1"] = TraceSpec(P.num("tau_minus", 10.0, lo=0, lo_open=True),
                                 P.num("y1_impulse", DEFAULT_IMPULSE, lo=0, hi=imp_hi), "post")
    if rule == "stdp":
        mode = P.choice("mode", ("additive", "multiplicative"), "additive")
        if mode == "additive":
            terms = [prod("a_plus", "y0", lr * a_plus, ("x1",), "learning_rate * a_plus"),
                     prod("a_minus", "x0", -lr * a_minus, ("y1",), "learning_rate * a_minus")]
        else:
            for key, v in (("w_min", w_min), ("w_max", w_max)):
                if v is None and key == "w_max":
                    P.issues.append(Issue(key, "is required in multiplicative mode", "an integer"))
                elif v is not None and v != int(v):
                    P.issues.append(Issue(key, f"{v:g} must be an integer in multiplicative mode "
                                           f"(the engine's (w + C) constant is an integer)", "an integer"))
            wmax = int(w_max) if w_max is not None and w_max == int(w_max) else 0
            wmin = int(w_min) if w_min is not None and w_min == int(w_min) else 0
            terms = [prod("a_plus", "y0", -lr * a_plus, (), "learning_rate * a_plus",
                          (Factor("x1"), Factor("w", -wmax))),
                     prod("a_minus", "x0", -lr * a_minus, (), "learning_rate * a_minus",
                          (Factor("y1"), Factor("w", -wmin)))]
        products["dw"] = tuple(t for t in terms if t is not None and t.mantissa != 0)
    elif rule in ("hebbian", "oja"):
        lr = P.num("learning_rate", None, lo=0, lo_open=True, required=True) or 1.0
        traces["x1"] = TraceSpec(P.num("tau_pre", 10.0, lo=0, lo_open=True),
                                 P.num("x1_impulse", DEFAULT_IMPULSE, lo=0, hi=imp_hi), "pre")
        traces["y1"] = TraceSpec(P.num("tau_post", 10.0, lo=0, lo_open=True),
                                 P.num("y1_impulse", DEFAULT_IMPULSE, lo=0, hi=imp_hi), "post")
        terms = [prod("learning_rate", "u", lr, ("x1", "y1"), "learning_rate")]
        if rule == "oja":
            terms.append(prod("learning_rate", "u", -lr, ("y1", "y1", "w"), "learning_rate"))
        products["dw"] = tuple(t for t in terms if t is not None)
    elif rule == "reward_stdp":
        tau_e = P.num("tau_e", 16.0, lo=0, lo_open=True)
        traces[MODULATOR_SLOT] = TraceSpec(P.num("modulator_tau", 10.0, lo=0, lo_open=True),
                                           P.num("modulator_impulse", DEFAULT_IMPULSE, lo=0, hi=imp_hi),
                                           "modulator")
        terms = [prod("a_plus", "y0", a_plus, ("x1",), "a_plus"),
                 prod("a_minus", "x0", -a_minus, ("y1",), "a_minus"),
                 prod("tau_e", "u", -1.0 / tau_e, ("t",), "1 / tau_e")]
        products["dt"] = tuple(t for t in terms if t is not None and t.mantissa != 0)
        dw = prod("learning_rate", "u", lr, ("t", MODULATOR_SLOT), "learning_rate")
        baseline = P.num("baseline", 0.0, lo=0)
        base = (prod("baseline", "u", -lr * baseline, ("t",), "learning_rate * baseline")
                if baseline else None)
        products["dw"] = tuple(t for t in (dw, base) if t is not None)
    elif rule == "loihi":
        aliases = {modulator: MODULATOR_SLOT} if modulator else {}
        for s in TRACE_SLOTS:
            tau = P.num(f"{s}_tau", 0.0, lo=0)
            imp = P.num(f"{s}_impulse", 0.0, lo=0, hi=imp_hi)
            traces[s] = TraceSpec(tau, imp, "pre" if s.startswith("x") else "post")
        if modulator:
            for s in ("tau", "impulse"):
                if f"{MODULATOR_SLOT}_{s}" in params:
                    P.issues.append(Issue(f"{MODULATOR_SLOT}_{s}", f"slot {MODULATOR_SLOT} holds the "
                                          f"modulator trace: use modulator_{s}", f"modulator_{s}"))
            traces[MODULATOR_SLOT] = TraceSpec(P.num("modulator_tau", 10.0, lo=0, lo_open=True),
                                               P.num("modulator_impulse", DEFAULT_IMPULSE, lo=0, hi=imp_hi),
                                               "modulator")
        if not any(params.get(t) is not None for t in TARGETS):
            P.issues.append(Issue("dw", "rule 'loihi' needs at least one of dw, dt, dd",
                                  "a Lava sum-of-products string"))
        for t in TARGETS:
            text = params.get(t)
            if text is None:
                continue
            if not isinstance(text, str):
                P.issues.append(Issue(t, f"{text!r} is not a rule string", "a Lava sum-of-products string"))
                continue
            if modulator and MODULATOR_SLOT in _names(text):
                P.issues.append(Issue(t, f"'{MODULATOR_SLOT}' is the slot of modulator '{modulator}': "
                                      f"write '{modulator}' instead", modulator))
                continue
            try:
                products[t] = parse(text, t, aliases, nonlocal_names)
            except GrammarError as e:
                P.issues.append(Issue(t, str(e), "x0 y0 u<k> x1 x2 y1 y2 y3 w d t, integers, m*2^e"
                                      + (f", {modulator}" if modulator else ""), fit=e.kind == "range"))
        for t, ps in products.items():
            for i, p in enumerate(ps, start=1):
                width = fixed.mac_width(p.variables)
                if width > fixed.MAC_BITS:
                    P.issues.append(Issue(t, f"product {i} '{p.text(aliases)}' multiplies {len(p.factors)} "
                                          f"factors needing {width} bits: the engine's multiplier "
                                          f"has {fixed.MAC_BITS} (it would overflow)",
                                          "factor widths (x*, y*: 7, w/d/t: 9, x0/y0: 1) + 4 <= 31",
                                          fit=True))
        try:
            decimation(products)
        except GrammarError as e:
            P.issues.append(Issue("dw", str(e), "one u<k> for all of dw, dt, dd", fit=True))

    spec = LearningRuleSpec(rule, precision, products, traces, t_epoch, rng_seed, w_min, w_max,
                            modulator, {k: v for k, v in params.items() if k != "modulator"})
    for s in spec.used_traces:
        if traces[s].tau <= 0:
            key = "modulator_tau" if traces[s].source == "modulator" else f"{s}_tau"
            P.issues.append(Issue(key, f"trace {s} is used by the rule but has no decay time constant",
                                  "tau > 0 (steps)"))
    if P.issues:
        raise RuleError(P.issues)
    return spec


def _names(text: str) -> set[str]:
    import re

    return set(re.findall(r"[A-Za-z_]\w*", text))
