"""The Python API: compile, run and profile a network, the same as the CLI does."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from backends import get_backend
from backends.contract import is_root
from backends.result import RunResult, add_synapse_lists
from compiler.errors import InputError
from compiler.fileio import check_folder_writable, check_writable
from compiler.ir import PROBE_VARS, Probe
from compiler.program import Program

from .budget_check import check_run
from .loading import prepare, to_program
from .nir_inputs import NirRun
from .results import save_npz


def compile(  # noqa: A001 - mirrors `snnc compile`
    network: Any,
    *,
    target: str | None = None,
    partitioner: str = "auto",
    output: str | os.PathLike | None = None,
    quantize: bool = False,
    dt: float | None = None,
    precision: str | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> Program:
    """Compile a network (path, builder or IR); write the artifact to `output` if given.

    `quantize=True` makes a float network's program run in Loihi fixed point. `dt`,
    `precision` and `inputs` (Input node id -> array or .npy path) import a NIR graph.
    """
    if output is not None:
        check_writable(output, make_parents=False)  # refuse a bad destination before compiling
    network, _ = prepare(network, dt=dt, precision=precision, inputs=inputs)
    program = to_program(network, target=target, partitioner=partitioner, quantize=quantize)
    if output is not None and is_root():  # under an MPI launcher rank 0 alone writes
        from compiler.artifact import save_program

        save_program(program, output)
    return program


def parse_probes(program: Program, names: list[str] | None) -> list[Probe]:
    """Probes named on the command line (`hid.v`), checked against the program."""
    if names is None:
        return list(program.network.probes)
    net = program.network
    probes = []
    for name in names:
        target, _, var = name.rpartition(".")
        ok = (target in net.populations and var in PROBE_VARS) or (
            target in net.projections and var == "weights"
        )
        if not ok:
            raise InputError(
                f"--probe {name}: unknown probe; allowed: <population>.spikes|v|u or "
                "<projection>.weights with names from the network"
            )
        probes.append(Probe(target, var))
    return probes


def run(
    network: Any,
    backend: str = "cpu",
    steps: int | None = None,
    *,
    output: str | os.PathLike | None = None,
    probes: list[str] | None = None,
    target: str | None = None,
    partitioner: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    dt: float | None = None,
    precision: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    **options: Any,
) -> RunResult:
    """Run a network on a backend; returns spikes of every population and the probes.

    `result["hid.spikes"]`, `result["hid.v"]`, `result["proj.weights"]` (final (post, pre)
    matrix) with `result["proj.pre"]`, `["proj.post"]`, `["proj.weight"]` (one entry per
    synapse) are the same arrays the CLI writes to the results .npz (written atomically
    when `output` is given). `progress(done, total)` is called as steps complete.

    A NIR graph (.nir path) is imported with `dt` (seconds per step, default 1.0),
    `precision` ("fixed" default, or "float") and `inputs` (Input node id -> bool or count
    array (steps, *shape) or (steps, size), or a .npy path; every Input node needs one);
    `steps` defaults to the inputs' length; results and `probes` use the NIR node ids.
    """
    if output is not None:
        check_writable(output)  # refuse a bad destination before compiling and running
    if options.get("build") == "ranks":  # each MPI rank builds its share (docs/mpi.md)
        from compiler.distributed import describe

        if "build" not in get_backend(backend).options:
            raise InputError(f"build: 'ranks' needs --backend mpi; backend '{backend}' "
                             "runs a network built whole")
        desc = describe(network, target=target, partitioner=partitioner)
        prepare(network, dt=dt, precision=precision, inputs=inputs)  # refuses NIR options
        program, options, nir_run = desc.skeleton_program(), {**options, "build": desc}, None
    else:
        network, nir_run = prepare(network, dt=dt, precision=precision, inputs=inputs,
                                   steps=steps)
        program = to_program(network, target=target, partitioner=partitioner)
    if program.network.phases:  # a network with phases runs them (runtime/phases.py)
        return _run_phases(program, backend, steps, output, probes, progress, options)
    if nir_run is not None:
        probes = nir_run.probe_names(probes)
    return _run_plain(program, backend, steps, output, probes, progress, options, nir_run)


def _run_plain(program: Program, backend: str, steps: int | None, output: Any,
               probes: list[str] | None, progress: Any, options: dict[str, Any],
               nir_run: NirRun | None = None) -> RunResult:
    """`steps` steps of the program (phases, if any, are not applied); a NIR graph's
    results are keyed by its node ids."""
    n_steps = int(program.network.steps if steps is None else steps)
    if n_steps <= 0:
        raise InputError(f"steps: {n_steps}; allowed: a positive number of steps")
    chosen = parse_probes(program, probes)
    check_run(program, steps, chosen)  # recordings within the memory budget
    engine = get_backend(backend)
    engine.check(program, options)  # what the backend cannot run, before it starts
    t0 = time.perf_counter()
    result = engine.run(program, n_steps, chosen, progress=progress, **options)
    result.wall_s = result.wall_s or time.perf_counter() - t0
    _complete(result, program)
    if nir_run is not None:
        result.spikes = {k[: -len(".spikes")]: v for k, v in
                         nir_run.rename({f"{p}.spikes": s for p, s in result.spikes.items()}).items()}
        result.values = nir_run.rename(result.values)
    if output is not None and is_root():  # under an MPI launcher rank 0 alone writes
        save_npz(output, result.arrays())
    return result


def _complete(result: RunResult, program: Program) -> None:
    """What every run's result carries besides the backend's arrays: its program and the
    synapse list of each projection whose weights it holds."""
    result.meta.setdefault("program", program)
    add_synapse_lists(result.values, program.network.projections)


def _run_phases(program: Program, backend: str, steps: int | None, output: Any,
                probes: list[str] | None, progress: Any, options: dict[str, Any]) -> RunResult:
    """`run` for a network with phases; their lengths come from the network."""
    from .phases import run_phases

    if steps is not None:
        raise InputError(f"steps: {steps}; a network with phases runs its phases "
                         "(set their samples/steps in the file); allowed: no --steps")
    get_backend(backend)  # InputError for an unknown backend name, before the probes
    result = run_phases(program, backend, parse_probes(program, probes), progress=progress,
                        **options)
    _complete(result, program)
    if output is not None and is_root():  # under an MPI launcher rank 0 alone writes
        save_npz(output, result.arrays())
    return result


def profile(
    network: Any,
    backend: str = "cpu",
    steps: int | None = None,
    *,
    plot_dir: str | os.PathLike | None = None,
    target: str | None = None,
    partitioner: str = "auto",
    dt: float | None = None,
    precision: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Static utilization plus activity, time and energy of a run: the `snnc profile` data
    (`dt`, `precision`, `inputs`: a NIR graph's import, as for `run`)."""
    from .profiling import profile_report, write_plots

    if plot_dir is not None:
        check_folder_writable(plot_dir)  # refuse a bad --plot folder before running
    network, _ = prepare(network, dt=dt, precision=precision, inputs=inputs, steps=steps)
    program = to_program(network, target=target, partitioner=partitioner)
    # a network with phases is profiled over `steps` plain steps (dataset inputs keep
    # presenting samples; plasticity as compiled): a representative window, not the phases
    result = _run_plain(program, backend, steps, None, None, options.pop("progress", None),
                        options)
    report = profile_report(program, result)
    if "mpi" in result.meta:  # per-rank compute / exchange / wait and the load imbalance
        report["mpi"] = result.meta["mpi"]
    if plot_dir is not None:
        paths = write_plots(program, report, result, Path(plot_dir))
        report["plots"] = [str(p) for p in paths]
    return report
