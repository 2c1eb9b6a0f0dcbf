"""What a Lava plan will cost before Lava starts: processes, memory and construction time.

Lava starts one OS process per Lava process, so a plan's memory and start-up grow with its
process count: about two per compiled core at granularity 'core' (a LIF slice and one merged
synapse process), a few hundred cores already past what starts within minutes. The figures
below were measured on a 2-core, 24 GiB machine with `bench/lava_processes.py` (results in
`bench/results/lava_processes.md`);
`size_problems` turns a plan over the memory budget (`compiler.budget`) or over the process
limit into a Diagnostic giving the estimate, the limit and the remedy.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

import numpy as np

from compiler.budget import human, memory_limit, remedy_text
from compiler.errors import Diagnostic
from compiler.program import Program

from .bus_blocks import merge_class
from .plan import SPARSE_BELOW, on_bus, unit_of

PROCESS_MIB = 9.0  # measured 8.4: memory (PSS) per Lava process, its OS process included
BASE_MIB = 80.0  # measured: the worker and Lava's runtime with a handful of processes
BUILD_S = (0.09, 3.7e-4)  # measured: construct + start seconds = a * n + b * n^2 (n processes)
WEIGHT_COPIES = 3  # a block's weights live in the plan, the Lava process and its model
MAX_PROCESSES = 600  # about the most that construct and start within 3 minutes (BUILD_S)
ENV_MAX = "SNNC_LAVA_MAX_PROCESSES"
THREADS_PER_PROCESS = 4  # assumed OS tasks (process + threads) per Lava process


@dataclass(frozen=True)
class PlanCost:
    """The estimate for one plan: Lava processes, bytes of memory, seconds to construct."""

    neuron_processes: int
    synapse_processes: int
    weight_bytes: int
    bus_processes: int = 0  # the spike bus of granularity 'core' / 'chip'

    @property
    def processes(self) -> int:
        return self.neuron_processes + self.synapse_processes + self.bus_processes

    @property
    def memory_bytes(self) -> int:
        per_process = (BASE_MIB + PROCESS_MIB * self.processes) * (1 << 20)
        return int(per_process + WEIGHT_COPIES * self.weight_bytes)

    @property
    def build_s(self) -> float:
        n = self.processes
        return BUILD_S[0] * n + BUILD_S[1] * n * n


def _group_ids(program: Program, pop: str, granularity: str) -> tuple[np.ndarray, np.ndarray]:
    """(group number per neuron, size per group) of one population, as `plan.make_plan`."""
    units = unit_of(program, pop, granularity)
    if units is None:
        size = program.network.populations[pop].size
        return np.zeros(size, np.int64), np.array([size], np.int64)
    _, gid, sizes = np.unique(units, return_inverse=True, return_counts=True)
    return gid.astype(np.int64).ravel(), sizes.astype(np.int64)


def estimate(program: Program, granularity: str) -> PlanCost:
    """The plan's processes and weight bytes, counted from the synapses without building it
    (numpy only: seconds even for thousands of blocks). Bus blocks are counted as if every
    projection of a merge class shared them (`bus_blocks`: a few may need more)."""
    net = program.network
    groups = {name: _group_ids(program, name, granularity) for name in net.populations}
    n_neuron = sum(sizes.size for _, sizes in groups.values())
    n_syn, nbytes = 0, 0
    merged: set[tuple[str, int, tuple]] = set()  # (post population, slice, merge class)
    for proj in net.projections.values():
        if proj.pre_idx.size == 0:
            continue
        (pre_g, pre_n), (post_g, post_n) = groups[proj.pre], groups[proj.post]
        factor = 2 if proj.delay.size and int(proj.delay.max()) > 0 else 1
        if proj.conv is not None and pre_n.size == post_n.size == 1 and granularity != "grouped":
            n_syn += 1  # may be a Conv process beside the bus (`plan`): counted, to be safe
        if on_bus(proj, granularity):
            cls = merge_class(proj, net.precision, dense=False)
            merged.update((proj.post, int(d), cls) for d in np.unique(post_g[proj.post_idx]))
            nbytes += factor * 12 * int(proj.pre_idx.size)
            continue
        key = pre_g[proj.pre_idx] * post_n.size + post_g[proj.post_idx]
        blocks, count = np.unique(key, return_counts=True)
        elements = pre_n[blocks // post_n.size] * post_n[blocks % post_n.size]
        sparse = count < SPARSE_BELOW * elements
        nbytes += factor * int(np.sum(np.where(sparse, 12 * count, 8 * elements)))
        n_syn += int(blocks.size)
    return PlanCost(n_neuron, n_syn + len(merged), nbytes, bus_processes=int(bool(merged)))


def process_limit() -> tuple[int, str]:
    """(most Lava processes, where it comes from): MAX_PROCESSES or `SNNC_LAVA_MAX_PROCESSES`,
    and never more than the OS lets this user start (ulimit -u, kernel.pid_max)."""
    raw = os.environ.get(ENV_MAX, "").strip()
    limit, source = MAX_PROCESSES, "about the most that start within a few minutes here"
    if raw.isdigit() and int(raw) > 0:
        limit, source = int(raw), f"{ENV_MAX}={raw}"
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    os_caps = []
    if soft != resource.RLIM_INFINITY:
        os_caps.append((int(soft) // THREADS_PER_PROCESS, f"ulimit -u {soft}"))
    try:
        with open("/proc/sys/kernel/pid_max", encoding="ascii") as fh:
            pid_max = int(fh.read())
        os_caps.append((pid_max // THREADS_PER_PROCESS, f"kernel.pid_max {pid_max}"))
    except (OSError, ValueError):
        pass
    for cap, why in os_caps:
        if cap < limit:
            limit, source = cap, f"{why} / {THREADS_PER_PROCESS} tasks per Lava process"
    return limit, source


def size_problems(program: Program, granularity: str) -> list[Diagnostic]:
    """A Diagnostic when the plan would exceed the memory budget or the process limit."""
    cost = estimate(program, granularity)
    remedy = {"core": "--granularity chip (one Lava process set per chip) or --granularity "
                      "grouped (one Lava process per population and projection)",
              "chip": "--granularity grouped (one Lava process per population and projection)"
              }.get(granularity, "fewer populations and projections")
    remedy += ", fewer cores (a target with larger cores), or --backend cpu"
    bus = ", 1 spike bus" if cost.bus_processes else ""
    what = (f"the lava plan at granularity '{granularity}' has {cost.processes} Lava "
            f"processes ({cost.neuron_processes} neuron, {cost.synapse_processes} synapse"
            f"{bus}), one OS process each: about {human(cost.memory_bytes)} and "
            f"{_duration(cost.build_s)} to construct")
    over, allowed = [], remedy
    limit, source = process_limit()
    if cost.processes > limit:
        over.append(f"the limit of {limit} processes ({source})")
        allowed += f"; or set {ENV_MAX} to allow more processes"
    mem, mem_source = memory_limit()
    if cost.memory_bytes > mem:
        over.append(f"the memory limit of {human(mem)} ({mem_source})")
        allowed = remedy_text(allowed)
    if not over:
        return []
    return [Diagnostic(f"{what}; more than {' and '.join(over)}", field="--granularity",
                       allowed=allowed)]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
