"""Local learning rules: parse, check for locality, and lower to Loihi's learning-engine form.

`check_network(net, target)` validates every plasticity block of a network (raising one
InputError/FitError that lists every problem); `lower_rule(plasticity, precision)` gives
the `LearningRuleSpec` that the CPU learning engine and the Lava lowering both consume.
`RULES` (`registry`) maps each rule name to the parameters it takes and its lowering function.
"""

from __future__ import annotations

from ..errors import Diagnostic, FitError, InputError
from ..ir import Plasticity
from .grammar import Factor, GrammarError, Product, parse, to_string
from .locality import check_network, lower_projection, native_notes
from .rules import RULES, LearningRuleSpec, RuleError, TraceSpec, lower

__all__ = ["check_network", "lower_rule", "lower_projection", "native_notes", "LearningRuleSpec",
           "TraceSpec", "Product", "Factor", "GrammarError", "RuleError", "RULES", "parse",
           "to_string"]


def lower_rule(plasticity: Plasticity, precision: str, *, seed: int = 0,
               name: str = "") -> LearningRuleSpec:
    """The learning-engine form of one plasticity block; InputError/FitError on bad input.

    `seed` and `name` (network seed, projection name) derive the engine's rng seed when the
    block gives no `rng_seed`. Prefer `lower_projection(net, name)`, which also knows the
    network's names for locality messages.
    """
    try:
        return lower(plasticity, precision, seed=seed, name=name)
    except RuleError as e:
        diags = [Diagnostic(i.message, field=f"plasticity.{i.field}", allowed=i.allowed) for i in e.issues]
        raise (FitError if all(i.fit for i in e.issues) else InputError)(diags) from None
