"""The `dataset` spike source kind and the `phases:` / `readout:` blocks (docs/network-format.md).

```yaml
populations:
  inp:
    size: 64
    model: spike_source
    spikes:
      kind: dataset
      dataset: digits          # built-in (sklearn's bundled 8x8 digits), or {file: data.npz}
                               # with x (n, size) >= 0 and y (n,) integers, or {data: {x, y}}
      split: {test: 600, validation: 0, shuffle_seed: 0}   # train = the rest; seed null: file order
      encoding: rate           # Bernoulli spikes, p = max_rate * x / max(x)  (compiler/datasets.py)
      max_rate: 0.3            # default 0.3
      present: 100             # steps per sample (default 100)
      rest: 20                 # silent steps after each sample (default 0)
phases:                        # optional; without it a run is `steps` steps
  - name: train
    samples: {split: train, count: 1000, epochs: 1, shuffle: false}   # count: default all
                               # optional present / rest: this phase's steps per sample and
                               # silent steps after it (default: the source's)
    plastic: true              # default true; or {projection: bool} (unlisted: true)
    set: {projections.inh_exc.weight_scale: 1.0, populations.exc.params.vth: 30}
  - name: rest
    steps: 100                 # a phase without samples: dataset sources are silent
readout: {population: exc, assign: label, evaluate: test}
```

`set:` entries take effect at the start of their phase and stay until set again. The
whitelist (anything else is an InputError naming file:line):
* `projections.<p>.weight_scale: s` (s >= 0; static projections only): the weights
  become `s * w0` of the compiled weights w0; fixed precision re-quantizes them exactly
  as the compiler does: `effective_weights(rint(s * w0), num_weight_bits)` (Lava's clip
  and truncation, sign mode of the scaled matrix). s = 1 restores w0 exactly.
* `projections.<p>.plastic: bool` (plastic projections; overrides the phase's `plastic`).
* `populations.<pop>.params.vth | bias_mant | du | dv` (lif populations, same ranges as `params`).
* `populations.<pop>.params.adapt.increment | tau` (populations with `adapt`).
* `populations.<pop>.params.wta: true | false` (winner-take-all on or off).
One dataset source at most when a phase has `samples` (all phases share its samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..budget import MAX_STEPS
from ..datasets import BUILTIN, ENCODINGS, load_builtin, make_dataset
from ..errors import suggest
from ..ir import (
    DATASET_KIND,
    LIF_FIXED_RANGES,
    Dataset,
    Override,
    Phase,
    Population,
    Projection,
    Readout,
    SpikeSource,
)
from .checks import INVALID, NAME_RE, Checker, as_array, show
from .labels import resolve_labels
from .pattern_source import resolve_patterns

DATASET_KEYS = ("kind", "dataset", "split", "encoding", "max_rate", "present", "rest")
SPLIT_KEYS = ("test", "validation", "shuffle_seed")
SPLITS = ("train", "validation", "test")
PHASE_KEYS = ("name", "samples", "steps", "plastic", "set")
SAMPLE_KEYS = ("split", "count", "epochs", "shuffle", "present", "rest")
READOUT_KEYS = ("population", "assign", "evaluate")
READOUT_VOTES = ("max", "soft")
READOUT_KINDS = ("vote", "output_population")
OUTPUT_KEYS = ("population", "evaluate")
LIF_SET = ("vth", "bias_mant", "du", "dv")
ADAPT_SET = ("increment", "tau")
SET_ALLOWED = ("projections.<static projection>.weight_scale, projections.<plastic projection>"
               ".plastic, populations.<lif>.params.vth|bias_mant|du|dv|wta, "
               "populations.<lif with adapt>.params.adapt.increment|tau")


def _bool(ck: Checker, value: Any, path: str) -> bool | Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return ck.error(path, f"found {show(value)}; expected true or false", "true | false")


# -- dataset source ---------------------------------------------------------------


def dataset_source(ck: Checker, spec: Mapping, path: str, size: int | Any) -> SpikeSource | Any:
    """A `kind: dataset` spikes block -> SpikeSource(kind="dataset", dataset=...)."""
    m = ck.mapping(spec, path, DATASET_KEYS, required=("dataset",))
    if m is INVALID:
        return INVALID
    n_err = len(ck.errors.items)
    xy = _dataset_arrays(ck, m["dataset"], f"{path}.dataset", size) if "dataset" in m else INVALID
    split = m.get("split") or {}
    sm = ck.mapping(split, f"{path}.split", SPLIT_KEYS)
    test = val = 0
    seed: int | None = 0
    if sm is not INVALID:
        test = ck.integer(sm.get("test", 0), f"{path}.split.test", 0)
        val = ck.integer(sm.get("validation", 0), f"{path}.split.validation", 0)
        seed = sm.get("shuffle_seed", 0)
        if seed is not None:
            seed = ck.integer(seed, f"{path}.split.shuffle_seed", 0, 2**32 - 1,
                              what="an integer seed or null (keep the file order)")
    encoding = ck.choice(m.get("encoding", "rate"), f"{path}.encoding", ENCODINGS, "encoding")
    max_rate = ck.number(m.get("max_rate", 0.3), f"{path}.max_rate", 0.0, 1.0)
    present = ck.integer(m.get("present", 100), f"{path}.present", 1, what="steps per sample")
    rest = ck.integer(m.get("rest", 0), f"{path}.rest", 0, what="silent steps after a sample")
    if len(ck.errors.items) > n_err or xy is INVALID:
        return INVALID
    name, x, y = xy
    if test + val > len(y):
        return ck.error(f"{path}.split", f"test {test} + validation {val} exceeds the "
                        f"{len(y)} samples of the dataset", f"test + validation <= {len(y)}")
    ds = make_dataset(name, x, y, test=test, validation=val, shuffle_seed=seed,
                      encoding=encoding, max_rate=max_rate, present=present, rest=rest)
    return SpikeSource(DATASET_KIND, dataset=ds)


def _dataset_arrays(ck: Checker, spec: Any, path: str, size: int | Any
                    ) -> tuple[str, np.ndarray, np.ndarray] | Any:
    """(name, x, y) of a built-in name, {file: data.npz} or {data: {x, y}}, checked."""
    allowed = f"{' | '.join(BUILTIN)} | {{file: data.npz}} (arrays x, y) | {{data: {{x, y}}}}"
    if isinstance(spec, str):
        if spec not in BUILTIN:
            return ck.error(path, f"unknown built-in dataset {spec!r}{suggest(spec, BUILTIN)}", allowed)
        x, y = load_builtin(spec)
        name = spec
    elif isinstance(spec, Mapping):
        given = _given_arrays(ck, spec, path, allowed)
        if given is INVALID:
            return INVALID
        name, x, y = given
    else:
        return ck.error(path, f"found {show(spec)}; expected a dataset", allowed)
    if _check_x(ck, x, path, size) is INVALID or _check_y(ck, x, y, path) is INVALID:
        return INVALID
    return name, np.asarray(x, dtype=np.float64), np.asarray(y).astype(np.int64)


def _given_arrays(ck: Checker, spec: Mapping, path: str, allowed: str
                  ) -> tuple[str, np.ndarray, np.ndarray] | Any:
    """(name, x, y) as given by {file: data.npz} (name: the file) or {data: {x, y}} (name:
    'data'); INVALID (reported) when the form, the file or either array is wrong."""
    m = ck.mapping(spec, path, ("file", "data"))
    if m is INVALID:
        return INVALID
    if ("file" in m) == ("data" in m):
        return ck.error(path, "give the dataset either as 'file' or as 'data'"
                        + (" (both given)" if "file" in m else ""), allowed)
    if "file" in m:
        arrays = ck.load_npz(m["file"], f"{path}.file")
        name, where = str(m["file"]), f"{path}.file"
    else:
        arrays = m["data"] if isinstance(m["data"], Mapping) else ck.error(
            f"{path}.data", f"found {show(m['data'])}; expected a mapping with x and y", "{x, y}")
        name, where = "data", f"{path}.data"
    if arrays is INVALID:
        return INVALID
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        return ck.error(where, f"missing array(s) {', '.join(missing)} (found "
                        f"{', '.join(arrays) or 'none'})", "arrays x (n, size) and y (n,)")
    x = as_array(ck, arrays["x"], f"{where}.x")
    y = as_array(ck, arrays["y"], f"{where}.y")
    if x is INVALID or y is INVALID:
        return INVALID
    return name, x, y


def _check_x(ck: Checker, x: np.ndarray, path: str, size: int | Any) -> bool | Any:
    """x is (n >= 1, size) of finite numbers >= 0; INVALID (reported) otherwise."""
    want = f"(n, {size})" if size is not INVALID else "(n, size)"
    if x.ndim != 2 or (size is not INVALID and x.shape[1] != size) or x.shape[0] == 0:
        return ck.error(path, f"x has shape {x.shape}; expected {want} with n >= 1 (one row per "
                        "sample, one column per input neuron)", f"x of shape {want}")
    if x.dtype.kind not in "biuf" or not np.all(np.isfinite(x)) or (x.size and x.min() < 0):
        return ck.error(path, "x must hold finite numbers >= 0 (they are scaled to spike "
                        "probabilities)", "x >= 0")
    return True


def _check_y(ck: Checker, x: np.ndarray, y: np.ndarray, path: str) -> bool | Any:
    """y is one integer class label (whole floats allowed) per row of x; INVALID otherwise."""
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        return ck.error(path, f"y has shape {y.shape}; expected ({x.shape[0]},) (one label per "
                        "sample)", f"y of shape ({x.shape[0]},)")
    if y.dtype.kind not in "biu" and not (
            y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        return ck.error(path, f"y must hold integer class labels (found dtype {y.dtype})",
                        "integer labels")
    return True


# -- phases and readout -------------------------------------------------------------


def phases_and_readout(ck: Checker, spec: Any, readout: Any, pops: dict[str, Population],
                       projs: dict[str, Projection], fixed: bool = True, seed: int = 0
                       ) -> tuple[list[Phase], Readout | None]:
    """Validated phases and readout (errors collected in `ck`); label sources get their
    spikes (labels.py)."""
    phases: list[Phase] = []
    if spec is not None:
        if not isinstance(spec, (list, tuple)) or not spec:
            ck.error("phases", f"found {show(spec)}; expected a list of phases",
                     "a list of {name, samples | steps, plastic, set}")
        else:
            datasets = [p for p in pops.values() if p.source is not None
                        and p.source.kind == DATASET_KIND]
            seen: set[str] = set()
            for i, body in enumerate(spec):
                name = body.get("name") if isinstance(body, Mapping) else None
                if isinstance(name, str) and name in seen:
                    ck.error(f"phases[{i}].name", f"duplicate phase name '{name}'",
                             "each phase name once")
                    continue
                seen.add(name)
                ph = _phase(ck, body, f"phases[{i}]", pops, projs, datasets, fixed)
                if ph is not INVALID:
                    phases.append(ph)
            _bound_total_steps(ck, phases, datasets)
    declared = {b.get("name") for b in spec if isinstance(b, Mapping)} \
        if isinstance(spec, (list, tuple)) else set()
    resolve_labels(ck, pops, phases, declared if spec is not None else None, seed)
    resolve_patterns(pops, seed)
    ro = None
    if readout is not None:
        ro = _readout(ck, readout, pops, phases, spec is not None, declared)
    return phases, ro


def _bound_total_steps(ck: Checker, phases: list[Phase], datasets: list[Population]) -> None:
    """A located error when all phases together exceed MAX_STEPS steps."""
    total = 0
    for ph in phases:
        if ph.steps is not None:
            total += ph.steps
        elif ph.split is not None and len(datasets) == 1:
            ds = datasets[0].source.dataset
            n = len(ds.splits[ph.split]) if ph.count is None else ph.count
            period = (ds.present if ph.present is None else ph.present) + \
                (ds.rest if ph.rest is None else ph.rest)
            total += ph.epochs * n * period
    if total > MAX_STEPS:
        ck.error("phases", f"the phases run {total} steps together; at most {MAX_STEPS}",
                 f"phases of at most {MAX_STEPS} steps in all")


def _phase(ck: Checker, spec: Any, path: str, pops: dict[str, Population],
           projs: dict[str, Projection], datasets: list[Population], fixed: bool) -> Phase | Any:
    n_err = len(ck.errors.items)
    m = ck.mapping(spec, path, PHASE_KEYS, required=("name",))
    if m is INVALID:
        return INVALID
    name = m.get("name")
    if name is not None and (not isinstance(name, str) or not NAME_RE.match(name)):
        ck.error(f"{path}.name", f"invalid phase name {show(name)}",
                 "letters, digits, '_' and '-', starting with a letter or '_'")
    phase = Phase(name=name if isinstance(name, str) else "?")
    if ("samples" in m) == ("steps" in m):
        ck.error(path, "give exactly one of 'samples' (present dataset samples) or 'steps'"
                 + (" (both given)" if "samples" in m else ""),
                 "samples: {split, count, epochs} | steps: N")
    elif "steps" in m:
        phase.steps = ck.integer(m["steps"], f"{path}.steps", 1, MAX_STEPS,
                                 what="a positive number of steps")
    else:
        _samples(ck, m["samples"], f"{path}.samples", phase, datasets)
    plastic_names = [n for n, p in projs.items() if p.plasticity is not None]
    phase.plastic = {n: True for n in plastic_names}
    if "plastic" in m:
        _plastic(ck, m["plastic"], f"{path}.plastic", phase, plastic_names, projs)
    if m.get("set") is not None:
        _overrides(ck, m["set"], f"{path}.set", phase, pops, projs, fixed)
    return INVALID if len(ck.errors.items) > n_err else phase


def _samples(ck: Checker, spec: Any, path: str, phase: Phase, datasets: list[Population]) -> None:
    m = ck.mapping(spec, path, SAMPLE_KEYS, required=("split",))
    if m is INVALID:
        return
    if len(datasets) != 1:
        found = ", ".join(p.name for p in datasets) or "none"
        ck.error(path, f"a phase with samples needs exactly one spike source of kind "
                 f"'dataset' (found {found})", "one population with spikes: {kind: dataset, ...}")
        return
    ds: Dataset = datasets[0].source.dataset
    split = ck.choice(m.get("split"), f"{path}.split", SPLITS, "split") if "split" in m else INVALID
    phase.epochs = ck.integer(m.get("epochs", 1), f"{path}.epochs", 1)
    if m.get("present") is not None:
        phase.present = ck.integer(m["present"], f"{path}.present", 1,
                                   what="steps per sample in this phase")
    if m.get("rest") is not None:
        phase.rest = ck.integer(m["rest"], f"{path}.rest", 0,
                                what="silent steps after a sample in this phase")
    if "shuffle" in m:
        phase.shuffle = _bool(ck, m["shuffle"], f"{path}.shuffle")
    if split is INVALID:
        return
    n = len(ds.splits[split])
    if n == 0:
        ck.error(f"{path}.split", f"split '{split}' of population '{datasets[0].name}' is empty",
                 "a split with samples (set its size in spikes.split)")
        return
    phase.split = split
    if m.get("count") is not None:
        phase.count = ck.integer(m["count"], f"{path}.count", 1, n,
                                 what=f"a number of samples (split '{split}' has {n})")
    _bound_sample_steps(ck, m, path, phase, ds, n)


def _bound_sample_steps(ck: Checker, m: Mapping, path: str, phase: Phase, ds: Dataset,
                        n: int) -> None:
    """A located error when epochs x samples x steps per sample exceeds MAX_STEPS (checked
    before anything is sized by it)."""
    parts = (phase.epochs, phase.count, phase.present, phase.rest)
    if any(v is INVALID for v in parts):
        return
    count = n if phase.count is None else phase.count
    period = (ds.present if phase.present is None else phase.present) + \
        (ds.rest if phase.rest is None else phase.rest)
    steps = phase.epochs * count * period
    if steps > MAX_STEPS:
        field = "epochs" if "epochs" in m else "count" if "count" in m else \
            "present" if "present" in m else ""
        ck.error(f"{path}.{field}" if field else path,
                 f"{phase.epochs} epochs x {count} samples x {period} steps per sample = "
                 f"{steps} steps; a phase runs at most {MAX_STEPS} steps",
                 f"epochs x samples x (present + rest) <= {MAX_STEPS}")


def _plastic(ck: Checker, spec: Any, path: str, phase: Phase, plastic_names: list[str],
             projs: dict[str, Projection]) -> None:
    if isinstance(spec, (bool, np.bool_)):
        phase.plastic = {n: bool(spec) for n in plastic_names}
        return
    if not isinstance(spec, Mapping):
        ck.error(path, f"found {show(spec)}; expected true, false or a mapping", "true | false | "
                 "{<plastic projection>: true | false}")
        return
    for key, value in spec.items():
        p = f"{path}.{key}"
        if key not in plastic_names:
            what = "has no plasticity" if key in projs else "is not a projection"
            ck.error(p, f"'{key}' {what}{suggest(str(key), plastic_names)}",
                     ", ".join(plastic_names) or "no plastic projection in this network")
            continue
        v = _bool(ck, value, p)
        if v is not INVALID:
            phase.plastic[key] = v


def _overrides(ck: Checker, spec: Any, path: str, phase: Phase, pops: dict[str, Population],
               projs: dict[str, Projection], fixed: bool) -> None:
    if not isinstance(spec, Mapping):
        ck.error(path, f"found {show(spec)}; expected a mapping of dotted fields to values",
                 SET_ALLOWED)
        return
    for key, value in spec.items():
        ov = _override(ck, str(key), value, f"{path}.{key}", pops, projs, fixed)
        if ov is INVALID:
            continue
        if ov.kind == "plastic":
            phase.plastic[ov.target] = bool(ov.value)
        phase.overrides.append(ov)


def _override(ck: Checker, key: str, value: Any, path: str, pops: dict[str, Population],
              projs: dict[str, Projection], fixed: bool) -> Override | Any:
    """One `set:` entry of a phase as an Override; INVALID (reported) when it is not on the
    whitelist or its value is out of range."""
    parts = key.split(".")
    head = parts[0] if parts else ""
    if head == "projections" and len(parts) == 3:
        return _projection_override(ck, key, parts[1], parts[2], value, path, projs)
    if head == "populations" and len(parts) in (4, 5) and parts[2] == "params":
        ov = _population_override(ck, key, parts, value, path, pops, fixed)
        if ov is not None:
            return ov
    return ck.error(path, f"'{key}' cannot be set in a phase", SET_ALLOWED)


def _projection_override(ck: Checker, key: str, name: str, param: str, value: Any, path: str,
                         projs: dict[str, Projection]) -> Override | Any:
    """`projections.<name>.weight_scale` (static only) or `.plastic` (plastic only)."""
    if name not in projs:
        return ck.error(path, f"unknown projection '{name}'{suggest(name, projs)}",
                        ", ".join(projs) or "a projection name")
    plastic = projs[name].plasticity is not None
    if param == "weight_scale":
        if plastic:
            return ck.error(path, f"'{name}' is plastic: weight_scale applies to static "
                            "projections only (it scales the compiled weights)",
                            "a static projection")
        s = ck.number(value, path, 0.0, what="a scale factor >= 0")
        return INVALID if s is INVALID else Override(key, "weight_scale", name, param, float(s))
    if param == "plastic":
        if not plastic:
            return ck.error(path, f"'{name}' has no plasticity", "a plastic projection")
        v = _bool(ck, value, path)
        return INVALID if v is INVALID else Override(key, "plastic", name, param, float(v))
    return ck.error(path, f"'{param}' cannot be set in a phase{suggest(param, ('weight_scale', 'plastic'))}",
                    SET_ALLOWED)


def _population_override(ck: Checker, key: str, parts: list[str], value: Any, path: str,
                         pops: dict[str, Population], fixed: bool) -> Override | Any | None:
    """`populations.<name>.params.<param>` or `.params.adapt.<param>` of a lif population;
    None when the dotted path names no settable field (the caller reports it)."""
    name = parts[1]
    pop = pops.get(name)
    if pop is None:
        return ck.error(path, f"unknown population '{name}'{suggest(name, pops)}",
                        ", ".join(pops) or "a population name")
    if pop.lif is None:
        return ck.error(path, f"'{name}' is a spike source: it has no LIF parameters",
                        "a lif population")
    if len(parts) == 4:
        return _lif_override(ck, key, name, parts[3], value, path, fixed)
    if parts[3] == "adapt":
        return _adapt_override(ck, key, name, pop, parts[4], value, path)
    return None


def _lif_override(ck: Checker, key: str, name: str, param: str, value: Any, path: str,
                  fixed: bool) -> Override | Any:
    """A LIF parameter (LIF_SET, in the precision's range) or the wta flag."""
    if param == "wta":
        v = _bool(ck, value, path)
        return INVALID if v is INVALID else Override(key, "lif", name, "wta", bool(v))
    if param not in LIF_SET:
        return ck.error(path, f"'{param}' cannot be set in a phase"
                        f"{suggest(param, LIF_SET + ('wta',))}", ", ".join(LIF_SET + ("wta",)))
    v = _lif_value(ck, param, value, path, fixed)
    return INVALID if v is INVALID else Override(key, "lif", name, param, v)


def _adapt_override(ck: Checker, key: str, name: str, pop: Population, param: str,
                    value: Any, path: str) -> Override | Any:
    """An adapt field (increment >= 0, tau > 0) of a population that has an adapt block."""
    if pop.lif.adapt is None:
        return ck.error(path, f"population '{name}' has no adapt block to change",
                        "give params.adapt in the population to use it in phases")
    if param not in ADAPT_SET:
        return ck.error(path, f"'{param}' cannot be set{suggest(param, ADAPT_SET)}",
                        ", ".join(ADAPT_SET))
    v = ck.number(value, path, 0.0, what="a number >= 0" if param == "increment"
                  else "a time constant > 0 (steps)")
    if v is not INVALID and param == "tau" and v == 0:
        v = ck.error(path, "found 0; the decay time constant must be positive",
                     "number > 0 (a huge tau freezes the threshold)")
    return INVALID if v is INVALID else Override(key, "adapt", name, param, float(v))


def _lif_value(ck: Checker, param: str, value: Any, path: str, fixed: bool) -> float | Any:
    lo, hi = LIF_FIXED_RANGES[param]
    if fixed:
        v = ck.integer(value, path, lo, hi)
    elif param in ("du", "dv"):
        v = ck.number(value, path, 0.0, 1.0)
    else:
        v = ck.number(value, path)
    return INVALID if v is INVALID else (int(v) if fixed else float(v))


def _readout(ck: Checker, spec: Any, pops: dict[str, Population], phases: list[Phase],
             have_phases: bool, declared: set) -> Readout | Any:
    """`readout:` of kind `vote` (default: population, assign, evaluate, vote) or
    `output_population` (population, evaluate): a Readout, INVALID when reported."""
    kind = spec.get("kind", "vote") if isinstance(spec, Mapping) else "vote"
    kind = ck.choice(kind, "readout.kind", READOUT_KINDS, "readout kind")
    if kind is INVALID:
        return INVALID
    if kind == "output_population":
        m = ck.mapping(spec, "readout", ("kind",) + OUTPUT_KEYS, required=OUTPUT_KEYS)
        keys, vote = OUTPUT_KEYS, "max"
    else:
        m = ck.mapping(spec, "readout", ("kind",) + READOUT_KEYS + ("vote",),
                       required=READOUT_KEYS)
        keys = READOUT_KEYS
        vote = ck.choice(m.get("vote", "max"), "readout.vote", READOUT_VOTES, "vote") \
            if m is not INVALID else INVALID
    if m is INVALID or any(k not in m for k in keys):
        return INVALID
    lif = [n for n, p in pops.items() if p.lif is not None]
    pop = m["population"]
    ok = True
    if pop not in lif:
        ok = ck.error("readout.population", f"{show(pop)} is not a lif population"
                      f"{suggest(str(pop), lif)}", ", ".join(lif) or "a lif population")
    if not have_phases:
        return ck.error("readout", "a readout needs phases (assign and evaluate are phase names)",
                        "phases: [...] with samples")
    with_samples = [p.name for p in phases if p.split is not None]
    valid = {p.name for p in phases}
    for key in keys[1:]:
        if m[key] in declared and m[key] not in valid:
            ok = INVALID  # that phase has its own error already
        elif m[key] not in with_samples:
            ok = ck.error(f"readout.{key}", f"{show(m[key])} is not a phase with samples"
                          f"{suggest(str(m[key]), with_samples)}",
                          ", ".join(with_samples) or "a phase with samples")
    if ok is not INVALID and kind == "output_population" and pop in lif:
        ok = _check_output_size(ck, pops[pop], pops)
    if ok is INVALID or vote is INVALID:
        return INVALID
    assign = m.get("assign", m["evaluate"])  # output_population labels no neurons
    return Readout(pop, assign, m["evaluate"], vote, kind=kind)


def _check_output_size(ck: Checker, pop: Population, pops: dict[str, Population]) -> bool | Any:
    """An output population has the same number of neurons for every class of the dataset."""
    sources = [p.source.dataset for p in pops.values()
               if p.source is not None and p.source.kind == DATASET_KIND]
    if len(sources) != 1:
        return True  # the phases report it
    n_classes = int(sources[0].y.max()) + 1 if sources[0].y.size else 1
    if pop.size % n_classes:
        return ck.error("readout.population", f"'{pop.name}' has {pop.size} neurons for "
                        f"{n_classes} classes; an output population has the same number of "
                        "neurons per class (neuron i answers class i // (size / classes))",
                        f"a multiple of {n_classes} neurons")
    return True
