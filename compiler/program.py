"""The compiled program: a quantized network plus its partition and placement.

This is what `snnc compile` writes to a `.snnc` artifact and what backends run.
Backends read `network` (quantized IR) and `core_of` (per-neuron core ids); the
profiler reads `cores`, `target` and `report` (a `CompileReport`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .ir import NetworkIR
from .target import Target


@dataclass
class Core:
    """One neuro-core in use: where it sits and what it holds (usage by the resource model)."""

    id: int  # global core id, index into Program.cores
    chip: int
    core: int  # index of the core within its chip
    x: int = 0
    y: int = 0
    neurons: dict[str, np.ndarray] = field(default_factory=dict)  # population -> neuron indices
    synapse_bits: int = 0
    in_axons: int = 0
    out_axons: int = 0

    @property
    def n_neurons(self) -> int:
        return int(sum(len(v) for v in self.neurons.values()))


@dataclass
class CompileReport:
    """What compiling a network found: target, precision, quantization, partition and
    placement statistics, the core lower bound, timings and warnings.

    Item access (`report["lower_bound"]`, `.get`) reads the fields by name, and keys that
    are not fields (added by other tools, or found in an artifact) live in `extra`.
    """

    target: str | None = None
    precision: str | None = None
    quantized: bool = False  # a float network compiled into its fixed-point copy
    quantization: dict[str, Any] | None = None  # the quantize pass's report
    partitioner: str | None = None  # the method the partitioner ran ("auto:graph", ...)
    partition: dict[str, Any] = field(default_factory=dict)  # the partitioner's statistics
    placement: dict[str, Any] = field(default_factory=dict)  # the placer's statistics
    lower_bound: int | dict[str, Any] | None = None  # fewest cores any partition needs
    lower_bound_by_limit: dict[str, Any] | None = None  # that bound per core limit
    cores_used: int | None = None
    chips_used: int | None = None
    timings_s: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage
    compile_time_s: float | None = None
    warnings: list[str] = field(default_factory=list)
    not_native: list[str] = field(default_factory=list)  # what Loihi does not run natively
    extra: dict[str, Any] = field(default_factory=dict)  # any other keys, kept as given

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompileReport:
        """A report from its dict form (as artifacts store it); unknown keys go to `extra`.

        Values are taken as given: artifact checks validate them after loading.
        """
        names = _REPORT_FIELDS
        known = {k: v for k, v in d.items() if k in names}
        return cls(**known, extra={k: v for k, v in d.items() if k not in names})

    def to_dict(self) -> dict[str, Any]:
        """The flat dict form: every field by name, then the `extra` keys."""
        out = {name: getattr(self, name) for name in _REPORT_FIELDS}
        out.update(self.extra)
        return out

    def __getitem__(self, key: str) -> Any:
        if key in _REPORT_FIELDS:
            return getattr(self, key)
        return self.extra[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in _REPORT_FIELDS:
            setattr(self, key, value)
        else:
            self.extra[key] = value

    def __contains__(self, key: object) -> bool:
        return key in _REPORT_FIELDS or key in self.extra

    def get(self, key: str, default: Any = None) -> Any:
        """`report[key]`, or `default` for a key that is neither a field nor in `extra`."""
        return self[key] if key in self else default


# the CompileReport fields that hold report keys (all but `extra`)
_REPORT_FIELDS = tuple(f.name for f in fields(CompileReport) if f.name != "extra")


@dataclass
class Program:
    """A network compiled for a target."""

    network: NetworkIR
    target: Target
    core_of: dict[str, np.ndarray]  # neuron population -> int32 global core id per neuron
    cores: list[Core]
    partitioner: str = "sequential"
    report: CompileReport = field(default_factory=CompileReport)

    def __setattr__(self, name: str, value: Any) -> None:
        # a report given as a dict (artifacts, hand-built programs) becomes a CompileReport
        if name == "report" and isinstance(value, Mapping):
            value = CompileReport.from_dict(value)
        object.__setattr__(self, name, value)

    @property
    def n_chips(self) -> int:
        return 1 + max((c.chip for c in self.cores), default=0)
