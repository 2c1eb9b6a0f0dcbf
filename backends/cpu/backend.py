"""The cpu backend as a `backends.contract.Backend` (registered in backends/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import backends.cpu as cpu_package
from backends.contract import Capabilities
from backends.result import RunResult
from compiler.ir import Probe
from compiler.program import Program

from . import phases as phased


class CpuBackend:
    """The cpu simulator (compiled kernels or the numpy reference): runs every valid program."""

    name = "cpu"
    capabilities = Capabilities(phases=True, plasticity=True, plasticity_with_delay=True,
                                wta=True, progress=True, float_precision=True,
                                duplicate_synapses=True, phases_in_chunks=True)
    options: tuple[str, ...] = cpu_package.OPTIONS

    def check(self, program: Program, options: dict[str, Any], *, phases: bool = False
              ) -> None:
        """Nothing to refuse: the cpu backend runs whatever the compiler accepts."""

    def run(self, program: Program, steps: int, probes: Iterable[Probe | str] | None = None,
            *, progress: Callable[[int, int], None] | None = None, **options: Any
            ) -> RunResult:
        """See `backends.cpu.run` (looked up at each call)."""
        return cpu_package.run(program, steps, probes, progress=progress, **options)

    def run_phases(self, program: Program, probes: Iterable[Probe | str] | None = None, *,
                   progress: Callable[[int, int], None] | None = None, **options: Any
                   ) -> RunResult:
        """See `backends.cpu.phases.run_phases`."""
        return phased.run_phases(program, probes, progress=progress, **options)


BACKEND = CpuBackend()
