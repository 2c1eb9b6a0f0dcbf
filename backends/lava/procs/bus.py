"""A spike bus: one Lava process that concatenates the spikes of many neuron processes.

Lava 0.10's virtual `ConcatPort` (`OutPort.concat_with`) is refused by its compiler ("not
yet supported"), so granularity 'core' cannot feed one synapse process per destination
core from several source processes directly. The bus stands in for the chip's spike
router: neuron process i sends to the bus's InPort `s_in_<i>`, and the bus sends the
concatenation of all of them, in port order, on `s_out` in the same time step (it is a
pass-through, like a virtual port: no step of delay). Each synapse process then takes the
bus's vector as its input, its matrix columns at the bus offsets of its source slices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

PREFIX = "s_in_"


class SpikeBus(AbstractProcess):
    """InPorts `s_in_0` .. `s_in_<k-1>` of `sizes`; OutPort `s_out` of their summed size."""

    def __init__(self, *, sizes: list[int], name: str | None = None) -> None:
        sizes = [int(n) for n in sizes]
        super().__init__(name=name, n_in=len(sizes))
        for i, n in enumerate(sizes):
            setattr(self, f"{PREFIX}{i}", InPort(shape=(n,)))
        self.s_out = OutPort(shape=(int(sum(sizes)),))

    def in_port(self, i: int) -> InPort:
        """The InPort taking the spikes of bus entry `i`."""
        return getattr(self, f"{PREFIX}{i}")


class _ManyInPorts(type(PyLoihiProcessModel)):
    """Lava's compiler looks up each port's LavaPyType on the model class by name; the
    bus has as many InPorts as it has sources, so their types are given by name here."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith(PREFIX) and name[len(PREFIX):].isdigit():
            return LavaPyType(PyInPort.VEC_DENSE, bool, precision=1)
        raise AttributeError(name)


@implements(proc=SpikeBus, protocol=LoihiProtocol)
@requires(CPU)
class PySpikeBusModel(PyLoihiProcessModel, metaclass=_ManyInPorts):
    """Receive every InPort, send their concatenation (binary spikes, as Sparse takes)."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)

    def run_spk(self) -> None:
        n = int(self.proc_params["n_in"])
        parts = [getattr(self, f"{PREFIX}{i}").recv() for i in range(n)]
        self.s_out.send(np.concatenate(parts) if parts else np.zeros(0, bool))
