"""Lowering functions of the named rules: stdp, hebbian, oja, reward_stdp.

Each fills `ctx.traces` and `ctx.products` of a `Context`. Scales (a_*, learning_rate and
their products) must be exactly m * 2^e with m in [-8, 7], e in [-7, 8].
"""

from __future__ import annotations

from collections.abc import Iterable

from .context import Context
from .grammar import Factor, Product
from .spec import MODULATOR_SLOT, Issue


def _present(terms: Iterable[Product | None]) -> tuple[Product, ...]:
    """The products whose scale was representable."""
    return tuple(t for t in terms if t is not None)


def _nonzero(terms: Iterable[Product | None]) -> tuple[Product, ...]:
    """The representable products with a non-zero scale."""
    return tuple(t for t in terms if t is not None and t.mantissa != 0)


def _stdp_params(ctx: Context) -> tuple[float, float, float]:
    """a_plus, a_minus, learning_rate and the pair traces x1 (tau_plus), y1 (tau_minus)."""
    a_plus = ctx.num("a_plus", 1.0, lo=0, required=True)
    a_minus = ctx.num("a_minus", 1.0, lo=0, required=True)
    lr = ctx.num("learning_rate", 1.0, lo=0)
    ctx.trace("x1", "tau_plus", "x1_impulse", "pre")
    ctx.trace("y1", "tau_minus", "y1_impulse", "post")
    return a_plus, a_minus, lr


def stdp(ctx: Context) -> None:
    """Pair STDP, pre-before-post potentiates.

    additive:       `dw = lr*a_plus*y0*x1 - lr*a_minus*x0*y1`
    multiplicative: `dw = lr*a_plus*y0*x1*(w_max - w) - lr*a_minus*x0*y1*(w - w_min)`
    x1: tau_plus, y1: tau_minus, impulses x1_impulse / y1_impulse (default 16, as STDPLoihi).
    Lava's STDPLoihi adds A_minus to dw with the sign as written; here it depresses.
    """
    a_plus, a_minus, lr = _stdp_params(ctx)
    mode = ctx.choice("mode", ("additive", "multiplicative"), "additive")
    if mode == "additive":
        terms = [ctx.product("a_plus", "y0", lr * a_plus, ("x1",), "learning_rate * a_plus"),
                 ctx.product("a_minus", "x0", -lr * a_minus, ("y1",), "learning_rate * a_minus")]
    else:
        wmin, wmax = _multiplicative_bounds(ctx)
        terms = [ctx.product("a_plus", "y0", -lr * a_plus, ("x1", Factor("w", -wmax)),
                             "learning_rate * a_plus"),
                 ctx.product("a_minus", "x0", -lr * a_minus, ("y1", Factor("w", -wmin)),
                             "learning_rate * a_minus")]
    ctx.products["dw"] = _nonzero(terms)


def _multiplicative_bounds(ctx: Context) -> tuple[int, int]:
    """Integer w_min, w_max for the engine's (w + C) factors (w_max required); 0 when invalid."""
    for key, v in (("w_min", ctx.w_min), ("w_max", ctx.w_max)):
        if v is None and key == "w_max":
            ctx.issues.append(Issue(key, "is required in multiplicative mode", "an integer"))
        elif v is not None and v != int(v):
            ctx.issues.append(Issue(key, f"{v:g} must be an integer in multiplicative mode "
                                    f"(the engine's (w + C) constant is an integer)", "an integer"))
    w_min, w_max = ctx.w_min, ctx.w_max
    wmax = int(w_max) if w_max is not None and w_max == int(w_max) else 0
    wmin = int(w_min) if w_min is not None and w_min == int(w_min) else 0
    return wmin, wmax


def _correlation(ctx: Context) -> tuple[float, Product | None]:
    """learning_rate (required, > 0), traces x1 (tau_pre), y1 (tau_post), `lr * u0 * x1 * y1`."""
    lr = ctx.num("learning_rate", None, lo=0, lo_open=True, required=True) or 1.0
    ctx.trace("x1", "tau_pre", "x1_impulse", "pre")
    ctx.trace("y1", "tau_post", "y1_impulse", "post")
    return lr, ctx.product("learning_rate", "u", lr, ("x1", "y1"), "learning_rate")


def hebbian(ctx: Context) -> None:
    """`dw = lr * u0 * x1 * y1`: every epoch, the product of the end-of-epoch traces."""
    _, term = _correlation(ctx)
    ctx.products["dw"] = _present([term])


def oja(ctx: Context) -> None:
    """`dw = lr * u0 * x1 * y1 - lr * u0 * y1 * y1 * w`: Hebbian with Oja's weight decay."""
    lr, term = _correlation(ctx)
    decay = ctx.product("learning_rate", "u", -lr, ("y1", "y1", "w"), "learning_rate")
    ctx.products["dw"] = _present([term, decay])


def reward_stdp(ctx: Context) -> None:
    """STDP into an eligibility tag, converted to weight change by a modulator's trace.

    `dt = a_plus*y0*x1 - a_minus*x0*y1 - (1/tau_e)*u0*t` (the tag decays by t/tau_e per epoch),
    `dw = lr * u0 * t * (m - baseline)` where m is the trace (y2 slot; modulator_tau,
    modulator_impulse) of the spikes of the `modulator` population and `baseline` (default 0,
    >= 0) the expected reward trace: reward below expectation depresses eligible synapses.
    """
    a_plus, a_minus, lr = _stdp_params(ctx)
    tau_e = ctx.num("tau_e", 16.0, lo=0, lo_open=True)
    ctx.trace(MODULATOR_SLOT, "modulator_tau", "modulator_impulse", "modulator")
    ctx.products["dt"] = _nonzero([
        ctx.product("a_plus", "y0", a_plus, ("x1",), "a_plus"),
        ctx.product("a_minus", "x0", -a_minus, ("y1",), "a_minus"),
        ctx.product("tau_e", "u", -1.0 / tau_e, ("t",), "1 / tau_e")])
    dw = ctx.product("learning_rate", "u", lr, ("t", MODULATOR_SLOT), "learning_rate")
    baseline = ctx.num("baseline", 0.0, lo=0)
    base = (ctx.product("baseline", "u", -lr * baseline, ("t",), "learning_rate * baseline")
            if baseline else None)
    ctx.products["dw"] = _present([dw, base])
