"""Phased runs on Lava: one Lava network, one `run()` per phase, changes at exact steps.

Design. The whole timeline (all phases) is one Lava network run in the worker under the
watchdog: the sources are RingBuffers holding every phase's spikes, and `run(RunSteps(n))`
is called once per phase, then `stop()` once. What a phase changes is precomputed here, in
the parent, as a *schedule* `{first Lava time step of the phase: new value}` attached to the
processes' proc_params, and applied by thin subclasses of the process models at the start
of that step (`phased_proc_model_map`). Var.set between runs is not enough: Lava's fixed LIF
caches `vth << 6` after its first step, the adaptive threshold's increment/tau and the
learning engine have no Vars, and a schedule does not depend on how the steps are split
into `run` calls. Each change equals the cpu backend's (backends/cpu/simulator.py):
* `weight_scale`: the block's matrix becomes `effective_weights(rint(s * w0))` of the cpu's
  w0 (fixed; float: `s * w0`); such projections are lowered to (Delay)Dense;
* lif / adapt parameters: `lowering.lif_kwargs` of the changed LIFParams (u, v and the
  adaptive threshold are kept);
* plasticity off: the learning engine is frozen (no traces, randoms or epochs advance; the
  post spikes are still received) and counts its own steps for epochs, like the cpu's
  paused learner.
Model classes are built in the worker only (`import backends.lava.phases` needs no Lava).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler.errors import BackendError
from compiler.ir import LIFParams, Phase, Probe
from compiler.program import Program

from .gating import SCHEDULE, gated_model


@dataclass(frozen=True)
class PhasedModelMap:
    """Picklable `proc_model_map` option: `inner` (the run's own map, a dict or a callable
    of the precision, or None) with the models it selects made schedule-aware."""

    inner: Any = None

    def __call__(self, precision: str) -> dict:
        inner = self.inner(precision) if callable(self.inner) else dict(self.inner or {})
        return phased_proc_model_map(precision, inner)


def phased_proc_model_map(precision: str, inner: dict | None = None) -> dict:
    """{Process: model} for RecordingLIF, Dense, DelayDense and the learning processes,
    each applying its `snnc_schedule` (models of `inner` are subclassed, stock ones else)."""
    from lava.proc.dense import models as dm
    from lava.proc.dense.process import DelayDense, Dense, LearningDense
    from lava.proc.sparse.process import LearningSparse

    from .procs import recording_lif as rl

    fixed = precision == "fixed"
    inner = dict(inner or {})
    stock = {
        rl.RecordingLIF: rl.PyRecordingLifModelFixed if fixed else rl.PyRecordingLifModelFloat,
        Dense: dm.PyDenseModelBitAcc if fixed else dm.PyDenseModelFloat,
        DelayDense: dm.PyDelayDenseModelBitAcc if fixed else dm.PyDelayDenseModelFloat,
    }
    out = dict(inner)
    for proc, base in stock.items():
        base = inner.get(proc, base)
        out[proc] = _lif_model(base) if proc is rl.RecordingLIF else _weights_model(base)
    for proc in (LearningDense, LearningSparse):
        if proc in inner:
            out[proc] = gated_model(inner[proc])
    return out


def _lif_model(base: type) -> type:
    class ScheduledLIF(base):
        """`base` plus LIF / adapt parameter changes at scheduled steps."""

        def run_spk(self) -> None:
            kw = self.proc_params.get(SCHEDULE, {}).get(self.time_step)
            if kw is not None:
                _set_lif(self, kw)
            super().run_spk()

    ScheduledLIF.__name__ = f"Scheduled{base.__name__}"
    return ScheduledLIF


def _set_lif(model: Any, kw: dict[str, Any]) -> None:
    """New LIF parameters (from `lif_kwargs`) in a running LIF model; state is kept."""
    model.du, model.dv = kw["du"], kw["dv"]
    for name in ("bias_mant", "bias_exp"):
        cur = getattr(model, name)
        if isinstance(cur, np.ndarray):
            setattr(model, name, np.broadcast_to(np.asarray(kw[name]), cur.shape).astype(cur.dtype))
        else:
            setattr(model, name, kw[name])
    model.vth = kw["vth"]
    model.isthrscaled = False  # fixed: recompute vth << 6 (Lava caches it after step 1)
    for name in ("adapt_increment", "adapt_tau", "wta"):
        if name in kw:
            model.proc_params.overwrite(name, kw[name])


def _weights_model(base: type) -> type:
    class ScheduledWeights(base):
        """`base` whose weight matrix is replaced at scheduled steps (already quantized)."""

        def run_spk(self) -> None:
            w = self.proc_params.get(SCHEDULE, {}).get(self.time_step)
            if w is not None:
                self.weights = np.asarray(w).astype(self.weights.dtype)
            super().run_spk()

    ScheduledWeights.__name__ = f"Scheduled{base.__name__}"
    return ScheduledWeights


def attach_schedules(built: Any, schedules: dict[str, dict[int, Any]]) -> None:
    """Put each process's schedule (by plan key) into its proc_params (worker side)."""
    procs = {**built.neurons, **built.synapses}
    for key, sched in schedules.items():
        procs[key].proc_params.overwrite(SCHEDULE, sched)


# -- parent side -----------------------------------------------------------------------


def build_schedules(program: Program, plan: Any, phases: list[Phase], steps: list[int]
                    ) -> dict[str, dict[int, Any]]:
    """{plan key: {first step of a phase (1-based): change}} for every phase's `plastic`
    switches and `set:` overrides, applied in order and kept until changed (as on cpu)."""
    net = program.network
    out: dict[str, dict[int, Any]] = {}
    params = {p.name: p.lif or LIFParams() for p in net.neuron_populations}
    plastic = {n: True for n, p in net.projections.items() if p.plasticity is not None}
    start = 1
    for phase, n in zip(phases, steps, strict=True):
        _plastic_switches(plan, phase, plastic, start, out)
        changed_pops, scaled = _apply_overrides(phase, params)
        _lif_changes(program, plan, changed_pops, params, start, out)
        for name, scale in scaled.items():
            for key, w in scaled_blocks(program, plan, name, scale).items():
                out.setdefault(key, {})[start] = w
        start += int(n)
    return out


def _plastic_switches(plan: Any, phase: Phase, plastic: dict[str, bool], start: int,
                      out: dict[str, dict[int, Any]]) -> None:
    """The phase's `plastic:` switches, on every block of each named projection."""
    for name, on in phase.plastic.items():
        if name not in plastic:
            raise BackendError(f"phase '{phase.name}': '{name}' is not a plastic projection")
        for b in plan.blocks.values():
            if b.proj == name:
                out.setdefault(b.key, {})[start] = bool(on)
        plastic[name] = bool(on)


def _apply_overrides(phase: Phase, params: dict[str, LIFParams]
                     ) -> tuple[set[str], dict[str, float]]:
    """Apply the phase's lif / adapt overrides to `params`; (populations changed, weight
    scale per projection)."""
    changed: set[str] = set()
    scaled: dict[str, float] = {}
    for ov in phase.overrides:
        if ov.kind == "weight_scale":
            scaled[ov.target] = float(ov.value)
        elif ov.kind in ("lif", "adapt"):
            params[ov.target] = _replace_param(params[ov.target], ov.kind, ov.param, ov.value)
            changed.add(ov.target)
        elif ov.kind != "plastic":
            raise BackendError(f"unknown override kind '{ov.kind}' ({ov.path})")
    return changed, scaled


def _lif_changes(program: Program, plan: Any, pops: set[str], params: dict[str, LIFParams],
                 start: int, out: dict[str, dict[int, Any]]) -> None:
    """The new LIF arguments of each changed population, on every group of it."""
    from .lowering import lif_kwargs

    for pop in pops:
        popu = dataclasses.replace(program.network.populations[pop], lif=params[pop])
        for g in plan.groups_of(pop):
            out.setdefault(g.key, {})[start] = lif_kwargs(popu, g, plan.precision)


def _replace_param(p: LIFParams, kind: str, param: str, value: float) -> LIFParams:
    if kind == "adapt":
        if p.adapt is None:
            raise BackendError(f"adapt.{param}: the population has no adapt block")
        return dataclasses.replace(p, adapt=dataclasses.replace(p.adapt, **{param: value}))
    return dataclasses.replace(p, **{param: value})


def scaled_blocks(program: Program, plan: Any, proj_name: str, scale: float) -> dict[str, np.ndarray]:
    """Each (Delay)Dense block matrix of static projection `proj_name` at `scale` times its
    compiled weights, quantized exactly as the cpu backend's `set_weight_scale`."""
    from compiler.lava_weights import effective_weights, scaled_weights

    net = program.network
    proj = net.projections[proj_name]
    if proj.plasticity is not None:
        raise BackendError(f"weight_scale('{proj_name}'): plastic projections cannot be scaled")
    n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
    if plan.precision == "fixed":
        w = scaled_weights(effective_weights(proj.weight, proj.num_weight_bits), scale,
                           proj.num_weight_bits)
    else:
        w = float(scale) * np.asarray(proj.weight, dtype=np.float64)
    full = np.zeros((n_post, n_pre), dtype=w.dtype)
    full[proj.post_idx, proj.pre_idx] = w
    out = {}
    for b in plan.blocks.values():
        if b.proj != proj_name:
            continue
        if b.kind not in ("dense", "delay_dense"):
            raise BackendError(f"projection '{proj_name}': weight_scale needs a Dense block "
                               f"(got {b.kind})")
        rows = plan.groups[b.post_group].index
        cols, pre = plan.pre_columns(b, proj.pre)
        m = np.zeros(b.shape, dtype=w.dtype)
        m[:, cols] = full[np.ix_(rows, pre)]
        out[b.key] = m
    return out


def run_phased(program: Program, phases: list[Phase], steps: list[int],
               sources: dict[str, np.ndarray], probes: list[Probe], *,
               granularity: str = "grouped", timeout_s: float | None = None,
               progress: Callable[[int, int], None] | None = None, checked: bool = False,
               **options: Any) -> RunResult:
    """Run `phases` (lengths `steps`) back to back on one Lava network; `sources` holds every
    source population's spikes for the whole timeline, bool (sum(steps), size).

    Returns spikes of every population over the whole timeline, the v/u probes likewise,
    and the final weights of the `<proj>.weights` probes; `meta["phase_run_s"]` holds the
    wall time of each phase's `run()`. `checked=True`: the caller checked the program.
    """
    from . import default_timeout, require_lava
    from .capabilities import check_program, check_timeout
    from .job import assemble
    from .runner import LavaRun

    t0 = time.perf_counter()
    total = int(sum(steps))
    if total < 1 or len(steps) != len(phases):
        raise BackendError(f"phases need >= 1 step in all (got {total} over {len(steps)} runs)")
    limit = check_timeout(timeout_s)
    if not checked:  # else the caller checked (LavaBackend.check)
        check_program(program, options, granularity=granularity, phases=phases)
    require_lava()
    _check_sources(program, sources, total)
    plan, job = _phased_job(program, phases, steps, sources, probes, granularity, options)
    if limit is None:
        limit = default_timeout(plan, total) + 5.0 * len(steps)
    with LavaRun() as lava_run:
        out = lava_run.run(job, limit)
        result = assemble(program, plan, total, probes, sources, out)
    if progress is not None:
        progress(total, total)
    result.wall_s = time.perf_counter() - t0
    timing = out["timing"]
    result.meta.update(granularity=granularity, processes=plan.n_processes, timeout_s=limit,
                       phase_run_s=list(timing.get("runs_s", [])),
                       lava_processes=plan.process_cores(program),
                       synapse_kinds={k: b.kind for k, b in plan.blocks.items()},
                       conv_lowering=dict(plan.conv_lowering),
                       **{f"lava_{k}": v for k, v in timing.items() if k != "runs_s"})
    return result


def _check_sources(program: Program, sources: dict[str, np.ndarray], total: int) -> None:
    """Every source population has spikes of shape (total steps, size)."""
    for name, pop in program.network.populations.items():
        if pop.is_source and sources.get(name) is None:
            raise BackendError(f"run_phased: no spikes for source '{name}'")
        if pop.is_source and sources[name].shape != (total, pop.size):
            raise BackendError(f"run_phased: spikes of '{name}' must be ({total}, {pop.size})")


def _phased_job(program: Program, phases: list[Phase], steps: list[int],
                sources: dict[str, np.ndarray], probes: list[Probe], granularity: str,
                options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The plan and the worker job of a phased run (one `run()` per phase, schedules)."""
    from .job import default_learning, without_synapses
    from .plan import make_plan

    net = program.network
    weight_probes = sorted({p.target for p in probes if p.var == "weights"})
    record_vu = sorted({p.target for p in probes if p.var in ("v", "u")})
    scaled = {ov.target for ph in phases for ov in ph.overrides if ov.kind == "weight_scale"}
    plan = make_plan(program, granularity, dense_projections=frozenset(weight_probes) | scaled,
                     check=False, conv=bool(options.get("conv", True)))
    if options.get("learning_rule_factory") is None:
        default_learning(program, options)
    options["proc_model_map"] = PhasedModelMap(options.get("proc_model_map"))
    job = {"plan": plan, "steps": int(sum(steps)), "sources": sources,
           "populations": net.populations,
           "projections": {k: without_synapses(p) for k, p in net.projections.items()},
           "record_vu": record_vu, "weight_probes": weight_probes,
           "options": {k: v for k, v in options.items() if k != "progress"},
           "runs": [int(n) for n in steps],
           "schedules": build_schedules(program, plan, phases, steps)}
    return plan, job
