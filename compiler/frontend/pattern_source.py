"""The `hidden_pattern` spike source kind (compiler/patterns.py draws it).

```yaml
populations:
  aff:
    size: 100
    model: spike_source
    spikes: {kind: hidden_pattern, steps: 20000, rate: 0.02, length: 50,
             involved: 50, gap: [100, 400]}
```

`gap`: steps between the end of one copy and the next onset (uniform, both ends
included). The compiler draws the spikes from the network's seed and writes them as an `array`
source (silent after `steps`), so every backend replays the same spikes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..budget import MAX_STEPS
from ..ir import Population, SpikeSource
from ..patterns import PatternSpec, pattern_spikes
from .checks import INVALID, Checker, show

PATTERN_KIND = "hidden_pattern"
PATTERN_KEYS = ("kind", "steps", "rate", "length", "involved", "gap")


def pattern_spec(ck: Checker, spec: Mapping, path: str, size: int | Any) -> PatternSpec | Any:
    """The checked PatternSpec of a `kind: hidden_pattern` spikes block."""
    m = ck.mapping(spec, path, PATTERN_KEYS, required=("steps",))
    if m is INVALID or "steps" not in m or size is INVALID:
        return INVALID
    steps = ck.integer(m["steps"], f"{path}.steps", 1, MAX_STEPS)
    rate = ck.number(m.get("rate", 0.02), f"{path}.rate", 0.0, 1.0)
    length = ck.integer(m.get("length", 50), f"{path}.length", 1, what="steps of the pattern")
    involved = ck.integer(m.get("involved", size), f"{path}.involved", 1, size,
                          what=f"a number of afferents (1 .. {size})")
    gap = m.get("gap", [100, 400])
    if not (isinstance(gap, (list, tuple)) and len(gap) == 2
            and all(isinstance(g, int) and not isinstance(g, bool) and g >= 1 for g in gap)
            and gap[0] <= gap[1]):
        return ck.error(f"{path}.gap", f"found {show(gap)}; expected [min, max] steps between "
                        "copies", "[min, max] integers, 1 <= min <= max")
    if INVALID in (steps, rate, length, involved):
        return INVALID
    return PatternSpec(steps=steps, size=size, rate=float(rate), length=length,
                       involved=involved, gap_min=gap[0], gap_max=gap[1])


@dataclasses.dataclass
class PendingPattern(SpikeSource):
    """A parsed hidden-pattern source; `resolve_patterns` draws it once the seed is known."""

    pattern: PatternSpec | None = None


def pattern_source(ck: Checker, spec: Mapping, path: str, size: int | Any) -> SpikeSource | Any:
    """A `kind: hidden_pattern` spikes block (its spikes are drawn by `resolve_patterns`)."""
    ps = pattern_spec(ck, spec, path, size)
    if ps is INVALID:
        return INVALID
    return PendingPattern("array", data=np.zeros((0, size), dtype=bool), pattern=ps)


def resolve_patterns(pops: dict[str, Population], seed: int) -> None:
    """Replace every pending hidden-pattern source by the `array` source of its spikes."""
    for name, pop in pops.items():
        if isinstance(pop.source, PendingPattern):
            pop.source = SpikeSource("array", data=pattern_spikes(pop.source.pattern, seed, name))
