"""Lowering function of rule `loihi`: dw / dt / dd strings in Lava's grammar, run as written.

Trace parameters x1_tau, x1_impulse, ... y3_impulse are those of Lava's LoihiLearningRule;
a declared modulator is referred to by its population name and occupies the y2 slot
(modulator_tau, modulator_impulse).
"""

from __future__ import annotations

import re

from ..errors import brief
from . import fixed
from .context import Context
from .grammar import TARGETS, GrammarError, decimation, parse
from .spec import MODULATOR_SLOT, TRACE_SLOTS, Issue, TraceSpec

_RULE_STRING = "a Lava sum-of-products string"


def loihi(ctx: Context) -> None:
    """Traces from `<slot>_tau` / `<slot>_impulse`, products parsed from dw, dt, dd."""
    _traces(ctx)
    aliases = {ctx.modulator: MODULATOR_SLOT} if ctx.modulator else {}
    if not any(ctx.p.get(t) is not None for t in TARGETS):
        ctx.issues.append(Issue("dw", "rule 'loihi' needs at least one of dw, dt, dd", _RULE_STRING))
    for t in TARGETS:
        _parse_target(ctx, t, aliases)
    _check_widths(ctx, aliases)
    try:
        decimation(ctx.products)
    except GrammarError as e:
        ctx.issues.append(Issue("dw", str(e), "one u<k> for all of dw, dt, dd", fit=True))


def _traces(ctx: Context) -> None:
    """Every slot from `<slot>_tau` (default 0: unused) and `<slot>_impulse`; the modulator's
    trace replaces y2, whose own parameters are then rejected."""
    for s in TRACE_SLOTS:
        tau = ctx.num(f"{s}_tau", 0.0, lo=0)
        imp = ctx.num(f"{s}_impulse", 0.0, lo=0, hi=ctx.imp_hi)
        ctx.traces[s] = TraceSpec(tau, imp, "pre" if s.startswith("x") else "post")
    if ctx.modulator:
        for s in ("tau", "impulse"):
            if f"{MODULATOR_SLOT}_{s}" in ctx.p:
                ctx.issues.append(Issue(f"{MODULATOR_SLOT}_{s}", f"slot {MODULATOR_SLOT} holds the "
                                        f"modulator trace: use modulator_{s}", f"modulator_{s}"))
        ctx.trace(MODULATOR_SLOT, "modulator_tau", "modulator_impulse", "modulator")


def _parse_target(ctx: Context, t: str, aliases: dict[str, str]) -> None:
    """`ctx.products[t]` from the string of target `t`, if given and valid."""
    text = ctx.p.get(t)
    if text is None:
        return
    modulator = ctx.modulator
    if not isinstance(text, str):
        ctx.issues.append(Issue(t, f"{brief(text)} is not a rule string", _RULE_STRING))
        return
    if modulator and MODULATOR_SLOT in set(re.findall(r"[A-Za-z_]\w*", text)):
        ctx.issues.append(Issue(t, f"'{MODULATOR_SLOT}' is the slot of modulator '{modulator}': "
                                f"write '{modulator}' instead", modulator))
        return
    try:
        ctx.products[t] = parse(text, t, aliases, ctx.nonlocal_names)
    except GrammarError as e:
        ctx.issues.append(Issue(t, str(e), "x0 y0 u<k> x1 x2 y1 y2 y3 w d t, integers, m*2^e"
                                + (f", {modulator}" if modulator else ""), fit=e.kind == "range"))


def _check_widths(ctx: Context, aliases: dict[str, str]) -> None:
    """Every product must fit the engine's 31-bit multiplier."""
    for t, ps in ctx.products.items():
        for i, p in enumerate(ps, start=1):
            width = fixed.mac_width(p.variables)
            if width > fixed.MAC_BITS:
                ctx.issues.append(Issue(
                    t, f"product {i} '{p.text(aliases)}' multiplies {len(p.factors)} factors "
                    f"needing {width} bits: the engine's multiplier has {fixed.MAC_BITS} "
                    f"(it would overflow)", "factor widths (x*, y*: 7, w/d/t: 9, x0/y0: 1) + 4 <= 31",
                    fit=True))
