"""The Lava backend: runs a compiled Program on lava-nc 0.10.0, bit-exact with the cpu backend.

`import backends.lava` is cheap and works without Lava: Lava is only imported by the worker
child process (`backends.lava.worker`), which runs under a watchdog because Lava hangs
forever when a process model raises. What this backend cannot run is refused before the
worker starts (`capabilities.check_program`), and no process or file of a run outlives it
(`runner`). Phased runs (train / label / test): `backends.lava.timeline.run_phases` over
`backends.lava.phases.run_phased`; `backends.lava.backend.BACKEND` is the backend as a
`backends.contract.Backend`.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

from backends.result import RunResult
from compiler.errors import BackendError
from compiler.ir import Probe
from compiler.program import Program
from compiler.sources import source_spikes

from .capabilities import UnsupportedError, check_program, check_timeout
from .job import assemble, default_learning, without_synapses
from .plan import GRANULARITIES, LavaPlan, make_plan

__all__ = ["run", "default_timeout", "GRANULARITIES", "lower_projection", "check_program",
           "check_timeout", "UnsupportedError"]

INSTALL_HINT = ("lava-nc is not installed: run `pip install -e '.[lava]'` with Python 3.10 "
                "(lava-nc 0.10.0 needs exactly 3.10); `make test` sets it up")


def lower_projection(*args: Any, **kwargs: Any) -> Any:
    """See `backends.lava.lowering.lower_projection` (imported lazily)."""
    from .lowering import lower_projection as impl

    return impl(*args, **kwargs)


def lava_available() -> bool:
    """Whether lava-nc (the part the worker runs) can be imported in this environment."""
    try:
        return importlib.util.find_spec("lava.magma.core.run_configs") is not None
    except (ImportError, ValueError):  # a `lava` without magma, or a broken install
        return False


def require_lava() -> None:
    """BackendError saying how to install lava-nc when it is missing."""
    if not lava_available():
        raise BackendError(INSTALL_HINT)


def default_timeout(plan: LavaPlan, steps: int) -> float:
    """Seconds the worker may take, from its start: Python and Lava start-up (60 s), building
    and compiling the processes (per process and per matrix element), then a generous
    per-step, per-process and per-matrix-element allowance (Lava costs ~0.4 ms per process
    per step and grows like N^2)."""
    neurons = sum(g.index.size for g in plan.groups.values())
    per_step = 0.01 * plan.n_processes + 5e-8 * plan.matrix_elements() + 2e-6 * neurons
    build = 2e-7 * plan.matrix_elements() + 0.5 * plan.n_processes
    return 60.0 + build + 3.0 * steps * per_step


def run(program: Program, steps: int, probes: list[Probe] | None = None, *,
        granularity: str = "grouped", timeout_s: float | None = None, checked: bool = False,
        **options: Any) -> RunResult:
    """Run `program` for `steps` steps on Lava; spikes of every population plus the probes.

    granularity: "grouped" (one LIF per population, one synapse process per projection),
    "core" (one LIF per population slice on a compiled core and one synapse process per
    slice, fed by a spike bus: see `plan`) or "chip" (the same per chip). timeout_s:
    watchdog limit in seconds, > 0,
    over the whole run, start-up and construction included (default from the network's size
    and `steps`). What the backend cannot run, and a bad timeout_s, raise UnsupportedError
    (an InputError) before Lava starts. options (picklable: they go to the worker process):
    conv (default True; False keeps convolutions on Sparse/Dense matrices instead of Lava's
    Conv process, see `conv_plan`); learning_rule_factory (see lower_projection);
    proc_model_map (dict Process -> model, or callable(precision) -> dict) passed to
    Loihi2SimCfg's exception_proc_model_map.
    A plan over the memory budget or the process limit is refused the same way (see
    `backends.lava.cost`); `checked=True` skips these program checks (the caller made them:
    `LavaBackend.check`). `result.meta["lava_processes"]` maps each Lava process name
    (`<pop>@core<id>`, `in:<pop>@core<id>` at granularity "core") to the (chip, core) it
    stands for (None where it spans no single core), `meta["lava_process_spikes"]` each
    LIF process to the spikes it recorded, `meta["synapse_kinds"]` each synapse process to
    its kind and `meta["conv_lowering"]` each convolution to "conv" (a Lava Conv process)
    or the reason it stays a Sparse/Dense matrix (see `conv_plan`).
    """
    t0 = time.perf_counter()
    if steps < 1:
        raise BackendError(f"steps must be >= 1 (got {steps})")
    limit = check_timeout(timeout_s)
    if not checked:
        check_program(program, options, granularity=granularity)
    require_lava()
    net = program.network
    probes = list(net.probes) if probes is None else list(probes)
    weight_probes = sorted({p.target for p in probes if p.var == "weights"})
    record_vu = sorted({p.target for p in probes if p.var in ("v", "u")})
    plan = make_plan(program, granularity, dense_projections=frozenset(weight_probes),
                     check=False, conv=bool(options.get("conv", True)))
    if options.get("learning_rule_factory") is None:
        default_learning(program, options)
    sources = {p.name: source_spikes(p, steps, net.seed) for p in net.source_populations}
    job = {"plan": plan, "steps": int(steps), "sources": sources,
           "populations": net.populations,
           # the plan's blocks carry the synapses; the worker needs only names and plasticity
           "projections": {k: without_synapses(p) for k, p in net.projections.items()},
           "record_vu": record_vu, "weight_probes": weight_probes,
           "options": {k: v for k, v in options.items() if k != "progress"}}
    if limit is None:
        limit = default_timeout(plan, steps)
    from .runner import LavaRun

    with LavaRun() as lava_run:
        out = lava_run.run(job, limit)
        result = assemble(program, plan, steps, probes, sources, out)
    result.wall_s = time.perf_counter() - t0
    result.meta.update(granularity=granularity, processes=plan.n_processes,
                       timeout_s=limit, **{f"lava_{k}": v for k, v in out["timing"].items()},
                       synapse_kinds={k: b.kind for k, b in plan.blocks.items()},
                       conv_lowering=dict(plan.conv_lowering),
                       lava_processes=plan.process_cores(program))
    return result
