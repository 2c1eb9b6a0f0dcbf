"""The learning-engine form of a rule (`LearningRuleSpec`) and the issues lowering reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .grammar import Product, decimation, to_string

TRACE_SLOTS = ("x1", "x2", "y1", "y2", "y3")
MODULATOR_SLOT = "y2"
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
