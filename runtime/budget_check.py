"""Memory a run will record, checked against the memory budget before any backend starts.

A run keeps every population's spikes (steps x neurons, one byte each), the probed
states v/u (8 bytes each), the final dense weight matrices of weight probes, the
per-synapse result arrays and the spike sources' inputs. These are sized from the
program, the step count and the probes alone, so a step count or probe set too large for
the machine ends in an InputError (exit 2) that gives the estimate and what to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from compiler import budget
from compiler.errors import Diagnostic, InputError, Location
from compiler.frontend.checks import is_int
from compiler.ir import DATASET_KIND, NetworkIR, Phase, Probe
from compiler.program import Program
from compiler.schedule import CHUNK_STEPS  # steps a backend simulates per call in phases

SPIKE = 1  # bytes per recorded spike flag (bool)
STATE = 8  # bytes per recorded v or u value (int64 | float64)
RESULT_SYNAPSE = 16  # per synapse in the results: pre, post (int32) and weight (8 bytes)


def _steps_value(steps: Any, net: NetworkIR, given: bool) -> int:
    """`steps` as an int (InputError for a non-integer)."""
    if not is_int(steps):
        where = Diagnostic(f"found {steps!r}; expected a whole number of steps", field="steps")
        if not given:
            where = Diagnostic.at(net.loc("steps"), where.message)
        raise InputError(where)
    return int(steps)


def _loc(net: NetworkIR, given: bool) -> Location:
    return Location(field="--steps") if given else net.loc("steps")


def _weights_bytes(net: NetworkIR, names: Iterable[str]) -> int:
    """Dense (post, pre) matrices of the named projections, 8 bytes a weight."""
    total = 0
    for name in names:
        proj = net.projections[name]
        total += net.populations[proj.post].size * net.populations[proj.pre].size * 8
    return total


def _source_bytes(net: NetworkIR, steps: int) -> int:
    """Spike source inputs for `steps` steps (poisson draws are made as float64 first)."""
    total = 0
    for pop in net.source_populations:
        per = 8 + SPIKE if pop.source is not None and pop.source.kind == "poisson" else SPIKE
        total += steps * pop.size * per
    return total


def run_bytes(program: Program, steps: int, probes: Iterable[Probe]) -> tuple[int, str]:
    """Bytes a plain run of `steps` steps with `probes` records, and what they are."""
    net = program.network
    probes = list(probes)
    neurons = sum(p.size for p in net.populations.values())
    spikes = steps * neurons * SPIKE
    states = sum(steps * net.populations[p.target].size * STATE
                 for p in probes if p.var in ("v", "u") and p.target in net.populations)
    weights = _weights_bytes(net, sorted({p.target for p in probes if p.var == "weights"
                                          and p.target in net.projections}))
    synapses = sum(p.n_synapses for p in net.projections.values()) * RESULT_SYNAPSE
    synops = steps * len(net.projections) * 8
    total = spikes + states + weights + synapses + synops + _source_bytes(net, steps)
    parts = [f"spikes of {neurons} neurons"]
    if states:
        parts.append(f"{sum(p.var in ('v', 'u') for p in probes)} v/u probes")
    if weights:
        parts.append("dense weight probes")
    return total, ", ".join(parts)


def check_run(program: Program, steps: Any, probes: Iterable[Probe]) -> None:
    """InputError before a plain run whose recordings exceed the memory budget, or whose
    step count is not a whole number in [1, MAX_STEPS]; `steps` None means the file's."""
    net = program.network
    given = steps is not None
    n = _steps_value(net.steps if steps is None else steps, net, given)
    if n <= 0:
        return  # the caller reports non-positive step counts
    nbytes, what = run_bytes(program, n, probes)
    remedy = "fewer steps (--steps N)" if given else "fewer steps (`steps:` or --steps N)"
    if any(p.var in ("v", "u") or p.var == "weights" for p in probes):
        remedy += ", fewer probes (--probe)"
    budget.require(nbytes, f"a run of {n} steps recording {what}", remedy, _loc(net, given))
    if n > budget.MAX_STEPS:
        raise InputError(Diagnostic.at(_loc(net, given), f"found {n} steps; a run takes at most "
                                       f"{budget.MAX_STEPS}", f"1..{budget.MAX_STEPS} steps"))


def phase_shown(net: NetworkIR, phase: Phase) -> tuple[int, int]:
    """(samples shown, steps) of a phase (its split's length when count is None)."""
    if phase.steps is not None:
        return 0, int(phase.steps)
    src = next(p for p in net.source_populations
               if p.source is not None and p.source.kind == DATASET_KIND)
    ds = src.source.dataset
    n = len(ds.splits[phase.split]) if phase.count is None else int(phase.count)
    period = (ds.present if phase.present is None else phase.present) + \
        (ds.rest if phase.rest is None else phase.rest)
    return n * int(phase.epochs), n * int(phase.epochs) * period


def phases_bytes(program: Program, whole_timeline: bool, state_probes: list[Probe],
                 weights: list[str]) -> list[tuple[int, int, int]]:
    """Per phase (index, bytes its results keep, its steps), plus the whole timeline's
    recordings (index -1) for a backend that returns them at once (`whole_timeline`)."""
    net = program.network
    lif = sum(p.size for p in net.neuron_populations)
    neurons = sum(p.size for p in net.populations.values())
    states = sum(net.populations[p.target].size for p in state_probes)
    out = []
    total_steps = 0
    for i, phase in enumerate(net.phases):
        shown, steps = phase_shown(net, phase)
        total_steps += steps
        if phase.steps is None:  # counts per sample (int32), labels and indices (int64)
            nbytes = shown * (lif * 4 + 24) + min(steps, CHUNK_STEPS) * neurons * 2
        else:  # the chunks and their concatenation
            nbytes = 2 * steps * (neurons * SPIKE + states * STATE)
        out.append((i, nbytes, steps))
    if whole_timeline:  # sources, spikes and v/u of every step come back at once
        timeline = total_steps * (neurons * SPIKE + states * STATE) + \
            _source_bytes(net, total_steps) * 2
        out.append((-1, timeline, total_steps))
    return out


def check_phases(program: Program, whole_timeline: bool, state_probes: list[Probe],
                 weights: list[str]) -> None:
    """InputError before running phases whose results exceed the memory budget, naming
    the phase that needs the most."""
    net = program.network
    per = phases_bytes(program, whole_timeline, state_probes, weights)
    fixed = _weights_bytes(net, weights) + \
        sum(p.n_synapses for p in net.projections.values()) * RESULT_SYNAPSE
    total = fixed + sum(b for _, b, _ in per)
    steps = sum(s for i, _, s in per if i >= 0)
    i, _, _ = max(per, key=lambda t: t[1])
    if i < 0:
        i = max((t for t in per if t[0] >= 0), key=lambda t: t[1])[0]
    phase = net.phases[i]
    field = f"phases[{i}].steps" if phase.steps is not None else (
        f"phases[{i}].samples.epochs" if phase.epochs > 1 else f"phases[{i}].samples")
    remedy = "shorter phases (fewer samples, epochs or steps)"
    if state_probes or weights:
        remedy += ", fewer probes (--probe)"
    budget.require(total, f"{len(net.phases)} phases of {steps} steps in all (the largest: "
                   f"'{phase.name}')", remedy, net.loc(field))
    if steps > budget.MAX_STEPS:
        raise InputError(Diagnostic.at(net.loc("phases"), f"the phases run {steps} steps "
                                       f"together; at most {budget.MAX_STEPS}",
                                       f"phases of at most {budget.MAX_STEPS} steps in all"))
