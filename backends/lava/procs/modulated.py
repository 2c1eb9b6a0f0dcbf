"""Plastic synapse processes with a modulator port: the third factor of reward-modulated rules.

Lava 0.10 cannot route a modulator to its learning engine as snnc defines it: its
Loihi3FLearningRule overwrites the connection's y traces with values the post neuron sends
(stock LearningLIF sends none) and then adds y2 impulses at the post spike times, so
modulator spikes within an epoch cannot reach y2. These processes are LearningDense /
LearningSparse plus an InPort `s_in_mod` taking the modulator population's spikes; their
models (`backends.lava.learning.proc_model_map`) drive the y2 trace from those spikes,
exactly as the CPU engine (backends/cpu/learning.py) does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import LearningDense
from lava.proc.sparse.process import LearningSparse

MOD_INDEX = "snnc_mod_index"


class _ModulatorPort:
    """Mixin: `s_in_mod` (n_mod,) and `snnc_mod_index` (post neuron -> modulator entry)."""

    def _add_modulator(self, n_mod: int, mod_index: Any) -> None:
        self.s_in_mod = InPort(shape=(int(n_mod),))
        self.proc_params.overwrite(MOD_INDEX, np.asarray(mod_index, dtype=np.int64))


class ModulatedLearningDense(_ModulatorPort, LearningDense):
    """LearningDense whose y2 trace follows the spikes arriving on `s_in_mod`."""

    def __init__(self, *, n_mod: int, mod_index: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._add_modulator(n_mod, mod_index)


class ModulatedLearningSparse(_ModulatorPort, LearningSparse):
    """LearningSparse whose y2 trace follows the spikes arriving on `s_in_mod`."""

    def __init__(self, *, n_mod: int, mod_index: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._add_modulator(n_mod, mod_index)



class _Placeholder(PyLoihiProcessModel):
    """Lava must discover a model for a process before it consults the run config's
    exception map; these refuse to run: the real models come from `proc_model_map`."""

    def __init__(self, proc_params: Any):
        raise RuntimeError("ModulatedLearningDense/Sparse need the models of "
                           "backends.lava.learning.proc_model_map (exception_proc_model_map)")


@implements(proc=ModulatedLearningDense, protocol=LoihiProtocol)
@requires(CPU)
class PlaceholderModulatedDenseModel(_Placeholder):
    pass


@implements(proc=ModulatedLearningSparse, protocol=LoihiProtocol)
@requires(CPU)
class PlaceholderModulatedSparseModel(_Placeholder):
    pass
