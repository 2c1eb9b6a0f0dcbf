"""The table of learning rules: name -> parameters it takes and its lowering function.

Adding a rule is one lowering function (it fills `ctx.traces` and `ctx.products` of a
`Context`) plus one `RuleSpec` entry here; `rules.lower` does the rest (unknown parameters,
modulator, t_epoch, rng_seed, w_min / w_max, trace decays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .context import Context
from .loihi import loihi
from .named import hebbian, oja, reward_stdp, stdp
from .spec import TRACE_SLOTS

COMMON_KEYS = ("t_epoch", "rng_seed", "w_min", "w_max", "modulator")


@dataclass(frozen=True)
class RuleSpec:
    """One learning rule: its parameters (besides COMMON_KEYS), its lowering function, and
    whether it takes a `modulator` population: "none", "optional" or "required"."""

    name: str
    keys: tuple[str, ...]
    lower: Callable[[Context], None]
    modulator: str = "none"


_STDP_KEYS = ("a_plus", "a_minus", "tau_plus", "tau_minus", "learning_rate")
_CORRELATION_KEYS = ("learning_rate", "tau_pre", "tau_post", "x1_impulse", "y1_impulse")

RULES: dict[str, RuleSpec] = {r.name: r for r in (
    RuleSpec("stdp", _STDP_KEYS + ("mode", "x1_impulse", "y1_impulse"), stdp),
    RuleSpec("hebbian", _CORRELATION_KEYS, hebbian),
    RuleSpec("oja", _CORRELATION_KEYS, oja),
    RuleSpec("reward_stdp", _STDP_KEYS + ("tau_e", "modulator_tau", "modulator_impulse",
                                          "x1_impulse", "y1_impulse", "baseline"),
             reward_stdp, modulator="required"),
    RuleSpec("loihi", ("dw", "dt", "dd", "modulator_tau", "modulator_impulse")
             + tuple(f"{s}_{k}" for s in TRACE_SLOTS for k in ("tau", "impulse")),
             loihi, modulator="optional"),
)}
