"""Network spec (YAML data or the builder's dict) -> validated `NetworkIR`.

One code path for YAML and Python: `load_network` parses a file with line marks and
calls `network_from_dict`, which checks every field (collecting all errors, each with
file, line and dotted path), makes every random draw once from `seed`, and returns
the IR. The format is described in docs/network-format.md.

Python-only forms (used by the builder, also accepted in YAML as nested lists):
`weight: {data: array (post, pre)}` or a bare numpy array; `spikes: {kind: array,
data: bool array (T, size)}` or a bare numpy array; `connectivity: {kind: list, data:
{pre, post, weight[, delay]}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..budget import MAX_STEPS
from ..errors import Location, suggest
from ..ir import (
    DATASET_KIND,
    LIF_FIXED_RANGES,
    NEURON_MODELS,
    PRECISIONS,
    PROBE_VARS,
    SOURCE_KINDS,
    Adapt,
    LIFParams,
    NetworkIR,
    Population,
    Probe,
    Projection,
    SpikeSource,
)
from ..yamlio import load_yaml
from .checks import INVALID, Checker, array_field, is_int, show
from .labels import LABELS_KIND, label_source
from .pattern_source import PATTERN_KIND, pattern_source
from .phases import dataset_source, phases_and_readout
from .positions import population_positions
from .projections import projections

FORMAT_VERSION = 1
TOP_KEYS = ("snnc", "name", "target", "precision", "seed", "steps", "populations",
            "projections", "probes", "phases", "readout")  # phases, readout: see phases.py
POP_KEYS = ("size", "model", "params", "spikes", "positions")  # positions: positions.py
LIF_KEYS = ("du", "dv", "vth", "bias_mant", "bias_exp", "adapt", "wta")
ADAPT_KEYS = ("increment", "tau")

MAX_SEED = 2**32 - 1
MAX_SIZE = 2**31 - 1  # neuron indices are int32


def load_network(path: str | Path) -> NetworkIR:
    """Read a network YAML file (docs/network-format.md) into a validated NetworkIR."""
    data, locs = load_yaml(path)
    return network_from_dict(data, source_file=str(path), locations=locs,
                             base_dir=Path(path).parent)


def network_from_dict(spec: Any, source_file: str | None = None,
                      locations: Mapping[str, Location | int] | None = None,
                      base_dir: str | Path | None = None) -> NetworkIR:
    """Validate a network spec (parsed YAML or builder dict) and build its IR.

    `locations` maps dotted field paths to a Location or a 1-based line; `base_dir` is
    where relative file paths are resolved (default: the source file's folder, or cwd).
    All problems are collected and raised as one InputError.
    """
    if base_dir is None:
        base_dir = Path(source_file).parent if source_file else Path.cwd()
    ck = Checker(source_file, locations, Path(base_dir))
    top = ck.mapping(spec, "", TOP_KEYS, required=("snnc", "name", "populations"),
                     what="a mapping of network fields (snnc, name, populations, ...)")
    if top is INVALID:
        ck.errors.raise_if_any()

    if "snnc" in top and not (is_int(top["snnc"]) and int(top["snnc"]) == FORMAT_VERSION):
        ck.error("snnc", f"found format version {show(top['snnc'])}; this snnc reads version "
                 f"{FORMAT_VERSION}", str(FORMAT_VERSION))
    name = ck.string(top["name"], "name") if "name" in top else INVALID
    target = ck.string(top.get("target", "loihi2"), "target",
                       what="a target name or path") if top.get("target") is not None else "loihi2"
    precision = ck.choice(top.get("precision", "fixed"), "precision", PRECISIONS, "precision")
    seed = ck.integer(top.get("seed", 0), "seed", 0, MAX_SEED)
    steps = ck.integer(top.get("steps", 100), "steps", 1, MAX_STEPS)
    fixed = precision != "float"  # an invalid precision was reported; check as fixed
    seed = seed if seed is not INVALID else 0

    pops: dict[str, Population] = {}
    declared: dict[str, str | None] = {}
    if "populations" in top:
        pops, declared = _populations(ck, top["populations"], fixed)
    projs: dict[str, Projection] = {}
    proj_names: set[str] = set()
    if top.get("projections") is not None:
        projs, proj_names = projections(ck, top["projections"], pops, declared, fixed, seed)
    probes = _probes(ck, top.get("probes"), declared, proj_names)
    phases, readout = phases_and_readout(ck, top.get("phases"), top.get("readout"), pops, projs,
                                         fixed, seed)  # phases.py

    ck.errors.raise_if_any()
    locs = {k: v for k, v in ck.locations.items() if k}
    return NetworkIR(name=name, precision=precision, seed=seed, steps=steps, target=target,
                     populations=pops, projections=projs, probes=probes,
                     source_file=source_file, locations=locs, phases=phases, readout=readout)


# -- populations ----------------------------------------------------------------


def _populations(ck: Checker, spec: Any, fixed: bool
                 ) -> tuple[dict[str, Population], dict[str, str | None]]:
    """Valid populations, and every declared name -> its model (None when invalid)."""
    pops: dict[str, Population] = {}
    declared: dict[str, str | None] = {}
    if not isinstance(spec, Mapping) or not spec:
        ck.error("populations", f"found {show(spec)}; expected a mapping of population names "
                 "to {size, model, ...}", "at least one population")
        return pops, declared
    for key, body in spec.items():
        path = f"populations.{key}"
        if ck.name(key, path, "population") is INVALID:
            continue
        model = body.get("model", "lif") if isinstance(body, Mapping) else None
        declared[key] = model if model in NEURON_MODELS else None
        pop = _population(ck, key, body, path, fixed)
        if pop is not INVALID:
            pops[key] = pop
    return pops, declared


def _population(ck: Checker, name: str, spec: Any, path: str, fixed: bool) -> Population | Any:
    n_err = len(ck.errors.items)
    m = ck.mapping(spec, path, POP_KEYS, required=("size",))
    if m is INVALID:
        return INVALID
    size = ck.integer(m["size"], f"{path}.size", 1, MAX_SIZE, what="a positive integer") \
        if "size" in m else INVALID
    model = ck.choice(m.get("model", "lif"), f"{path}.model", NEURON_MODELS, "neuron model")
    lif = source = None
    if model == "lif":
        if "spikes" in m:
            ck.error(f"{path}.spikes", "'spikes' is only for model spike_source",
                     "params (for model lif)")
        lif = _lif_params(ck, m.get("params"), f"{path}.params", fixed)
    elif model == "spike_source":
        if "params" in m:
            ck.error(f"{path}.params", "'params' is only for model lif",
                     "spikes (for model spike_source)")
        if "spikes" not in m:
            ck.error(path, "missing required key 'spikes' for model spike_source",
                     "spikes: {kind: poisson | periodic | array, ...}")
        else:
            source = _spikes(ck, m["spikes"], f"{path}.spikes", size)
    positions = None
    if m.get("positions") is not None:
        positions = population_positions(ck, m["positions"], f"{path}.positions", size)
    if len(ck.errors.items) > n_err:
        return INVALID
    return Population(name=name, size=size, model=model, lif=lif, source=source,
                      positions=positions)


def _lif_params(ck: Checker, spec: Any, path: str, fixed: bool) -> LIFParams | Any:
    if spec is None:
        return LIFParams()
    m = ck.mapping(spec, path, LIF_KEYS)
    if m is INVALID:
        return INVALID
    out = LIFParams()
    for key, (lo, hi) in LIF_FIXED_RANGES.items():
        if key not in m:
            continue
        p = f"{path}.{key}"
        if fixed or key == "bias_exp":
            value = ck.integer(m[key], p, lo, hi)
        elif key in ("du", "dv"):
            value = ck.number(m[key], p, 0.0, 1.0)
        else:
            value = ck.number(m[key], p)
        if value is not INVALID:
            setattr(out, key, int(value) if (fixed or key == "bias_exp") else float(value))
    if "adapt" in m:
        out.adapt = _adapt(ck, m["adapt"], f"{path}.adapt")
    if "wta" in m:
        if isinstance(m["wta"], (bool, np.bool_)):
            out.wta = bool(m["wta"])
        else:
            ck.error(f"{path}.wta", f"found {show(m['wta'])}; expected true or false", "true | false")
    return out


def _adapt(ck: Checker, spec: Any, path: str) -> Adapt | Any:
    m = ck.mapping(spec, path, ADAPT_KEYS, required=ADAPT_KEYS)
    if m is INVALID:
        return INVALID
    inc = ck.number(m["increment"], f"{path}.increment", 0) if "increment" in m else INVALID
    tau = ck.number(m["tau"], f"{path}.tau", 0, what="a positive number") if "tau" in m else INVALID
    if tau is not INVALID and tau == 0:
        tau = ck.error(f"{path}.tau", "found 0; the decay time constant must be positive",
                       "number > 0 (steps)")
    if inc is INVALID or tau is INVALID:
        return INVALID
    return Adapt(increment=inc, tau=tau)


def _spikes(ck: Checker, spec: Any, path: str, size: int | Any) -> SpikeSource | Any:
    if isinstance(spec, np.ndarray):
        spec = {"kind": "array", "data": spec}
    if not isinstance(spec, Mapping):
        return ck.error(path, f"found {show(spec)}; expected a mapping with 'kind'",
                        "{kind: poisson, rate} | {kind: periodic, period, phase} | {kind: array, file}")
    if "kind" not in spec:
        return ck.error(path, "missing required key 'kind'", " | ".join(SOURCE_KINDS))
    if spec["kind"] == DATASET_KIND:  # phases.py
        return dataset_source(ck, spec, path, size)
    if spec["kind"] == LABELS_KIND:  # labels.py
        return label_source(ck, spec, path, size)
    if spec["kind"] == PATTERN_KIND:  # pattern_source.py
        return pattern_source(ck, spec, path, size)
    kind = ck.choice(spec["kind"], f"{path}.kind", SOURCE_KINDS + (DATASET_KIND,),
                     "spike source kind")
    if kind == "poisson":
        m = ck.mapping(spec, path, ("kind", "rate"), required=("rate",))
        rate = ck.number(m["rate"], f"{path}.rate", 0.0, 1.0) if "rate" in m else INVALID
        return INVALID if rate is INVALID else SpikeSource("poisson", rate=float(rate))
    if kind == "periodic":
        m = ck.mapping(spec, path, ("kind", "period", "phase"), required=("period",))
        period = ck.integer(m["period"], f"{path}.period", 1) if "period" in m else INVALID
        phase = ck.integer(m.get("phase", 0), f"{path}.phase", 0)
        if period is INVALID or phase is INVALID:
            return INVALID
        return SpikeSource("periodic", period=period, phase=phase)
    if kind == "array":
        m = ck.mapping(spec, path, ("kind", "file", "data"))
        arr = array_field(ck, m, path, "spikes array")
        if arr is INVALID:
            return INVALID
        data = _check_spike_array(ck, arr, path, size)
        return INVALID if data is INVALID else SpikeSource("array", data=data)
    return INVALID


def _check_spike_array(ck: Checker, arr: np.ndarray, path: str, size: int | Any) -> np.ndarray | Any:
    ok = True
    if arr.ndim != 2 or (size is not INVALID and arr.shape[1] != size):
        want = f"(steps, {size})" if size is not INVALID else "(steps, size)"
        ck.error(path, f"found spike array of shape {arr.shape}; expected {want}",
                 f"bool array of shape {want}")
        ok = False
    if arr.dtype != np.bool_:
        if arr.dtype.kind in "iu" and arr.size and not np.isin(arr, (0, 1)).all():
            ck.error(path, f"found integer spike array with values other than 0/1 (dtype {arr.dtype})",
                     "bool array (or integers 0/1)")
            ok = False
        elif arr.dtype.kind not in "iu":
            ck.error(path, f"found spike array of dtype {arr.dtype}; expected bool",
                     "bool array (or integers 0/1)")
            ok = False
    return arr.astype(bool) if ok else INVALID


# -- probes ---------------------------------------------------------------------


def _probes(ck: Checker, spec: Any, declared: dict[str, str | None],
            proj_names: set[str]) -> list[Probe]:
    if spec is None:
        return []
    allowed = "<population>.spikes | <population>.v | <population>.u | <projection>.weights"
    if not isinstance(spec, (list, tuple)):
        ck.error("probes", f"found {show(spec)}; expected a list of probe names", allowed)
        return []
    out: list[Probe] = []
    seen: set[str] = set()
    for i, item in enumerate(spec):
        path = f"probes[{i}]"
        if not isinstance(item, str) or item.count(".") != 1:
            ck.error(path, f"found {show(item)}; expected '<name>.<variable>'", allowed)
            continue
        target, var = item.split(".")
        if target in declared:
            model = declared[target]
            if var not in PROBE_VARS:
                ck.error(path, f"unknown population variable '{var}'{suggest(var, PROBE_VARS)}",
                         "spikes | v | u")
                continue
            if var in ("v", "u") and model == "spike_source":
                ck.error(path, f"'{target}' is a spike_source; it has no '{var}'", "spikes")
                continue
        elif target in proj_names:
            if var != "weights":
                ck.error(path, f"unknown projection variable '{var}'{suggest(var, ['weights'])}",
                         "weights")
                continue
        else:
            names = list(declared) + sorted(proj_names)
            ck.error(path, f"unknown population or projection '{target}'{suggest(target, names)}",
                     ", ".join(names) or "a declared name")
            continue
        if item in seen:
            ck.error(path, f"duplicate probe '{item}'", "each probe once")
            continue
        seen.add(item)
        out.append(Probe(target, var))
    return out
