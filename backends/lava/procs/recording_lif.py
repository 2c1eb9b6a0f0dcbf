"""A Lava LIF that records its own spikes, v and u and writes them to a file once, at the end.

Lava's Monitor, sinks and `Var.get()` cost ~14 us per element; this model runs Lava's own
LIF dynamics (it subclasses the stock models) and saves one .npy per run instead.
"""

from __future__ import annotations

import os

import numpy as np
from lava.magma.core.decorator import implements
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import PyLifModelBitAcc, PyLifModelFloat
from lava.proc.lif.process import LIF

from compiler.neuron_math import adapt_update, wta_select


class RecordingLIF(LIF):
    """Lava's LIF plus proc params `record_path` (.npy to write), `record_steps`, `record_vu`,
    and optionally `adapt_increment`, `adapt_tau`: snnc's adaptive threshold (not in Lava's
    LIF), and `wta` (winner-take-all); both as defined in `compiler.neuron_math`."""


class _Recorder:
    """Mixin: after each step, store spikes (and v, u); on the last step save to `record_path`."""

    def _record_init(self) -> None:
        p = self.proc_params
        self._rec_path = p["record_path"]
        self._rec_steps = int(p["record_steps"])
        self._rec_vu = bool(p.get("record_vu", False))
        self._rec_fail = p.get("fail_on_step")  # test hook: raise inside Lava at this step
        self._rec = None
        self._adapt = p.get("adapt_increment") is not None
        self._th = None  # adaptive threshold offset, in units of v

    def _threshold_offset(self):
        """The adaptive threshold offset for this step's spike test (0 without adaptation)."""
        if not self._adapt:
            return 0
        if self._th is None:
            fixed = self.v.dtype.kind != "f"
            self._th = np.zeros(self.v.shape, dtype=np.int64 if fixed else np.float64)
        return self._th

    def _adapt_step(self, spikes) -> None:
        """`neuron_math.adapt_update` on this model's int64 / float64 offset."""
        adapt_update(self._th, spikes, float(self.proc_params["adapt_increment"]),
                     float(self.proc_params["adapt_tau"]), fixed=self._th.dtype.kind != "f")

    def _select(self, spikes, margin):
        """Winner-take-all (proc param `wta`): `neuron_math.wta_select`."""
        return wta_select(spikes, margin) if self.proc_params.get("wta", False) else spikes

    def _record_step(self) -> None:
        if self._adapt:
            self._adapt_step(self.s_out_buff != 0)
        if self._rec_fail is not None and self.time_step == int(self._rec_fail):
            raise RuntimeError(f"deliberate failure at step {self.time_step} (test hook)")
        if self._rec is None:
            n = self.v.shape[0]
            rows = 3 if self._rec_vu else 1
            # spikes alone as bool: a long phased run (e.g. 800k steps x 400 neurons) stays small
            dtype = bool if not self._rec_vu else np.float64 if self.v.dtype.kind == "f" else np.int64
            self._rec = np.zeros((rows, self._rec_steps, n), dtype=dtype)
        t = self.time_step - 1
        if t < self._rec_steps:
            self._rec[0, t] = self.s_out_buff != 0
            if self._rec_vu:
                self._rec[1, t] = self.v
                self._rec[2, t] = self.u
        if self.time_step == self._rec_steps:
            tmp = self._rec_path + ".part.npy"
            np.save(tmp, self._rec)
            os.replace(tmp, self._rec_path)


@implements(proc=RecordingLIF, protocol=LoihiProtocol)
class PyRecordingLifModelFixed(_Recorder, PyLifModelBitAcc):
    """Lava's bit-accurate LIF (fixed_pt), recording its own state (tags, CPU inherited)."""

    implements_process = None  # re-bound by @implements (Lava forbids re-binding an inherited one)

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._record_init()

    def spiking_activation(self):
        thr = self.effective_vth + self._threshold_offset()
        return self._select(self.v > thr, self.v.astype(np.int64) - thr)

    def run_spk(self) -> None:
        super().run_spk()
        self._record_step()


@implements(proc=RecordingLIF, protocol=LoihiProtocol)
class PyRecordingLifModelFloat(_Recorder, PyLifModelFloat):
    """Lava's floating-point LIF, recording its own state (tags, CPU inherited)."""

    implements_process = None

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    vth: float = LavaPyType(float, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._record_init()

    def spiking_activation(self):
        thr = self.vth + self._threshold_offset()
        return self._select(self.v > thr, self.v - thr)

    def run_spk(self) -> None:
        super().run_spk()
        self._record_step()
