"""The lava backend as a `backends.contract.Backend` (registered in backends/__init__.py).

Importing it needs no Lava: runs start Lava in a watched child process (backends/lava).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import backends.lava as lava_package
from backends.contract import Capabilities
from backends.result import RunResult
from compiler.ir import Probe
from compiler.program import Program

from . import timeline
from .capabilities import check_program, check_timeout


class LavaBackend:
    """lava-nc 0.10.0, bit-exact with the cpu backend on what `check` accepts."""

    name = "lava"
    capabilities = Capabilities(phases=True, plasticity=True, plasticity_with_delay=False,
                                wta=True, progress=False, float_precision=True,
                                duplicate_synapses=False, phases_in_chunks=False)
    options: tuple[str, ...] = ("granularity", "timeout_s")

    def __init__(self) -> None:
        self._checked: tuple[Any, tuple] | None = None  # (weakref to program, what was checked)

    def check(self, program: Program, options: dict[str, Any], *, phases: bool = False
              ) -> None:
        """UnsupportedError (an InputError) for a bad `timeout_s` and for everything of
        `program` Lava cannot run at `granularity` (with its phases when `phases`). The next
        `run` / `run_phases` of this program with these options does not check it again."""
        self._checked = None
        rest = dict(options)
        granularity = rest.pop("granularity", "grouped")
        check_timeout(rest.pop("timeout_s", None))
        check_program(program, rest, granularity=granularity,
                      phases=program.network.phases if phases else None)
        self._checked = (weakref.ref(program), _check_key(options, phases))

    def _was_checked(self, program: Program, options: dict[str, Any], phases: bool) -> bool:
        """Whether `check` just passed for this program and options (used once)."""
        done, self._checked = self._checked, None
        return done is not None and done[0]() is program and done[1] == _check_key(
            options, phases)

    def run(self, program: Program, steps: int, probes: Iterable[Probe | str] | None = None,
            *, progress: Callable[[int, int], None] | None = None, **options: Any
            ) -> RunResult:
        """See `backends.lava.run` (looked up at each call); `progress` is not called (the
        run is one Lava call)."""
        chosen = None if probes is None else [
            Probe(*p.rsplit(".", 1)) if isinstance(p, str) else p for p in probes]
        checked = self._was_checked(program, options, phases=False)
        return lava_package.run(program, steps, chosen, checked=checked, **options)

    def run_phases(self, program: Program, probes: Iterable[Probe | str] | None = None, *,
                   progress: Callable[[int, int], None] | None = None, **options: Any
                   ) -> RunResult:
        """See `backends.lava.timeline.run_phases`."""
        checked = self._was_checked(program, options, phases=True)
        return timeline.run_phases(program, probes, progress=progress, checked=checked,
                                   **options)


def _check_key(options: dict[str, Any], phases: bool) -> tuple:
    """What a check depends on: the options (by identity) and whether phases were checked."""
    return phases, tuple(sorted((k, id(v)) for k, v in options.items()))


BACKEND = LavaBackend()
