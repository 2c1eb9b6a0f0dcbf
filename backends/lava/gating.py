"""Learning models that phases can freeze: the schedule key and the gated subclass.

Shared by phased runs (backends/lava/phases.py) and the modulated learning models
(backends/lava/learning.py); Lava is not imported here.
"""

from __future__ import annotations

from typing import Any

SCHEDULE = "snnc_schedule"  # proc_params key: {lava time step (1-based): change}


def gated_model(base: type) -> type:
    """A subclass of learning model `base` that phases can freeze (see the class)."""
    class GatedLearning(base):
        """`base` whose learning engine can be frozen from scheduled steps on; epochs count
        the steps it was on (the engine sees that count as its time step)."""

        def __init__(self, proc_params: Any):
            super().__init__(proc_params)
            self._snnc_on, self._snnc_active, self._snnc_t = True, False, 0

        def run_spk(self) -> None:
            on = self.proc_params.get(SCHEDULE, {}).get(self.time_step)
            if on is not None:
                self._snnc_on = bool(on)
            super().run_spk()

        def recv_traces(self, s_in: Any) -> None:
            self._snnc_active = self._snnc_on
            if not self._snnc_on:
                self.s_in_bap.recv()  # keep the port in step; the engine stays frozen
                return
            self._snnc_t += 1
            ts, self.time_step = self.time_step, self._snnc_t
            try:
                super().recv_traces(s_in)
            finally:
                self.time_step = ts

        def lrn_guard(self) -> bool:
            return self._snnc_active and self._snnc_t % self._learning_rule.t_epoch == 0

        def run_lrn(self) -> None:
            ts, self.time_step = self.time_step, self._snnc_t
            try:
                super().run_lrn()
            finally:
                self.time_step = ts

    GatedLearning.__name__ = f"Gated{base.__name__}"
    return GatedLearning
