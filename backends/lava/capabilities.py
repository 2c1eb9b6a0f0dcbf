"""What the lava backend can run, checked before Lava starts (no Lava import here).

`check_program` lists every feature of a program that this backend cannot run, each naming
the projection or population (file and line where known) and the remedy, as one
`UnsupportedError` (a plan too big for this machine's memory or process limit included,
see `cost`): a valid program the lava backend refuses is bad input for it (exit 2),
and still a `BackendError` for callers that catch backend failures. `check_timeout`
validates the watchdog limit.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from compiler.errors import BackendError, Diagnostic, InputError
from compiler.ir import NetworkIR, Phase
from compiler.program import Program

from .cost import size_problems
from .plan import (
    GRANULARITIES,
    MAX_DELAY,
    has_duplicate_pairs,
    unit_of,
)

CPU = "--backend cpu"


class UnsupportedError(InputError, BackendError):
    """A program, or an option, the lava backend cannot run (CLI exit status 2)."""


def check_timeout(timeout_s: Any) -> float | None:
    """The watchdog limit as a float (None: the default); anything but a finite number of
    seconds > 0 is an UnsupportedError (0 would kill every run, nan or inf none)."""
    if timeout_s is None:
        return None
    ok = isinstance(timeout_s, numbers.Real) and not isinstance(timeout_s, bool)
    if ok:
        value = float(timeout_s)
        ok = math.isfinite(value) and value > 0
    if not ok:
        shown = timeout_s if isinstance(timeout_s, numbers.Real) else repr(timeout_s)
        raise UnsupportedError(Diagnostic(
            "not a usable watchdog limit (timeout_s)", field=f"--timeout {shown}",
            allowed="a number of seconds > 0"))
    return value


def check_program(program: Program, options: dict[str, Any] | None = None, *,
                  granularity: str = "grouped", phases: list[Phase] | None = None) -> None:
    """Raise UnsupportedError listing everything of `program` (run at `granularity`, with
    `phases`) that the lava backend cannot run; return None when it can run all of it."""
    options = options or {}
    net = program.network
    diags: list[Diagnostic] = []
    if granularity not in GRANULARITIES:
        diags.append(Diagnostic(f"unknown granularity '{granularity}'", field="--granularity",
                                allowed=", ".join(GRANULARITIES)))
    if not options.get("_test_raw_params"):
        diags += _lif_problems(net)
    diags += _projection_problems(net, options)
    if granularity in ("core", "chip"):
        diags += _split_problems(program, granularity)
    diags += _phase_problems(net, phases or [])
    if granularity in GRANULARITIES:
        diags += size_problems(program, granularity)
    if diags:
        raise UnsupportedError(diags)


def _lif_problems(net: NetworkIR) -> list[Diagnostic]:
    """LIF parameters Lava's models cannot take (fixed precision: integers, du / dv 0..4095)."""
    from .lowering import lif_kwargs
    from .plan import NeuronGroup

    out = []
    for pop in net.neuron_populations:
        whole = NeuronGroup(pop.name, pop.name, np.arange(pop.size))
        try:
            lif_kwargs(pop, whole, net.precision)
        except BackendError as e:
            out.append(Diagnostic.at(net.loc(f"populations.{pop.name}.params"), str(e),
                                     "integer LIF parameters, du and dv in 0..4095"))
    return out


def _uses_snnc_learning(options: dict[str, Any]) -> bool:
    from .learning import LearningFactory

    factory = options.get("learning_rule_factory")
    return factory is None or isinstance(factory, LearningFactory)


def _projection_problems(net: NetworkIR, options: dict[str, Any]) -> list[Diagnostic]:
    out = []
    snnc_learning = _uses_snnc_learning(options)
    for proj in net.projections.values():
        where = f"projections.{proj.name}"
        if has_duplicate_pairs(net, proj):
            out.append(Diagnostic.at(
                net.loc(where), f"projection '{proj.name}': several synapses join the same "
                "(pre, post) pair; Lava's weight matrices hold one synapse per pair",
                f"one synapse per (pre, post) pair, or {CPU}"))
        if proj.delay.size and (int(proj.delay.min()) < 0 or int(proj.delay.max()) > MAX_DELAY):
            out.append(Diagnostic.at(
                net.loc(f"{where}.delay"), f"projection '{proj.name}': delays "
                f"{int(proj.delay.min())}..{int(proj.delay.max())} are outside Lava's range",
                f"delays 0..{MAX_DELAY}"))
        if proj.plasticity is None or not snnc_learning:
            continue
        if proj.delay.size and bool(np.any(proj.delay != 0)):
            d = int(proj.delay.max())
            out.append(Diagnostic.at(
                net.loc(f"{where}.delay"), f"projection '{proj.name}': plasticity with delay "
                f"{d} is not supported by the lava backend (Lava 0.10 has no learning synapse "
                "with delays)", f"delay 0 on plastic projections, or {CPU}"))
        for why in _rule_problems(net, proj):
            out.append(Diagnostic.at(net.loc(f"{where}.plasticity"),
                                     f"projection '{proj.name}': {why}",
                                     f"precision fixed, or {CPU}"))
    return out


def _rule_problems(net: NetworkIR, proj: Any) -> list[str]:
    """What Lava's learning engine cannot run of the projection's rule."""
    from compiler.plasticity import lower_rule

    from .learning import unsupported

    return unsupported(lower_rule(proj.plasticity, net.precision, seed=net.seed, name=proj.name))


def _split_problems(program: Program, granularity: str) -> list[Diagnostic]:
    """Granularity 'core' / 'chip': what needs a population in one Lava process (each
    destination slice's synapses take all source slices at once: no rounding changes,
    see `bus_blocks`)."""
    net = program.network
    grouped = "--granularity grouped"
    units = {name: unit_of(program, name, granularity) for name in net.populations}
    n_parts = {name: int(np.unique(u).size) for name, u in units.items() if u is not None}
    split = {name for name, n in n_parts.items() if n > 1}
    where = "cores" if granularity == "core" else "chips"
    out = []
    for name in sorted(split):
        if net.uses_wta(name):
            out.append(Diagnostic.at(
                net.loc(f"populations.{name}"), f"population '{name}': winner-take-all (wta) "
                f"needs the whole population in one Lava process, but it spans several {where}",
                f"{grouped}, or {CPU}"))
    for proj in net.projections.values():
        mod = proj.plasticity.modulator_name if proj.plasticity is not None else None
        if isinstance(mod, str) and mod in split:
            out.append(Diagnostic.at(
                net.loc(f"projections.{proj.name}.plasticity"), f"projection '{proj.name}': "
                f"modulator '{mod}' is split over {n_parts[mod]} Lava processes (one per "
                f"{where[:-1]}); the modulator must be one Lava process", f"{grouped}, or {CPU}"))
    return out


def _phase_problems(net: NetworkIR, phases: list[Phase]) -> list[Diagnostic]:
    """Phase switches and overrides the lava backend has no schedule for."""
    out = []
    for i, ph in enumerate(phases):
        where = f"phases[{i}]"
        for name in ph.plastic:
            proj = net.projections.get(name)
            if proj is None or proj.plasticity is None:
                out.append(Diagnostic.at(net.loc(f"{where}.plastic"), f"phase '{ph.name}': "
                                         f"'{name}' is not a plastic projection",
                                         "names of plastic projections"))
        for ov in ph.overrides:
            loc = net.loc(f"{where}.set")
            if ov.kind == "weight_scale":
                proj = net.projections.get(ov.target)
                if proj is None or proj.plasticity is not None:
                    out.append(Diagnostic.at(loc, f"phase '{ph.name}': {ov.path}: weight_scale "
                                             "applies to static projections only",
                                             "static projections"))
            elif ov.kind == "adapt":
                pop = net.populations.get(ov.target)
                if pop is None or pop.lif is None or pop.lif.adapt is None:
                    out.append(Diagnostic.at(loc, f"phase '{ph.name}': {ov.path}: population "
                                             f"'{ov.target}' has no adapt block",
                                             "populations with an adapt block"))
            elif ov.kind not in ("lif", "plastic"):
                out.append(Diagnostic.at(loc, f"phase '{ph.name}': {ov.path}: unknown "
                                         f"override kind '{ov.kind}'",
                                         "weight_scale, lif, adapt, plastic"))
    return out
