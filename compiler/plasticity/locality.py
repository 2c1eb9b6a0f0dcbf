"""Network-level checks of learning rules: locality, modulators, engine limits, homeostasis."""

from __future__ import annotations

from ..errors import Collector, FitError, InputError, suggest
from ..ir import NetworkIR, Population, Projection
from ..target import Target
from .rules import LearningRuleSpec, RuleError, lower

_VOLTAGE = ("v", "u_post", "post_v", "pre_v", "voltage", "current", "post_u", "pre_u")


def nonlocal_names(net: NetworkIR, name: str) -> dict[str, str]:
    """Names in the network a rule of projection `name` may not read, with the reason."""
    out: dict[str, str] = {}
    for v in _VOLTAGE:
        out[v] = (f"'{v}': neuron state (voltage/current) is not visible to the learning engine; "
                  f"a synapse sees only spikes and traces of its pre and post neurons (x0, x1, x2, "
                  f"y0, y1, y2, y3)")
    for pop in net.populations:
        out[pop] = (f"'{pop}' is a population that is not this rule's modulator: a synapse sees only "
                    f"its own pre and post neurons; declare `modulator: {pop}` to broadcast its "
                    f"spikes to this projection")
    for proj in net.projections:
        out[proj] = (f"'{proj}' is a projection: a synapse cannot read other synapses' weights "
                     f"or state" if proj != name else
                     f"'{proj}' is this projection: a synapse sees only its own w, d, t")
    return out


def lower_projection(net: NetworkIR, name: str) -> LearningRuleSpec:
    """The learning-engine form of projection `name`'s rule; raises RuleError on bad input."""
    proj = net.projections[name]
    assert proj.plasticity is not None
    names = nonlocal_names(net, name)
    mod = proj.plasticity.modulator_name
    if isinstance(mod, str):
        names.pop(mod, None)
    return lower(proj.plasticity, net.precision, seed=net.seed, name=name, nonlocal_names=names)


def check_network(net: NetworkIR, target: Target | None = None) -> None:
    """Raise InputError (FitError when only engine limits are hit) listing every bad rule.

    Checks each projection's plasticity block: known rule and parameters, rule strings
    that use only what a synapse can see, scales representable as m*2^e, engine widths,
    and a declared modulator that is a population of size 1 or the post population's size.
    Also validates adaptive-threshold (`adapt`) blocks. `target` is accepted for future
    per-target limits; Lava 0.10 documents none beyond the engine widths checked here.
    """
    col = Collector()
    only_fit = True
    for name, proj in net.projections.items():
        if proj.plasticity is not None:
            only_fit = _check_rule(col, net, name, proj) and only_fit
    for pop in net.populations.values():
        only_fit = _check_adapt(col, net, pop) and only_fit
    if col:
        raise (FitError if only_fit else InputError)(col.items)


def _check_rule(col: Collector, net: NetworkIR, name: str, proj: Projection) -> bool:
    """Projection `name`'s plasticity block (lowered as the compiler does) and its modulator;
    True when every problem found is an engine limit only (a fit problem)."""
    base = f"projections.{name}.plasticity"
    only_fit = True
    try:
        spec = lower_projection(net, name)
    except RuleError as e:
        for i in e.issues:
            only_fit &= i.fit
            col.add(net.loc(f"{base}.{i.field}"), i.message, i.allowed)
        spec = None
    mod = spec.modulator if spec is not None else proj.plasticity.modulator_name
    if isinstance(mod, str) and not _check_modulator(col, net, proj, mod, base):
        only_fit = False
    return only_fit


def _check_modulator(col: Collector, net: NetworkIR, proj: Projection, mod: str,
                     base: str) -> bool:
    """A declared modulator is a population of size 1 or of the post population's size."""
    where = net.loc(f"{base}.modulator")
    post = net.populations.get(proj.post)
    if mod in net.projections and mod not in net.populations:
        col.add(where, f"'{mod}' is a projection, not a population: a modulator is a population "
                f"whose spikes are broadcast to this projection's synapses", "a population name")
        return False
    if mod not in net.populations:
        col.add(where, f"modulator '{mod}' is not a population of this network"
                f"{suggest(mod, net.populations)}", ", ".join(net.populations))
        return False
    if post is not None and net.populations[mod].size not in (1, post.size):
        col.add(where, f"modulator '{mod}' has {net.populations[mod].size} neurons: it must have 1 "
                f"(broadcast to all synapses) or {post.size} (= post '{proj.post}', neuron i "
                f"modulates the synapses onto post neuron i)", f"size 1 or {post.size}")
        return False
    return True


def _check_adapt(col: Collector, net: NetworkIR, pop: Population) -> bool:
    """An adaptive-threshold block (if any): increment >= 0, tau > 0; True when valid."""
    adapt = pop.lif.adapt if pop.lif is not None else None
    if adapt is None:
        return True
    base = f"populations.{pop.name}.params.adapt"
    ok = True
    if not adapt.increment >= 0:
        col.add(net.loc(f"{base}.increment"), f"{adapt.increment!r} is negative", "number >= 0")
        ok = False
    if not adapt.tau > 0:
        col.add(net.loc(f"{base}.tau"), f"{adapt.tau!r} is not a positive time constant",
                "number > 0 (steps)")
        ok = False
    return ok


def native_notes(net: NetworkIR) -> list[str]:
    """What in this network Loihi / Lava 0.10 cannot run natively (informational, not errors)."""
    notes = []
    for pop in net.neuron_populations:
        if pop.lif is not None and pop.lif.adapt is not None:
            notes.append(f"population '{pop.name}': adaptive threshold (adapt) is not part of Lava's LIF; "
                         f"Lava's ATRLIF has threshold adaptation (theta_step, delta_theta) but also a "
                         f"refractory state and a >= threshold, so it is not the same neuron; on Loihi 2 "
                         f"it needs a custom microcoded neuron, on Loihi 1 it is not native")
        if net.uses_wta(pop.name):
            notes.append(f"population '{pop.name}': winner-take-all (wta: one spike per step, the "
                         f"neuron furthest above threshold) is an argmax over the population in one "
                         f"step; Loihi has no such operation (lateral inhibition acts one step "
                         f"later): not native on Loihi 1 or 2, snnc's own LIF extension on Lava")
    changing = [ph.name for ph in net.phases if ph.overrides or ph.plastic]
    if changing:
        notes.append(f"phases {', '.join(changing)}: their `set` / `plastic` changes are host "
                     f"writes between runs on a chip (Var.set), not part of the network")
    for name, proj in net.projections.items():
        if proj.plasticity is None:
            continue
        try:
            spec = lower_projection(net, name)
        except RuleError:
            continue
        from_ = f"projection '{name}' ({spec.rule})"
        # a modulator is native on Loihi 2 (it reaches the synapse through the post
        # neuron's y2 trace); Lava 0.10's LearningLIF cannot deliver it within an epoch,
        # which the Lava backend works around itself (procs/modulated.py): no note here
        if spec.w_min is not None or spec.w_max is not None:
            notes.append(f"{from_}: w_min/w_max clipping is not done by the learning engine (it "
                         f"saturates at the 8-bit weight range only); snnc's Lava backend adds it")
    return notes
