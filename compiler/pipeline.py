"""The compile pipeline: target -> target checks -> quantize -> partition -> place -> Program.

A float network keeps its float semantics in the Program by default (it runs as Lava's
floating_pt would); its quantized copy is what the partitioner sizes synapse memory with,
and the quantization report says what fixed point would cost. `quantize=True` puts the
quantized (fixed-point, hardware-faithful) network into the Program instead.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import Diagnostic, FitError
from .ir import NetworkIR
from .passes.quantize import lava_effective_weights, lossless_weight_bits
from .passes.quantize import quantize as quantize_net
from .plasticity import check_network, native_notes
from .program import CompileReport, Core, Program
from .target import Target
from .targets import load_target

if TYPE_CHECKING:  # the passes are imported when compiling (they import much of the compiler)
    from .passes.partition.context import Partition
    from .passes.place import Placement
    from .passes.resources.usage import Usage


def resolve_target(net: NetworkIR, target: Target | str | os.PathLike | None = None) -> Target:
    """The Target to compile for: `target` if given (paths relative to the cwd), else
    `net.target` (a built-in name or a path relative to the network file)."""
    if isinstance(target, Target):
        return target
    if target is not None:
        return load_target(target)
    base_dir = Path(net.source_file).parent if net.source_file else None
    return load_target(net.target or "loihi2", base_dir=base_dir, loc=net.loc("target"))


def check_fits_target(net: NetworkIR, target: Target) -> None:
    """FitError (all problems at once, with file:line) for delays and weight precision the
    target cannot hold."""
    diags: list[Diagnostic] = []
    max_delay, wbits = target.core.max_delay, target.core.weight_bits
    for name, proj in net.projections.items():
        if proj.n_synapses and int(proj.delay.max()) > max_delay:
            n_bad = int(np.count_nonzero(proj.delay > max_delay))
            diags.append(Diagnostic.at(
                net.loc(f"projections.{name}.delay"),
                f"delay {int(proj.delay.max())} ({n_bad} synapses) exceeds target "
                f"'{target.name}' max_delay {max_delay}",
                f"delays 0..{max_delay} on this target, or a target with a larger core.max_delay"))
        if net.precision == "fixed" and proj.num_weight_bits > wbits:
            need = lossless_weight_bits(
                lava_effective_weights(proj.weight, proj.num_weight_bits), 8)
            hint = (f"; these weights need only {need} bits, so num_weight_bits: {need} is exact"
                    if need <= wbits else
                    f"; set num_weight_bits: {wbits} (weights then lose {need - wbits} bits)")
            diags.append(Diagnostic.at(
                net.loc(f"projections.{name}.num_weight_bits"),
                f"num_weight_bits {proj.num_weight_bits} exceeds target '{target.name}' "
                f"weight_bits {wbits}{hint}",
                f"num_weight_bits 1..{wbits}"))
    if diags:
        raise FitError(diags)


def _scalar_lower_bound(value: Any) -> int | None:
    if isinstance(value, dict):
        if isinstance(value.get("cores"), (int, np.integer)):
            return int(value["cores"])
        nums = [v for v in value.values() if isinstance(v, (int, float, np.integer, np.floating))]
        return int(max(nums)) if nums else None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return int(value)
    return None


def build_cores(core_of: dict[str, np.ndarray], usage: Usage, placement: Placement, n_cores: int
                ) -> tuple[dict[str, np.ndarray], list[Core]]:
    """One Core per used core id (renumbered 0..n-1, empty cores dropped) and the matching
    per-neuron core ids."""
    used = np.zeros(n_cores, dtype=bool)
    for c in core_of.values():
        used[np.asarray(c)] = True
    old_ids = np.flatnonzero(used)
    remap = np.full(n_cores, -1, dtype=np.int64)
    remap[old_ids] = np.arange(old_ids.size)
    new_core_of = {pop: remap[np.asarray(c)].astype(np.int32) for pop, c in core_of.items()}
    per_core: list[dict[str, np.ndarray]] = [{} for _ in range(old_ids.size)]
    for pop, c in new_core_of.items():
        order = np.argsort(c, kind="stable").astype(np.int32)
        counts = np.bincount(c, minlength=old_ids.size)
        for cid, idx in zip(np.flatnonzero(counts), _nonempty(order, counts), strict=True):
            per_core[cid][pop] = idx

    def arr(obj: Any, name: str) -> np.ndarray:
        return np.asarray(getattr(obj, name), dtype=np.int64)[old_ids]

    chip, core, x, y = (arr(placement, k) for k in ("chip", "core", "x", "y"))
    bits, ins, outs = (arr(usage, k) for k in ("synapse_bits", "in_axons", "out_axons"))
    cores = [Core(id=i, chip=int(chip[i]), core=int(core[i]), x=int(x[i]), y=int(y[i]),
                  neurons=per_core[i], synapse_bits=int(bits[i]), in_axons=int(ins[i]),
                  out_axons=int(outs[i])) for i in range(old_ids.size)]
    return new_core_of, cores


def _nonempty(order: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """The index groups of `order` split by `counts`, keeping only non-empty ones."""
    parts = np.split(order, np.cumsum(counts)[:-1])
    return [p for p, n in zip(parts, counts, strict=True) if n > 0]


def compile_network(net: NetworkIR, target: Target | str | os.PathLike | None = None,
                    partitioner: str = "auto", *, time_budget_s: float = 30.0,
                    quantize: bool = False) -> Program:
    """Compile a network for a target: checks, quantization, partition, placement.

    `target` overrides `net.target`; `quantize=True` makes a float network's Program run
    in fixed point (the quantized network), otherwise it keeps float semantics.
    """
    from .passes.partition import partition
    from .passes.place import place

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        timings[name] = now - start
        return now

    tgt = resolve_target(net, target)
    t = lap("target", t0)
    net.validate()  # value ranges and references of an IR built in Python, like YAML's
    check_fits_target(net, tgt)
    check_network(net, tgt)
    t = lap("checks", t)
    with warnings.catch_warnings():
        if net.precision == "float" and not quantize:
            # the program keeps float semantics: quantization is only a what-if report here
            warnings.simplefilter("ignore")
        qnet, qreport = quantize_net(net, weight_bits=tgt.core.weight_bits)
    t = lap("quantize", t)
    part = partition(qnet, tgt, method=partitioner, time_budget_s=time_budget_s)
    t = lap("partition", t)
    placement = place(qnet, part, tgt)
    t = lap("place", t)
    core_of, cores = build_cores(part.core_of, part.usage, placement, int(part.n_cores))
    lap("program", t)
    report = _report(net, tgt, quantize, qreport, part, placement, cores)
    report.timings_s = timings
    report.compile_time_s = time.perf_counter() - t0
    network = qnet if quantize else net
    return Program(network=network, target=tgt, core_of=core_of, cores=cores,
                   partitioner=part.method, report=report)


def _report(net: NetworkIR, tgt: Target, quantize: bool, qreport: dict[str, Any],
            part: Partition, placement: Placement, cores: list[Core]) -> CompileReport:
    """The compile report from the passes' results (timings are filled in by the caller)."""
    pstats = dict(part.stats or {})
    lb = pstats.get("lower_bound")
    return CompileReport(
        target=tgt.name,
        precision=net.precision,
        quantized=bool(quantize and net.precision == "float"),
        quantization=qreport,
        partitioner=part.method,
        partition=pstats,
        placement=dict(placement.stats or {}),
        lower_bound=_scalar_lower_bound(lb),
        lower_bound_by_limit=lb if isinstance(lb, dict) else None,
        cores_used=len(cores),
        chips_used=1 + max((c.chip for c in cores), default=0),
        warnings=list(qreport.get("warnings", [])),
        not_native=list(native_notes(net)),
    )


def compile_file(path: str | os.PathLike, target: Target | str | None = None,
                 partitioner: str = "auto", **options: Any) -> Program:
    """Load a network YAML file and compile it (see `compile_network`)."""
    from .frontend import load_network

    return compile_network(load_network(path), target=target, partitioner=partitioner, **options)
