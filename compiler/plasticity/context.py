"""Parameter parsing and product building shared by every rule's lowering function.

`Params` reads typed values out of a plasticity block and records every problem as an
`Issue` instead of stopping at the first; `Context` is one lowering in progress: the block's
parameters, the precision, the common settings and the traces and products built so far.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import brief
from . import fixed
from .grammar import Factor, Product
from .spec import DEFAULT_IMPULSE, TRACE_SLOTS, Issue, TraceSpec


def _range(lo: float | None, hi: float | None, integer: bool, lo_open: bool) -> str:
    kind = "integer" if integer else "number"
    if lo is not None and hi is not None:
        return f"{kind} in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f"{kind} {'>' if lo_open else '>='} {lo:g}"
    return kind


class Params:
    """Typed access to a params dict that records every issue instead of stopping."""

    def __init__(self, params: dict[str, Any]):
        self.p = dict(params)
        self.issues: list[Issue] = []

    def num(self, key: str, default: Any = None, *, lo: float | None = None,
            hi: float | None = None, integer: bool = False, lo_open: bool = False,
            required: bool = False) -> Any:
        """`params[key]` as a number within [lo, hi] (or (lo, hi]), else `default` and an issue."""
        allowed = _range(lo, hi, integer, lo_open)
        if key not in self.p or self.p[key] is None:
            if required:
                self.issues.append(Issue(key, "is required", allowed))
            return default
        v = self.p[key]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)):
            self.issues.append(Issue(key, f"{brief(v)} is not a number", allowed))
            return default
        if integer and float(v) != int(v):
            self.issues.append(Issue(key, f"{brief(v)} is not an integer", allowed))
            return default
        v = int(v) if integer else float(v)
        bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
        if bad_lo or (hi is not None and v > hi):
            self.issues.append(Issue(key, f"{v:g} is out of range", allowed))
            return default
        return v

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """`params[key]` if it is one of `choices`, else `default` and an issue."""
        v = self.p.get(key, default)
        if v not in choices:
            self.issues.append(Issue(key, f"{brief(v)} is not a valid choice", ", ".join(choices)))
            return default
        return v

    def scale(self, key: str, value: float, shift: int, what: str) -> tuple[int, int] | None:
        """m, e for a product scale `value`, exponent pre-compensated by `shift` (fixed precision)."""
        lo, hi = fixed.EXP_MIN - shift, fixed.EXP_MAX - shift
        me = fixed.to_mant_exp(value, lo, hi)
        if me is None:
            m, e = fixed.nearest(abs(value), lo, hi)
            extra = (f" (fixed precision: the engine's 15-bit accumulator scales this product by "
                     f"2^-{shift}, so e must lie in [{lo}, {hi}])" if shift else "")
            self.issues.append(Issue(key, f"{what} = {abs(value):g} is not representable as m*2^e "
                                     f"with m in [-8, 7], e in [-7, 8]{extra}; nearest: "
                                     f"{fixed.fmt_scale(m, e)}", "m * 2^e", fit=True))
            return None
        return me


class Context(Params):
    """One rule lowering in progress; a rule's lowering function fills `traces` and `products`.

    Set before the rule runs: `precision`, `modulator` (a checked population name or None),
    `w_min` / `w_max` (validated bounds or None) and `nonlocal_names` (for rule strings).
    """

    def __init__(self, params: dict[str, Any], precision: str,
                 nonlocal_names: dict[str, str] | None = None):
        super().__init__(params)
        self.precision = precision
        self.fixed = precision == "fixed"
        self.imp_hi: int | None = fixed.MAX_IMPULSE if self.fixed else None  # impulse bound
        self.nonlocal_names = nonlocal_names
        self.modulator: str | None = None
        self.w_min: float | None = None
        self.w_max: float | None = None
        self.traces = {s: TraceSpec(0.0, 0.0, "pre" if s.startswith("x") else "post")
                       for s in TRACE_SLOTS}
        self.products: dict[str, tuple[Product, ...]] = {}

    def shift(self, variables: tuple[str, ...]) -> int:
        """Bits the engine shifts a product of `variables` right by (0 in float precision)."""
        return fixed.product_shift(variables) if self.fixed else 0

    def trace(self, slot: str, tau_key: str, impulse_key: str, source: str) -> None:
        """Trace `slot` from parameters `tau_key` (> 0, default 10) and `impulse_key`."""
        self.traces[slot] = TraceSpec(self.num(tau_key, 10.0, lo=0, lo_open=True),
                                      self.num(impulse_key, DEFAULT_IMPULSE, lo=0, hi=self.imp_hi),
                                      source)

    def product(self, key: str, dep: str, value: float, factors: tuple[str | Factor, ...],
                what: str) -> Product | None:
        """`value * dep * factors` with the scale written as m * 2^e (None and an issue if it
        cannot be); in fixed precision the exponent absorbs the engine's product shift, so that
        fixed and float learn at the same rate. `key` / `what` name the scale in messages."""
        fs = tuple(f if isinstance(f, Factor) else Factor(f) for f in factors)
        shift = self.shift(tuple(f.var for f in fs))
        me = self.scale(key, value, shift, what)
        if me is None:
            return None
        m, e = fixed.normalize(me[0], me[1] + shift)
        return Product(dep, m, e, fs, 0 if dep == "u" else None)
