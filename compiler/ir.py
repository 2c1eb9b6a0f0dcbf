"""The snnc intermediate representation: plain dataclasses holding numpy arrays.

A `NetworkIR` is what the frontend produces (from YAML or the Python builder) and what
every pass and backend consumes. All random draws (connectivity, weights, delays) are
already made here; spike sources are drawn by `compiler.sources.source_spikes`, deterministic in
(seed, population name, step), so every backend sees the very same numbers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import Location

PRECISIONS = ("fixed", "float")
NEURON_MODELS = ("lif", "spike_source")
SOURCE_KINDS = ("poisson", "periodic", "array")
PROBE_VARS = ("spikes", "v", "u")


@dataclass
class Adapt:
    """Adaptive threshold (homeostasis): threshold rises by `increment` per spike, decays with `tau` steps."""

    increment: float = 0.0
    tau: float = 0.0


# Fixed precision ranges of the LIF parameters, as Lava's fixed_pt LIF stores them.
LIF_FIXED_RANGES = {"du": (0, 4095), "dv": (0, 4095), "vth": (0, 131071),
                    "bias_mant": (-4096, 4095), "bias_exp": (0, 7)}


@dataclass
class LIFParams:
    """Lava LIF parameters. Fixed precision: du, dv in 0..4095, threshold is vth << 6."""

    du: float = 0
    dv: float = 0
    vth: float = 10
    bias_mant: float = 0
    bias_exp: int = 0
    adapt: Adapt | None = None
    # winner-take-all: at most one spike per step, the neuron furthest above its threshold
    # (lowest index on ties); the other candidates keep v. Not native on Loihi (flagged).
    wta: bool = False


@dataclass
class SpikeSource:
    """A spike generator population: poisson (probability per step), periodic, or an array."""

    kind: str
    rate: float = 0.0
    period: int = 1
    phase: int = 0
    data: np.ndarray | None = None  # bool (T, size) for kind == "array"
    dataset: Dataset | None = None  # kind == "dataset" (see compiler/datasets.py)


# --- datasets and phases (compiler/datasets.py, compiler/frontend/phases.py) ---
DATASET_KIND = "dataset"  # spike source kind fed by a Dataset (kept out of SOURCE_KINDS)


@dataclass
class Dataset:
    """Samples for a `dataset` spike source: x (n, size) >= 0, labels y (n,), named splits.

    `splits[name]` holds sample indices; each sample is shown for `present` steps as
    Bernoulli spikes with p = max_rate * x / x_max, then `rest` silent steps.
    """

    name: str
    x: np.ndarray  # float64 (n, size)
    y: np.ndarray  # int64 (n,)
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    encoding: str = "rate"
    max_rate: float = 0.3
    present: int = 100
    rest: int = 0
    x_max: float = 1.0  # the scale: max of x over the whole dataset (1.0 if all zero)

    @property
    def period(self) -> int:
        return self.present + self.rest


@dataclass
class Override:
    """One phase `set:` entry: kind weight_scale | lif | adapt | plastic on `target`."""

    path: str  # as written, e.g. "projections.inh_exc.weight_scale"
    kind: str
    target: str
    param: str
    value: float


@dataclass
class Phase:
    """One run phase: `samples` of a dataset split (epochs, count) or plain `steps`."""

    name: str
    split: str | None = None
    count: int | None = None  # None: the whole split
    epochs: int = 1
    shuffle: bool = False
    steps: int | None = None  # a phase without samples
    present: int | None = None  # steps per sample in this phase (None: the dataset's)
    rest: int | None = None  # silent steps after each sample (None: the dataset's)
    plastic: dict[str, bool] = field(default_factory=dict)  # plastic projection -> on/off
    overrides: list[Override] = field(default_factory=list)


@dataclass
class Readout:
    """Label neurons of `population` by mean response per class in phase `assign`; vote in `evaluate`."""

    population: str
    assign: str
    evaluate: str
    vote: str = "max"  # max: each neuron votes for its best class; soft: by its class profile
# --- end datasets and phases ---


@dataclass
class Population:
    """A group of neurons of one model: `lif` (on cores) or `spike_source` (host input)."""

    name: str
    size: int
    model: str
    lif: LIFParams | None = None
    source: SpikeSource | None = None
    # (size, d) float64 coordinates, d = 1..3, or None: where each neuron sits in the
    # model's space (a retinotopic sheet, a conv layer); the `tile` partitioner cuts
    # positioned lif populations into compact tiles of nearby neurons
    positions: np.ndarray | None = None

    @property
    def is_source(self) -> bool:
        return self.model == "spike_source"


@dataclass
class Plasticity:
    """A local learning rule on a projection; `params` holds the rule's fields as given."""

    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    modulator: str | None = None

    @property
    def modulator_name(self) -> Any:
        """The declared modulator: `modulator`, else the rule's `modulator` parameter (as
        given: the locality check reports a value that is not a population name)."""
        return self.modulator if self.modulator is not None else self.params.get("modulator")


@dataclass
class Projection:
    """Synapses from `pre` to `post`, one entry per synapse (COO arrays of equal length).

    `weight` holds integers (Lava Dense weights, before Lava's clip/truncation) in fixed
    precision and floats in float precision; `delay` is in steps (0..63), a spike with
    delay d arriving d + 1 steps after it was emitted, as in Lava.
    """

    name: str
    pre: str
    post: str
    pre_idx: np.ndarray  # int32
    post_idx: np.ndarray  # int32
    weight: np.ndarray  # int32 (fixed) | float64 (float)
    delay: np.ndarray  # int16
    weight_exp: int = 0
    num_weight_bits: int = 8
    plasticity: Plasticity | None = None

    @property
    def n_synapses(self) -> int:
        return int(self.pre_idx.shape[0])

    def dense_weights(self, n_post: int, n_pre: int) -> np.ndarray:
        """The (post, pre) weight matrix, like Lava Dense (0 = no synapse)."""
        w = np.zeros((n_post, n_pre), dtype=self.weight.dtype)
        np.add.at(w, (self.post_idx, self.pre_idx), self.weight)
        return w


@dataclass(frozen=True)
class Probe:
    """A recorded quantity: `<population>.spikes|v|u` or `<projection>.weights`."""

    target: str
    var: str

    @property
    def key(self) -> str:
        return f"{self.target}.{self.var}"


@dataclass
class NetworkIR:
    """A whole network, ready for compiler passes and backends."""

    name: str
    precision: str = "fixed"
    seed: int = 0
    steps: int = 100
    target: str = "loihi2"
    populations: dict[str, Population] = field(default_factory=dict)
    projections: dict[str, Projection] = field(default_factory=dict)
    probes: list[Probe] = field(default_factory=list)
    source_file: str | None = None
    # dotted field path (e.g. "projections.a_b.weight") -> where it was written
    locations: dict[str, Location] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)  # run phases; empty: plain run
    readout: Readout | None = None

    def loc(self, path: str) -> Location:
        """Best location for a field path: the path itself or its nearest written parent."""
        parts = path.split(".")
        while parts:
            key = ".".join(parts)
            if key in self.locations:
                found = self.locations[key]
                return Location(found.file, found.line, path)
            parts.pop()
        return Location(self.source_file, None, path)

    def uses_wta(self, pop: str) -> bool:
        """Whether population `pop` is winner-take-all in its parameters or in any phase."""
        p = self.populations[pop]
        if p.lif is None:
            return False
        return p.lif.wta or any(ov.kind == "lif" and ov.param == "wta" and ov.target == pop
                                and ov.value for ph in self.phases for ov in ph.overrides)

    @property
    def neuron_populations(self) -> list[Population]:
        return [p for p in self.populations.values() if not p.is_source]

    @property
    def source_populations(self) -> list[Population]:
        return [p for p in self.populations.values() if p.is_source]


def stream_seed(seed: int, *names: str) -> list[int]:
    """A stable seed sequence for one named random stream (independent of other streams)."""
    return [int(seed) & 0xFFFFFFFF] + [zlib.crc32(n.encode()) for n in names]


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """The generator for a named stream, e.g. rng_for(seed, "projection", "inp_hid", "weight")."""
    return np.random.default_rng(stream_seed(seed, *names))
