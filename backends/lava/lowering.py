"""Build Lava processes from a `LavaPlan` (runs inside the worker; Lava is imported lazily).

`lower_projection` is the hook for plastic projections (LearningDense + a learning rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.errors import BackendError
from compiler.ir import LIFParams, Population, Projection

from .plan_types import BUS, LavaPlan, NeuronGroup, SynapseBlock, link_name

LIF_FIELDS = ("du", "dv", "vth", "bias_mant", "bias_exp")


@dataclass
class Built:
    """The Lava processes of one network, by plan key."""

    neurons: dict[str, Any] = field(default_factory=dict)
    synapses: dict[str, Any] = field(default_factory=dict)
    record_paths: dict[str, str] = field(default_factory=dict)  # LIF group key -> .npy
    bus: Any = None  # the spike bus, when the plan has one


def lava_sign_mode(name: str) -> Any:
    """Lava's SignMode for a sign-mode name of `compiler.lava_weights`."""
    from lava.utils.weightutils import SignMode

    return {"excitatory": SignMode.EXCITATORY, "inhibitory": SignMode.INHIBITORY,
            "mixed": SignMode.MIXED}[name]


def lif_kwargs(pop: Population, group: NeuronGroup, precision: str,
               raw_params: bool = False) -> dict[str, Any]:
    """LIF constructor arguments for one group; integers in fixed precision (Lava's fixed_pt
    models fail, and Lava then hangs, on float parameters). `raw_params` is a test hook."""
    params: LIFParams = pop.lif or LIFParams()
    out: dict[str, Any] = {}
    if params.adapt is not None:  # snnc's extension, run by RecordingLIF's models
        out["adapt_increment"] = float(params.adapt.increment)
        out["adapt_tau"] = float(params.adapt.tau)
    out["wta"] = bool(params.wta)  # snnc's extension (winner-take-all), RecordingLIF's models
    for name in LIF_FIELDS:
        value = np.asarray(getattr(params, name))
        if value.ndim:  # per-neuron values: keep this group's slice
            value = value[group.index] if value.shape[0] == pop.size else value
        if raw_params:
            out[name] = value.item() if value.ndim == 0 else value
            continue
        if precision == "fixed":
            if not np.all(np.equal(np.mod(value, 1), 0)):
                raise BackendError(f"population '{pop.name}': {name} = {value} is not an integer "
                                   "(fixed precision needs integer LIF parameters)")
            value = value.astype(np.int64)
        else:
            value = value.astype(np.float64)
        out[name] = value.item() if value.ndim == 0 else value
    if precision == "fixed" and not raw_params:
        for name in ("du", "dv"):
            if not 0 <= out[name] <= 4095:
                raise BackendError(f"population '{pop.name}': {name} = {out[name]} is outside 0..4095")
    return out


def build_neuron(group: NeuronGroup, pop: Population, precision: str, steps: int,
                 source_spikes: np.ndarray | None, record_path: str | None, record_vu: bool,
                 options: dict[str, Any]) -> Any:
    """A RingBuffer for a spike source (columns are steps) or a self-recording LIF slice."""
    if group.is_source:
        from lava.proc.io.source import RingBuffer

        assert source_spikes is not None
        dtype = np.int32 if precision == "fixed" else np.float64
        data = np.ascontiguousarray(source_spikes[:, group.index].T.astype(dtype))
        ring = RingBuffer(data=data)  # takes no `name` argument
        ring.name = group.name
        return ring
    from .procs.recording_lif import RecordingLIF

    kw = lif_kwargs(pop, group, precision, raw_params=bool(options.get("_test_raw_params")))
    extra = {}
    if options.get("_test_fail_step") is not None:
        extra["fail_on_step"] = int(options["_test_fail_step"])
    return RecordingLIF(shape=(group.index.size,), name=group.name, record_path=record_path,
                        record_steps=steps, record_vu=record_vu, **kw, **extra)


def lower_projection(block: SynapseBlock, proj: Projection, precision: str, *,
                     learning_rule_factory: Callable[..., Any] | None = None,
                     **factory_kw: Any) -> Any:
    """The Lava synapse process of one block: (Delay)Dense/(Delay)Sparse, or, for a plastic
    projection, whatever `learning_rule_factory(block, proj, precision, **factory_kw)` returns
    (e.g. a LearningDense with a learning rule); without a factory plasticity is a BackendError."""
    if proj.plasticity is not None:
        if learning_rule_factory is None:
            raise BackendError(f"projection '{proj.name}': plasticity not yet supported on lava "
                               f"(rule '{proj.plasticity.rule}')")
        return learning_rule_factory(block, proj, precision, **factory_kw)
    return build_synapse(block, precision)


def modulator_wiring(plan: LavaPlan, pops: dict[str, Population], proj: Projection,
                     block: SynapseBlock) -> tuple[str, int, np.ndarray] | None:
    """(modulator group key, its size, modulator entry of each post neuron of the block) for
    a rule with a modulator, else None. Size 1 broadcasts; otherwise neuron i of the post
    population reads modulator neuron i (the modulator must be one Lava process)."""
    pl = proj.plasticity
    name = None if pl is None else pl.modulator_name
    if name is None:
        return None
    groups = plan.groups_of(name)
    if len(groups) != 1:
        raise BackendError(f"projection '{proj.name}': modulator '{name}' is split over "
                           f"{len(groups)} Lava processes; use granularity 'grouped'")
    g = groups[0]
    post_index = plan.groups[block.post_group].index
    if g.index.size == 1:
        index = np.zeros(post_index.size, dtype=np.int64)
    elif g.index.size == pops[proj.post].size:
        index = np.asarray(post_index, dtype=np.int64)
    else:
        raise BackendError(f"projection '{proj.name}': modulator '{name}' has {g.index.size} "
                           f"neurons; it needs 1 or as many as '{proj.post}' ({pops[proj.post].size})")
    return g.key, int(g.index.size), index


def build_synapse(block: SynapseBlock, precision: str) -> Any:
    """A plain Lava synapse process for one block, with the projection-wide sign mode."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.sparse.process import DelaySparse, Sparse

    fixed = precision == "fixed"
    w = block.weight.astype(np.int64 if fixed else np.float64)
    kw: dict[str, Any] = {"name": block.name}
    if fixed:
        kw.update(weight_exp=block.weight_exp, num_weight_bits=block.num_weight_bits,
                  sign_mode=lava_sign_mode(block.sign_mode))
    if block.kind in ("delay_dense", "delay_sparse"):
        max_delay = int(block.delay.max())
        if block.kind == "delay_dense":
            delays = block.dense(block.delay.astype(int))
            return DelayDense(weights=block.dense(w), delays=delays, max_delay=max_delay, **kw)
        # delays share the weights' sparsity pattern (a zero delay is an absent entry)
        delays = block.csr(block.delay.astype(int))
        if block.on_bus:  # static weights: its model stacks the per-delay matrix once
            from .procs.bus_synapse import BusDelaySparse

            return BusDelaySparse(weights=block.csr(w), delays=delays, max_delay=max_delay, **kw)
        return DelaySparse(weights=block.csr(w), delays=delays, max_delay=max_delay, **kw)
    if block.kind == "sparse":
        return Sparse(weights=block.csr(w), **kw)
    return Dense(weights=block.dense(w), **kw)


def build_conv(block: SynapseBlock, source: Any, post: Any) -> Any:
    """A Lava Conv for a conv block, wired through virtual ports: the pre process's NCHW
    spikes reshaped to (C, H, W) and transposed to Lava's (W, H, C), and back for a_out."""
    from lava.proc.conv.process import Conv

    c = block.conv
    assert c is not None
    syn = Conv(weight=c.weight, weight_exp=0, input_shape=c.input_shape, padding=c.padding,
               stride=c.stride, dilation=c.dilation, groups=c.groups, name=block.name)
    if tuple(syn.output_shape) != c.output_shape:  # the plan checked the geometry
        raise BackendError(f"projection '{block.proj}': Lava's Conv gives {syn.output_shape}, "
                           f"expected {c.output_shape}")
    source.s_out.reshape(c.in_chw).transpose((2, 1, 0)).connect(syn.s_in)
    syn.a_out.transpose((2, 1, 0)).reshape((block.shape[0],)).connect(post.a_in)
    return syn


def build_bus(plan: LavaPlan, neurons: dict[str, Any]) -> Any:
    """The spike bus (`procs/bus.py`): every group of `plan.bus` into it, in bus order."""
    from .procs.bus import SpikeBus

    bus = SpikeBus(sizes=[plan.groups[k].index.size for k in plan.bus], name=BUS)
    for i, key in enumerate(plan.bus):
        neurons[key].s_out.connect(bus.in_port(i))
    return bus


def build_network(plan: LavaPlan, pops: dict[str, Population], projs: dict[str, Projection],
                  steps: int, sources: dict[str, np.ndarray], record_dir: str,
                  record_vu: set[str], options: dict[str, Any]) -> Built:
    """All processes of the plan, connected: pre s_out (or the spike bus) -> block s_in,
    block a_out -> post a_in (Lava sums several connections into one InPort)."""
    built = Built()
    for key, g in plan.groups.items():
        path = None if g.is_source else f"{record_dir}/{len(built.record_paths)}.npy"
        if path:
            built.record_paths[key] = path
        built.neurons[key] = build_neuron(g, pops[g.pop], plan.precision, steps,
                                          sources.get(g.pop), path, g.pop in record_vu, options)
    if plan.bus:
        built.bus = build_bus(plan, built.neurons)
    for key, b in plan.blocks.items():
        built.synapses[key] = _build_block(plan, b, pops, projs, built, options)
    for pre, post in plan.links:  # zero weights: adds nothing, only makes Lava run both parts
        built.synapses[link_name(pre, post)] = _build_link(plan, pre, post, built)
    return built


def _build_block(plan: LavaPlan, b: SynapseBlock, pops: dict[str, Population],
                 projs: dict[str, Projection], built: Built, options: dict[str, Any]) -> Any:
    """One block's synapse process, wired: its input from the spike bus (a bus block) or
    its source slice, plus the post spikes (and the modulator's) when plastic."""
    source = built.bus if b.on_bus else built.neurons[b.pre_group]
    proj = projs.get(b.proj)  # None for a block merging several projections
    if b.kind == "conv":
        return build_conv(b, source, built.neurons[b.post_group])
    if proj is None or proj.plasticity is None:
        syn = build_synapse(b, plan.precision)
        source.s_out.connect(syn.s_in)
        syn.a_out.connect(built.neurons[b.post_group].a_in)
        return syn
    factory = options.get("learning_rule_factory")
    mod = modulator_wiring(plan, pops, proj, b) if factory is not None else None
    kw = {"modulator": mod[1:]} if mod else {}
    syn = lower_projection(b, proj, plan.precision, learning_rule_factory=factory, **kw)
    source.s_out.connect(syn.s_in)
    syn.a_out.connect(built.neurons[b.post_group].a_in)
    if proj.plasticity is not None:  # post spikes drive the learning engine's y traces
        built.neurons[b.post_group].s_out.connect(syn.s_in_bap)
    if mod:  # the modulator's spikes drive the y2 trace (same step, as on cpu)
        built.neurons[mod[0]].s_out.connect(syn.s_in_mod)
    return syn


def _build_link(plan: LavaPlan, pre: str, post: str, built: Built) -> Any:
    from lava.proc.dense.process import Dense

    n_pre, n_post = plan.groups[pre].index.size, plan.groups[post].index.size
    dtype = np.int64 if plan.precision == "fixed" else np.float64
    link = Dense(weights=np.zeros((n_post, n_pre), dtype=dtype), name=link_name(pre, post))
    built.neurons[pre].s_out.connect(link.s_in)
    link.a_out.connect(built.neurons[post].a_in)
    return link
