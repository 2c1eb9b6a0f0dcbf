"""The snnc intermediate representation: plain dataclasses holding numpy arrays.

A `NetworkIR` is what the frontend produces (from YAML or the Python builder) and what
every pass and backend consumes. All random draws (connectivity, weights, delays) are
already made here; spike sources are drawn by `compiler.sources.source_spikes`, deterministic in
(seed, population name, step), so every backend sees the very same numbers.

Each dataclass checks its structure on construction (`__post_init__`: types, array ranks,
equal lengths, known kinds), so an IR built from Python fails early like a YAML file does;
`NetworkIR.validate()` adds the value ranges that depend on the precision and the
cross-references between objects. Both raise `InputError` naming the object and field.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from .errors import Collector, Diagnostic, InputError, Location
from .lava_weights import INHIBITORY, MIXED, clip_range

PRECISIONS = ("fixed", "float")
NEURON_MODELS = ("lif", "spike_source")
SOURCE_KINDS = ("poisson", "periodic", "array")
PROBE_VARS = ("spikes", "v", "u")
PROJECTION_PROBE_VARS = ("weights",)
WEIGHT_EXP_RANGE = (-8, 7)  # Lava Dense weight_exp
NUM_WEIGHT_BITS_RANGE = (1, 8)  # Lava Dense num_weight_bits


_CHECKS_ON: ContextVar[bool] = ContextVar("snnc_ir_checks", default=True)


@contextmanager
def unchecked() -> Iterator[None]:
    """Construct IR objects without their structural checks, for a reader that validates the
    whole result itself with better messages (the `.snnc` artifact loader)."""
    token = _CHECKS_ON.set(False)
    try:
        yield
    finally:
        _CHECKS_ON.reset(token)


def _fail(field_path: str, message: str, allowed: str) -> NoReturn:
    """InputError for a structurally invalid IR field (no file: the IR was built in Python)."""
    raise InputError(Diagnostic(message, field=field_path, allowed=allowed))


def _is_int(v: Any) -> bool:
    """A Python or numpy integer, never a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_num(v: Any) -> bool:
    """A finite Python or numpy number, never a bool."""
    return ((_is_int(v) or isinstance(v, (float, np.floating)))
            and math.isfinite(float(v)))


def _need_str(v: Any, path: str, what: str = "a string") -> None:
    if not isinstance(v, str):
        _fail(path, f"found {type(v).__name__} {v!r:.60}; expected {what}", what)


def _need_int(v: Any, path: str, lo: int | None = None) -> None:
    if not _is_int(v):
        _fail(path, f"found {type(v).__name__} {v!r:.60}; expected an integer",
              "an integer" if lo is None else f"an integer >= {lo}")
    if lo is not None and v < lo:
        _fail(path, f"found {v}", f"an integer >= {lo}")


def _need_num(v: Any, path: str) -> None:
    """A finite number; numpy arrays (per-neuron parameters) pass, checked by validate()."""
    if not (_is_num(v) or isinstance(v, np.ndarray)):
        _fail(path, f"found {type(v).__name__} {v!r:.60}; expected a finite number",
              "a finite number")


def _need_array(a: Any, path: str, ndim: int, kinds: str, what: str) -> None:
    """`a` is an ndarray of `ndim` dimensions whose dtype kind is in `kinds` (no copy)."""
    if not isinstance(a, np.ndarray):
        _fail(path, f"found {type(a).__name__}; expected a numpy array", f"a {ndim}-D {what} array")
    if a.ndim != ndim or a.dtype.kind not in kinds:
        _fail(path, f"found a {a.ndim}-D {a.dtype} array", f"a {ndim}-D {what} array")


def _need_choice(v: Any, path: str, choices: tuple[str, ...]) -> None:
    if not isinstance(v, str) or v not in choices:
        _fail(path, f"found {v!r:.60}", " | ".join(choices))


def _need_instance(v: Any, cls: type, path: str, optional: bool = True) -> None:
    if (v is None and optional) or isinstance(v, cls):
        return
    _fail(path, f"found {type(v).__name__}; expected a {cls.__name__}",
          f"a {cls.__name__}" + (" or None" if optional else ""))


@dataclass
class Adapt:
    """Adaptive threshold (homeostasis; not in Lava's LIF, see `compiler.neuron_math`).

    Each neuron carries an offset th (0 at rest); it spikes when v > vth_eff + th, and after
    the step's spikes s are decided:
      fixed: th = trunc(th * (4096 - d) / 4096) + round(increment * 2**6) * s,
             d = clip(round(4096 / tau), 0, 4096)   (tau <= 0: d = 0, no decay)
      float: th = th - th / tau + increment * s     (tau <= 0: no decay)
    so a spike at step t raises the threshold from step t + 1 on.
    """

    increment: float = 0.0
    tau: float = 0.0

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_num(self.increment, "adapt.increment")
        _need_num(self.tau, "adapt.tau")


# Fixed precision ranges of the LIF parameters, as Lava's fixed_pt LIF stores them.
LIF_FIXED_RANGES = {"du": (0, 4095), "dv": (0, 4095), "vth": (0, 131071),
                    "bias_mant": (-4096, 4095), "bias_exp": (0, 7)}


@dataclass
class LIFParams:
    """Lava LIF parameters (scalars, or per-neuron arrays); a_in is the step's synaptic input.

    fixed (Lava `PyLifModelBitAcc`, integers; trunc rounds toward zero):
      u = trunc(u * (4095 - du) / 4096) + (a_in << 6)     int32 wrap, then Lava's 24-bit
                                                          wrap: u > 2**23 -> u - 2**24,
                                                          u <= -2**23 -> u + 2**24 (once)
      v = trunc(v * (4096 - dv) / 4096) + u + bias        int32 wrap, then clipped to
                                                          [-(2**23 - 1), 2**23 - 1]
      bias = int16(bias_mant) << bias_exp (int32);  spike s = v > (vth << 6) [+ th];  v[s] = 0
      du, dv in 0..4095 (du = 4095: u keeps no memory), vth 0..131071, bias_mant -4096..4095,
      bias_exp 0..7.
    float (Lava `PyLifModelFloat`; bias_exp unused):
      u = u * (1 - du) + a_in;  v = v * (1 - dv) + u + bias_mant;  s = v > vth [+ th];  v[s] = 0
    u is never reset; there is no refractory period. `adapt` adds the threshold offset th
    (see `Adapt`). `wta`: of the candidates s, only the one with the largest v - threshold
    spikes (lowest index on ties); the others keep v. Not native on Loihi (flagged).
    """

    du: float = 0
    dv: float = 0
    vth: float = 10
    bias_mant: float = 0
    bias_exp: int = 0
    adapt: Adapt | None = None
    wta: bool = False

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        for name in ("du", "dv", "vth", "bias_mant", "bias_exp"):
            _need_num(getattr(self, name), f"lif.{name}")
        _need_instance(self.adapt, Adapt, "lif.adapt")
        if not isinstance(self.wta, (bool, np.bool_)):
            _fail("lif.wta", f"found {self.wta!r:.60}", "true | false")


@dataclass
class SpikeSource:
    """A spike generator population (host input); spike of neuron i at step t (from 0):

      poisson:  U[t, i] < rate, U uniform in [0, 1) drawn row by row (step by step) from
                the stream rng_for(seed, "source", population name)
      periodic: t >= phase and (t - phase) % period == 0         (every neuron alike)
      array:    data[t, i] for t < len(data), silent afterwards  (data bool (T, size))
      dataset:  the dataset's samples as Bernoulli spikes (see `Dataset`)
    A source spike at step t reaches its targets like any spike (delay d: step t + d + 1).
    """

    kind: str
    rate: float = 0.0
    period: int = 1
    phase: int = 0
    data: np.ndarray | None = None  # bool (T, size) for kind == "array"
    dataset: Dataset | None = None  # kind == "dataset" (see compiler/datasets.py)

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_choice(self.kind, "source.kind", SOURCE_KINDS + (DATASET_KIND,))
        _need_num(self.rate, "source.rate")
        _need_int(self.period, "source.period")
        _need_int(self.phase, "source.phase")
        if self.data is not None:
            _need_array(self.data, "source.data", 2, "biu", "(steps, size) bool")
        _need_instance(self.dataset, Dataset, "source.dataset")


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

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_str(self.name, "dataset.name")
        _need_array(self.x, f"dataset {self.name}.x", 2, "biuf", "(samples, size) numeric")
        _need_array(self.y, f"dataset {self.name}.y", 1, "iu", "(samples,) integer label")
        if self.x.shape[0] != self.y.shape[0]:
            _fail(f"dataset {self.name}.y", f"{self.y.shape[0]} labels for {self.x.shape[0]} "
                  "samples", "one label per sample")

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
    # vote: the host labels neurons in `assign`, then votes; output_population: the answer is
    # the class whose neurons (size / n_classes each, in class order) spike most in `evaluate`
    kind: str = "vote"
# --- end datasets and phases ---


@dataclass
class Population:
    """A group of `size` neurons of one model: `lif` (on cores; `lif` None means the
    LIFParams defaults) or `spike_source` (host input, `source`)."""

    name: str
    size: int
    model: str
    lif: LIFParams | None = None
    source: SpikeSource | None = None
    # (size, d) float64 coordinates, d = 1..3, or None: where each neuron sits in the
    # model's space (a retinotopic sheet, a conv layer); the `tile` partitioner cuts
    # positioned lif populations into compact tiles of nearby neurons
    positions: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_str(self.name, "populations.name", "a population name (string)")
        path = f"populations.{self.name}"
        _need_int(self.size, f"{path}.size", 0)
        _need_choice(self.model, f"{path}.model", NEURON_MODELS)
        _need_instance(self.lif, LIFParams, f"{path}.lif")
        _need_instance(self.source, SpikeSource, f"{path}.source")
        if self.positions is not None:
            _need_array(self.positions, f"{path}.positions", 2, "iuf", "(size, d) numeric")
            if self.positions.shape[0] != self.size:
                _fail(f"{path}.positions", f"{self.positions.shape[0]} rows for {self.size} "
                      "neurons", "one row per neuron")

    @property
    def is_source(self) -> bool:
        return self.model == "spike_source"


@dataclass
class Plasticity:
    """A local learning rule on a projection (`compiler.plasticity`: stdp, hebbian, oja,
    reward_stdp, loihi); `params` holds the rule's fields as given. The rule changes the
    projection's weights between steps; in fixed precision they stay integers that Lava's
    weight storage (sign mode, clip, truncation) applies to, as for static synapses."""

    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    modulator: str | None = None

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_str(self.rule, "plasticity.rule", "a rule name (string)")
        if not isinstance(self.params, dict):
            _fail(f"plasticity.{self.rule}.params", f"found {type(self.params).__name__}",
                  "a mapping of rule parameters")

    @property
    def modulator_name(self) -> Any:
        """The declared modulator: `modulator`, else the rule's `modulator` parameter (as
        given: the locality check reports a value that is not a population name)."""
        return self.modulator if self.modulator is not None else self.params.get("modulator")


@dataclass
class ConvSpec:
    """The convolution a projection unrolls (PyTorch's NCHW cross-correlation): post neuron
    (o, *q) gets pre neuron (c, *(q * stride - padding + k * dilation)) through kernel element
    (o, c mod in_c/groups, *k), c in o's group. The synapse arrays stay the form every pass and
    backend reads; this records that their weights are shared across positions.

    Shapes are (channels, *spatial) with 1 or 2 spatial dimensions; `padding` is the lower
    padding per dimension (the upper one follows from `out_shape`).
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int = 1

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        dims = len(self.kernel)
        allowed = f"tuples of {dims} integers (one per spatial dimension)"
        if dims not in (1, 2):
            _fail("conv.kernel", f"found {self.kernel!r:.60}", "1 or 2 spatial dimensions")
        for key, lo, n in (("in_shape", 1, dims + 1), ("out_shape", 1, dims + 1),
                           ("kernel", 1, dims), ("stride", 1, dims), ("padding", 0, dims),
                           ("dilation", 1, dims)):
            v = getattr(self, key)
            if not isinstance(v, tuple) or len(v) != n or not all(_is_int(x) for x in v):
                _fail(f"conv.{key}", f"found {v!r:.60}",
                      allowed if n == dims else "(channels, *spatial) integers")
            if min(v) < lo:
                _fail(f"conv.{key}", f"found {v!r:.60}", f"integers >= {lo}")
        _need_int(self.groups, "conv.groups", 1)
        if self.in_shape[0] % self.groups or self.out_shape[0] % self.groups:
            _fail("conv.groups", f"{self.groups} groups for {self.in_shape[0]} in and "
                  f"{self.out_shape[0]} out channels", "a divisor of both channel counts")

    @property
    def kernel_size(self) -> int:
        """Distinct weights: out channels x in channels per group x kernel elements."""
        return self.out_shape[0] * (self.in_shape[0] // self.groups) * math.prod(self.kernel)


@dataclass
class Projection:
    """Synapses from `pre` to `post`, one entry per synapse (1-D COO arrays of equal length).

    A spike of pre neuron i emitted at step t reaches post neuron j through synapse
    (i, j, w, d) in a_in of step t + d + 1 (Lava's one step of synaptic latency plus the
    delay d, 0..63). Per post neuron, delay and emission step:
      fixed (Lava Dense fixed_pt): a = (sum of W) << weight_exp (arithmetic >> when
        negative), W = Lava's stored weight of w: int32(w) (duplicate (i, j, d) summed);
        sign mode of the whole projection: all >= 0 excitatory, clip to [0, 255]; all <= 0
        inhibitory, [-255, 0]; else mixed, [-256, 255]; then the low
        k = 8 - num_weight_bits (+1 if mixed) bits are dropped: (W >> k) << k (inhibitory:
        -((-W >> k) << k)). See `compiler.lava_weights`.
      float (Lava Dense floating_pt): a = sum of w (weight_exp and num_weight_bits unused).
    Several projections into one population add their `a` into the same a_in.
    `weight` holds int32 in fixed precision (before Lava's clip/truncation), float64 in float.
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
    conv: ConvSpec | None = None  # the convolution these synapses unroll, if any

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_str(self.name, "projections.name", "a projection name (string)")
        path = f"projections.{self.name}"
        _need_str(self.pre, f"{path}.pre", "a population name (string)")
        _need_str(self.post, f"{path}.post", "a population name (string)")
        for key in ("pre_idx", "post_idx", "delay"):
            _need_array(getattr(self, key), f"{path}.{key}", 1, "iu", "integer")
        _need_array(self.weight, f"{path}.weight", 1, "iuf", "numeric")
        n = {k: getattr(self, k).shape[0] for k in ("pre_idx", "post_idx", "weight", "delay")}
        if len(set(n.values())) != 1:
            _fail(path, "synapse arrays of unequal lengths ("
                  + ", ".join(f"{k} {v}" for k, v in n.items()) + ")",
                  "pre_idx, post_idx, weight and delay with one entry per synapse each")
        if self.delay.dtype.kind == "i" and self.delay.size and self.delay.min() < 0:
            _fail(f"{path}.delay", f"found delay {int(self.delay.min())}", "delays >= 0 (steps)")
        _need_int(self.weight_exp, f"{path}.weight_exp")
        _need_int(self.num_weight_bits, f"{path}.num_weight_bits")
        _need_instance(self.plasticity, Plasticity, f"{path}.plasticity")
        _need_instance(self.conv, ConvSpec, f"{path}.conv")

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

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_str(self.target, "probe.target", "a population or projection name")
        if not isinstance(self.var, str) or self.var not in PROBE_VARS + PROJECTION_PROBE_VARS:
            _fail(f"probe {self.target}.{self.var}"[:200], f"unknown variable {self.var!r:.60}",
                  "spikes, v, u (of a population); weights (of a projection)")

    @property
    def key(self) -> str:
        return f"{self.target}.{self.var}"


@dataclass
class NetworkIR:
    """A whole network, ready for compiler passes and backends.

    Each step t: every LIF population's a_in[t] is the sum of what its input projections
    deliver for t (spikes of steps <= t - 1, see `Projection`); its neurons update and
    spike (`LIFParams`); sources emit their step-t spikes (`SpikeSource`). Probes record
    spikes, v and u as they are after step t.
    """

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

    def __post_init__(self) -> None:
        if not _CHECKS_ON.get():
            return
        _need_str(self.name, "network.name", "a network name (string)")
        _need_choice(self.precision, "network.precision", PRECISIONS)
        _need_int(self.seed, "network.seed", 0)
        _need_int(self.steps, "network.steps", 0)
        for key, cls in (("populations", dict), ("projections", dict), ("probes", list),
                         ("locations", dict), ("phases", list)):
            if not isinstance(getattr(self, key), cls):
                _fail(f"network.{key}", f"found {type(getattr(self, key)).__name__}",
                      f"a {cls.__name__}")
        _need_instance(self.readout, Readout, "network.readout")

    def validate(self) -> None:
        """InputError listing every value out of range or broken reference (the checks the
        YAML frontend makes, for an IR built in Python): LIF parameters within the precision's
        ranges, source parameters, indices within their populations, fixed weights within
        Lava's 8 bits, weight_exp and num_weight_bits, probe targets. Linear in the synapses;
        target limits (max_delay, weight_bits) are the compiler's target checks."""
        diags = Collector()

        def bad(path: str, message: str, allowed: str) -> None:
            diags.add(self.loc(path), message, allowed)

        fixed = self.precision == "fixed"
        for key, pop in self.populations.items():
            path = f"populations.{key}"
            if not isinstance(pop, Population):
                bad(path, f"found {type(pop).__name__}", "a Population")
                continue
            if pop.name != key:
                bad(f"{path}.name", f"found {pop.name!r:.60}", f"'{key}' (its key)")
            if pop.size < 1:
                bad(f"{path}.size", f"found {pop.size}", "a positive integer")
            if pop.is_source:
                _validate_source(pop, path, bad)
            else:
                _validate_lif(pop.lif or LIFParams(), f"{path}.params", fixed, bad)
        for key, proj in self.projections.items():
            path = f"projections.{key}"
            if not isinstance(proj, Projection):
                bad(path, f"found {type(proj).__name__}", "a Projection")
                continue
            _validate_projection(self, key, proj, fixed, bad)
        for i, probe in enumerate(self.probes):
            _validate_probe(self, f"probes[{i}]", probe, bad)
        diags.raise_if_any()

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


# --- NetworkIR.validate: value ranges and references ---

def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"in {lo} .. {hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def _check_values(value: Any, path: str, bad: Any, lo: float | None = None,
                  hi: float | None = None, integer: bool = False) -> None:
    """Scalar or per-neuron array `value`: finite, integral if `integer`, within [lo, hi]."""
    what = "integers" if integer else "numbers"
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)  # no copy of arrays
    if arr.dtype.kind not in "biuf" or isinstance(value, (bool, np.bool_)):
        bad(path, f"found {value!r:.60}", f"{what} {_range(lo, hi)}")
        return
    if arr.size == 0:
        return
    if arr.dtype.kind == "f" and (not np.isfinite(arr).all() or (
            integer and bool(np.any(arr != np.round(arr))))):
        bad(path, f"found {value!r:.60}", f"finite {what}" + (f" {_range(lo, hi)}"
                                                              if lo is not None else ""))
        return
    amin, amax = float(arr.min()), float(arr.max())
    if (lo is not None and amin < lo) or (hi is not None and amax > hi):
        found = amin if lo is not None and amin < lo else amax
        bad(path, f"found {found:g}, out of range", f"{what} {_range(lo, hi)}")


def _validate_lif(lif: LIFParams, path: str, fixed: bool, bad: Any) -> None:
    for key, (lo, hi) in LIF_FIXED_RANGES.items():
        value = getattr(lif, key)
        if fixed or key == "bias_exp":
            _check_values(value, f"{path}.{key}", bad, lo, hi, integer=True)
        elif key in ("du", "dv"):
            _check_values(value, f"{path}.{key}", bad, 0.0, 1.0)
        else:
            _check_values(value, f"{path}.{key}", bad)
    if lif.adapt is not None:
        _check_values(lif.adapt.increment, f"{path}.adapt.increment", bad, 0.0)
        _check_values(lif.adapt.tau, f"{path}.adapt.tau", bad, 0.0)
        if np.any(np.asarray(lif.adapt.tau) == 0):
            bad(f"{path}.adapt.tau", "found 0", "a time constant > 0 (steps)")


def _validate_source(pop: Population, path: str, bad: Any) -> None:
    src = pop.source
    if src is None:
        bad(f"{path}.spikes", "a spike_source without spikes", "a SpikeSource")
        return
    if src.kind == "poisson":
        _check_values(src.rate, f"{path}.spikes.rate", bad, 0.0, 1.0)
    elif src.kind == "periodic":
        _check_values(src.period, f"{path}.spikes.period", bad, 1, None, integer=True)
        _check_values(src.phase, f"{path}.spikes.phase", bad, 0, None, integer=True)
    elif src.kind == "array":
        if src.data is None or src.data.shape[1] != pop.size:
            found = "no data" if src.data is None else f"shape {src.data.shape}"
            bad(f"{path}.spikes.data", f"found {found}", f"a bool (steps, {pop.size}) array")
        elif src.data.dtype.kind != "b":
            _check_values(src.data, f"{path}.spikes.data", bad, 0, 1, integer=True)
    elif src.dataset is None:
        bad(f"{path}.spikes.dataset", "a dataset source without a Dataset", "a Dataset")
    elif src.dataset.x.shape[1] != pop.size:
        bad(f"{path}.spikes.dataset", f"found {src.dataset.x.shape[1]} features",
            f"{pop.size} (the population size)")


def _validate_projection(net: NetworkIR, key: str, proj: Projection, fixed: bool,
                         bad: Any) -> None:
    path = f"projections.{key}"
    if proj.name != key:
        bad(f"{path}.name", f"found {proj.name!r:.60}", f"'{key}' (its key)")
    sizes = []
    for end, idx in (("pre", proj.pre_idx), ("post", proj.post_idx)):
        pop = net.populations.get(getattr(proj, end))
        if pop is None:
            bad(f"{path}.{end}", f"no population '{getattr(proj, end)}'",
                ", ".join(net.populations) or "a population name")
            continue
        if end == "post" and pop.is_source:
            bad(f"{path}.post", f"'{pop.name}' is a spike source", "a lif population")
        _check_values(idx, f"{path}.{end}_idx", bad, 0, pop.size - 1, integer=True)
        sizes.append(pop.size)
        shape = None if proj.conv is None else getattr(proj.conv, f"{'in' if end == 'pre' else 'out'}_shape")
        if shape is not None and math.prod(shape) != pop.size:
            bad(f"{path}.conv", f"{end} shape {shape} for {pop.size} neurons of '{pop.name}'",
                f"a {end} shape of {pop.size} elements")
    _check_values(proj.weight_exp, f"{path}.weight_exp", bad, *WEIGHT_EXP_RANGE, integer=True)
    _check_values(proj.num_weight_bits, f"{path}.num_weight_bits", bad,
                  *NUM_WEIGHT_BITS_RANGE, integer=True)
    w = proj.weight
    if not fixed:
        if w.dtype.kind == "f" and w.size and not np.isfinite(w).all():
            bad(f"{path}.weight", "found non-finite weights", "finite numbers")
    elif w.size and w.max() <= 0:  # all-inhibitory: Lava clips to [-255, 0]
        _check_values(w, f"{path}.weight", bad, *clip_range(INHIBITORY), integer=True)
    else:
        _check_values(w, f"{path}.weight", bad, *clip_range(MIXED), integer=True)


def _validate_probe(net: NetworkIR, path: str, probe: Any, bad: Any) -> None:
    if not isinstance(probe, Probe):
        bad(path, f"found {type(probe).__name__}", "a Probe")
        return
    pop = net.populations.get(probe.target)
    if pop is not None:
        allowed = ("spikes",) if pop.is_source else PROBE_VARS
    elif probe.target in net.projections:
        allowed = PROJECTION_PROBE_VARS
    else:
        bad(f"{path}.target", f"no population or projection '{probe.target}'",
            ", ".join(list(net.populations) + list(net.projections)) or "a declared name")
        return
    if probe.var not in allowed:
        bad(f"{path}.var", f"'{probe.target}' has no '{probe.var}'", " | ".join(allowed))


def stream_seed(seed: int, *names: str) -> list[int]:
    """A stable seed sequence for one named random stream (independent of other streams)."""
    return [int(seed) & 0xFFFFFFFF] + [zlib.crc32(n.encode()) for n in names]


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """The generator for a named stream, e.g. rng_for(seed, "projection", "inp_hid", "weight")."""
    return np.random.default_rng(stream_seed(seed, *names))
