"""Validation of a `.snnc` artifact on load, as strict as the YAML frontend's.

Two stages. `check_arrays` runs before any array data is inflated: it sees the manifest
(parsed JSON) and the .npy headers of `arrays.npz`, checks that every referenced member
exists with the shape the manifest implies (population sizes, equal synapse array lengths,
core tables) and that the arrays fit the memory budget. `check_program` runs on the decoded
Program: types, ranges and cross-references of every field (indices within populations,
delays within the target's max_delay, weights within what the weight bits allow, each
neuron on exactly one core, `core_of` matching the cores). Every problem is an InputError
naming the file, the member (`manifest.json` or `arrays.npz`), the field and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import budget
from .archives import NUMERIC_KINDS, ArrayInfo
from .conv_geometry import kernel_index
from .errors import Diagnostic, InputError, Location
from .ir import (
    DATASET_KIND,
    LIF_FIXED_RANGES,
    NEURON_MODELS,
    PRECISIONS,
    PROBE_VARS,
    SOURCE_KINDS,
    Adapt,
    ConvSpec,
    Dataset,
    LIFParams,
    NetworkIR,
    Override,
    Phase,
    Plasticity,
    Population,
    Probe,
    Projection,
    Readout,
    SpikeSource,
)
from .lava_weights import INHIBITORY, MIXED, clip_range
from .program import CompileReport, Core, Program
from .target import CoreLimits, Target

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
MAX_SIZE = 2**31 - 1  # neurons of one population (int32 indices), as in the frontend
MAX_SYNAPSES = 2**31 - 1  # synapses of one projection
MAX_SEED = 2**32 - 1
MAX_SHOWN = 20  # diagnostics listed at most
# fixed precision ranges (the frontend's: compiler/frontend/network.py, projections.py)
WEIGHT_MIN, WEIGHT_MAX = clip_range(MIXED)
WEIGHT_EXP = (-8, 7)
CORE_RANGES = {"neurons": (1, None), "in_axons": (1, None), "out_axons": (1, None),
               "synapse_bits": (1, None), "weight_bits": (1, 8), "max_delay": (0, 63)}
OVERRIDE_KINDS = ("weight_scale", "lif", "adapt", "plastic")
VOTES = ("max", "soft")
ENCODINGS = ("rate",)


def _int(v: Any) -> bool:
    """A Python or numpy integer, never a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _num(v: Any) -> bool:
    """A finite int or float (numpy too), never a bool."""
    return (_int(v) or isinstance(v, (float, np.floating))) and math.isfinite(float(v))


def _intlike(v: Any) -> bool:
    """An integer, or a float holding a whole number (JSON may carry either)."""
    return _int(v) or (_num(v) and float(v).is_integer())


def _rng(lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f"[{lo}, {hi}]"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def _show(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"an array {v.dtype}{v.shape}"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class Problems:
    """Diagnostics about one artifact: `add(member, field, message, allowed)`."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Diagnostic] = []

    def add(self, member: str, field: str, message: str, allowed: str | None = None) -> bool:
        self.items.append(Diagnostic(f"{member}: {message}", self.file, None, field, allowed))
        return False

    def raise_if_any(self) -> None:
        if self.items:
            shown = self.items[:MAX_SHOWN]
            if len(self.items) > MAX_SHOWN:
                shown.append(Diagnostic(f"... and {len(self.items) - MAX_SHOWN} more problems",
                                        self.file))
            raise InputError(shown)

    # scalars -------------------------------------------------------------------

    def integer(self, v: Any, field: str, lo: int | None = None, hi: int | None = None,
                member: str = MANIFEST) -> bool:
        if not _intlike(v):
            return self.add(member, field, f"found {_show(v)}; expected an integer",
                            f"an integer {_rng(lo, hi)}" if lo is not None or hi is not None
                            else "an integer")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return self.add(member, field, f"found {v}, out of range", f"an integer {_rng(lo, hi)}")
        return True

    def number(self, v: Any, field: str, lo: float | None = None, hi: float | None = None,
               member: str = MANIFEST) -> bool:
        if not _num(v):
            return self.add(member, field, f"found {_show(v)}; expected a finite number",
                            "a finite number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return self.add(member, field, f"found {v}, out of range", f"a number {_rng(lo, hi)}")
        return True

    def text(self, v: Any, field: str, member: str = MANIFEST) -> bool:
        if not isinstance(v, str):
            return self.add(member, field, f"found {_show(v)}; expected a string", "a string")
        return True

    def choice(self, v: Any, field: str, choices: tuple[str, ...], member: str = MANIFEST) -> bool:
        if not isinstance(v, str) or v not in choices:
            return self.add(member, field, f"found {_show(v)}", " | ".join(choices))
        return True

    def flag(self, v: Any, field: str, member: str = MANIFEST) -> bool:
        if not isinstance(v, (bool, np.bool_)):
            return self.add(member, field, f"found {_show(v)}; expected true or false",
                            "true | false")
        return True

    def instance(self, v: Any, cls: type, field: str, member: str = MANIFEST) -> bool:
        if not isinstance(v, cls):
            return self.add(member, field, f"found {_show(v)}; expected a {cls.__name__}",
                            f"a {cls.__name__} record")
        return True

    # arrays --------------------------------------------------------------------

    def array(self, a: Any, field: str, ndim: int, kinds: str = NUMERIC_KINDS,
              shape: tuple[int | None, ...] | None = None) -> bool:
        """`a` is an ndarray of `ndim` dimensions, a dtype kind in `kinds`, and `shape`
        (None entries: any length)."""
        if not isinstance(a, np.ndarray):
            return self.add(MANIFEST, field, f"found {_show(a)}; expected an array reference",
                            "{\"__array__\": key}")
        if a.ndim != ndim or a.dtype.kind not in kinds:
            return self.add(ARRAYS, field, f"found {a.dtype} array of shape {a.shape}",
                            f"a {ndim}-D array of {_kinds(kinds)}")
        if shape is not None and any(w is not None and w != s for w, s in zip(shape, a.shape,
                                                                             strict=True)):
            want = tuple("n" if w is None else w for w in shape)
            return self.add(ARRAYS, field, f"found shape {a.shape}",
                            f"shape {want}".replace("'", ""))
        return True

    def within(self, a: np.ndarray, field: str, lo: int | float, hi: int | float,
               what: str = "values") -> bool:
        if a.size == 0:
            return True
        amin, amax = a.min(), a.max()
        if amin < lo or amax > hi:
            bad = amin if amin < lo else amax
            n = int(np.count_nonzero((a < lo) | (a > hi)))
            return self.add(ARRAYS, field, f"found {what} {bad} ({n} out of range)",
                            f"{what} in [{lo}, {hi}]")
        return True


def _kinds(kinds: str) -> str:
    names = {"b": "bools", "i": "integers", "u": "unsigned integers", "f": "floats"}
    return " or ".join(names[k] for k in kinds)


# ---------------------------------------------------------------- before inflating

def _refs(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(field path, array key) of every array reference under `obj` (packed manifest form)."""
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            yield path, obj["__array__"]
            return
        if set(obj) == {"__dc__", "fields"}:
            yield from _refs(obj["fields"], path)
            return
        if set(obj) == {"__tuple__"}:
            obj = dict(enumerate(obj["__tuple__"])) if isinstance(obj["__tuple__"], list) else {}
            for i, v in obj.items():
                yield from _refs(v, f"{path}[{i}]")
            return
        for k, v in obj.items():
            yield from _refs(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _refs(v, f"{path}[{i}]")


def _fields(entry: Any) -> dict[str, Any]:
    """The fields of a packed dataclass (or a plain mapping); {} for anything else."""
    if isinstance(entry, dict) and set(entry) == {"__dc__", "fields"}:
        entry = entry["fields"]
    return entry if isinstance(entry, dict) else {}


def _named(manifest: dict[str, Any], section: str) -> list[tuple[str, dict[str, Any]]]:
    """(field path, fields) of each entry of a populations/projections list."""
    out = []
    entries = manifest.get(section)
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        f = _fields(entry)
        name = f.get("name")
        out.append((f"{section}.{name}" if isinstance(name, str) else f"{section}[{i}]", f))
    return out


def manifest_refs(manifest: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every array reference of a manifest with its field path (populations and
    projections by name)."""
    refs: list[tuple[str, Any]] = []
    for key, value in manifest.items():
        if key in ("populations", "projections"):
            for path, f in _named(manifest, key):
                refs.extend(_refs(f, path))
        elif key == "network":
            refs.extend(_refs(value, ""))
        elif key != "narrowed":
            refs.extend(_refs(value, key))
    return refs


def check_arrays(manifest: dict[str, Any], infos: dict[str, ArrayInfo], file: str) -> set[str]:
    """Check the manifest against the arrays' headers before any data is inflated; the
    member names to read. InputError (all problems at once) otherwise."""
    pr = Problems(file)
    by_key = {info.key: info for info in infos.values()}
    refs = manifest_refs(manifest)
    at: dict[str, ArrayInfo] = {}
    needed: set[str] = set()
    for path, key in refs:
        if not isinstance(key, str):
            pr.add(MANIFEST, path, f"array reference {_show(key)} is not a name",
                   f"a member name of {ARRAYS}")
        elif key not in by_key:
            pr.add(MANIFEST, path, f"refers to array '{key}', which {ARRAYS} does not hold",
                   f"one of the {len(by_key)} members of {ARRAYS}")
        else:
            at[path] = by_key[key]
            needed.add(by_key[key].name)
    unknown = sorted(set(infos) - needed)
    if unknown:
        listed = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10
                                            else "")
        pr.add(ARRAYS, "", f"members the manifest does not refer to: {listed} (not read)",
               "only the arrays the manifest refers to")
    for path, info in at.items():
        if info.dtype.kind not in NUMERIC_KINDS:
            pr.add(ARRAYS, path, f"member {info.name} has dtype {info.dtype}",
                   "bool, integer or float arrays")
    extra = _check_narrowed(pr, manifest.get("narrowed", {}), by_key,
                            {k for _, k in refs if isinstance(k, str)})
    sizes = _population_sizes(pr, manifest)
    _check_shapes(pr, manifest, at, sizes)
    pr.raise_if_any()
    nbytes = sum(infos[name].nbytes for name in needed) + extra
    budget.require(nbytes, f"loading {file} ({len(needed)} arrays)",
                   "a smaller program (fewer neurons or synapses)")
    return needed


def _check_narrowed(pr: Problems, narrowed: Any, by_key: dict[str, ArrayInfo],
                    referenced: set[Any]) -> int:
    """The `narrowed` map (array key -> original integer dtype); the extra bytes that
    widening the arrays back costs."""
    if not isinstance(narrowed, dict):
        pr.add(MANIFEST, "narrowed", f"found {_show(narrowed)}; expected a mapping",
               "array key -> integer dtype")
        return 0
    extra = 0
    for key, dt in narrowed.items():
        field = f"narrowed.{key}"
        try:
            dtype = np.dtype(dt) if isinstance(dt, str) else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.kind not in "iu" or dtype.itemsize > 8:
            pr.add(MANIFEST, field, f"found {_show(dt)}", "an integer dtype such as '<i4'")
        elif key not in referenced or key not in by_key:
            pr.add(MANIFEST, field, f"names array '{key}', which the manifest does not use",
                   "keys of referenced arrays")
        elif by_key[key].dtype.kind not in "iu":
            pr.add(ARRAYS, field, f"array '{key}' is stored as {by_key[key].dtype}, not as "
                   "integers", "narrowed arrays stored as integers")
        else:
            info = by_key[key]
            extra += info.nbytes // max(info.dtype.itemsize, 1) * dtype.itemsize
    return extra


def _population_sizes(pr: Problems, manifest: dict[str, Any]) -> dict[str, int]:
    """Population name -> size, each checked as a whole number of neurons."""
    sizes: dict[str, int] = {}
    for path, f in _named(manifest, "populations"):
        name, size = f.get("name"), f.get("size")
        if not isinstance(name, str):
            pr.add(MANIFEST, f"{path}.name", f"found {_show(name)}; expected a name", "a string")
            continue
        if name in sizes:
            pr.add(MANIFEST, path, f"population '{name}' appears twice", "unique names")
        if pr.integer(size, f"{path}.size", 1, MAX_SIZE):
            sizes[name] = int(size)
    return sizes


def _check_shapes(pr: Problems, manifest: dict[str, Any], at: dict[str, ArrayInfo],
                  sizes: dict[str, int]) -> None:
    """Header shapes against the sizes the manifest gives (nothing inflated)."""
    _check_population_shapes(pr, at, sizes)
    for path, f in _named(manifest, "projections"):
        _check_projection_shapes(pr, at, sizes, path, f)
    _check_core_table_shapes(pr, manifest, at)


def _expect_shape(pr: Problems, at: dict[str, ArrayInfo], path: str, ndim: int,
                  dims: dict[int, int], why: str) -> None:
    """Member `path` (if present) has `ndim` dimensions and the sizes `dims` gives by axis."""
    info = at.get(path)
    if info is None:
        return
    bad = info.ndim != ndim or any(info.shape[i] != n for i, n in dims.items())
    if bad:
        want = ["n"] * ndim
        for i, n in dims.items():
            want[i] = str(n)
        pr.add(ARRAYS, path, f"member {info.name} has shape {info.shape}; {why}",
               f"shape ({', '.join(want)}{',' if ndim == 1 else ''})")


def _check_population_shapes(pr: Problems, at: dict[str, ArrayInfo],
                             sizes: dict[str, int]) -> None:
    """Per-neuron members of each population (positions, source data, core tables)."""
    for name, size in sizes.items():
        base = f"populations.{name}"
        why = f"manifest.json gives {size} neurons (populations.{name}.size)"
        _expect_shape(pr, at, f"{base}.positions", 2, {0: size}, why)
        _expect_shape(pr, at, f"{base}.source.data", 2, {1: size}, why)
        _expect_shape(pr, at, f"{base}.source.dataset.x", 2, {1: size}, why)
        x = at.get(f"{base}.source.dataset.x")
        if x is not None and x.ndim == 2:
            _expect_shape(pr, at, f"{base}.source.dataset.y", 1, {0: x.shape[0]},
                          "one label per sample of x")
        if f"core_of.{name}" in at:
            _expect_shape(pr, at, f"core_of.{name}", 1, {0: size}, why + " (one core id each)")
        if f"cores.neurons.{name}.indices" in at:
            _expect_shape(pr, at, f"cores.neurons.{name}.indices", 1, {0: size},
                          why + " (each on exactly one core)")


def _check_projection_shapes(pr: Problems, at: dict[str, ArrayInfo], sizes: dict[str, int],
                             path: str, f: dict[str, Any]) -> None:
    """One projection's synapse arrays: 1-D, equally long, no more than pre x post."""
    lengths = {k: at[f"{path}.{k}"] for k in ("pre_idx", "post_idx", "weight", "delay")
               if f"{path}.{k}" in at}
    for k, info in lengths.items():
        if info.ndim != 1:
            pr.add(ARRAYS, f"{path}.{k}", f"member {info.name} has shape {info.shape}",
                   "a 1-D array, one entry per synapse")
    n = {info.shape[0] for info in lengths.values() if info.ndim == 1}
    if len(n) > 1:
        pr.add(ARRAYS, path, "synapse arrays of unequal lengths: " + ", ".join(
            f"{k} {info.shape}" for k, info in lengths.items()), "one entry per synapse each")
    pre, post = (sizes.get(f[k]) if isinstance(f.get(k), str) else None
                 for k in ("pre", "post"))
    if len(n) == 1 and pre is not None and post is not None and n.pop() > pre * post:
        pr.add(ARRAYS, path, f"{lengths['pre_idx'].shape[0]} synapses between {pre} and "
               f"{post} neurons", f"at most {pre * post} (each pair once)")


def _check_core_table_shapes(pr: Problems, manifest: dict[str, Any],
                             at: dict[str, ArrayInfo]) -> None:
    """Core tables: one entry per core (cores.count), offsets one more."""
    cores = manifest.get("cores")
    if not isinstance(cores, dict):
        return
    count = cores.get("count")
    if not pr.integer(count, "cores.count", 0, MAX_SIZE):
        return
    for path in [p for p in at if p.startswith("cores.fields.")]:
        _expect_shape(pr, at, path, 1, {0: int(count)}, f"cores.count is {count}")
    for path in [p for p in at if p.startswith("cores.neurons.") and p.endswith(".offsets")]:
        _expect_shape(pr, at, path, 1, {0: int(count) + 1},
                      f"cores.count is {count} (offsets n + 1)")


# ---------------------------------------------------------------- after decoding

def check_program(program: Any, file: str) -> None:
    """Every field of a decoded Program: types, ranges, cross-references (InputError)."""
    pr = Problems(file)
    if not pr.instance(program, Program, "program"):
        pr.raise_if_any()
    target_ok = _check_target(pr, program.target)
    net = program.network
    if not pr.instance(net, NetworkIR, "network"):
        pr.raise_if_any()
    max_delay = program.target.core.max_delay if target_ok else 63
    weight_bits = program.target.core.weight_bits if target_ok else 8
    _check_network_fields(pr, net)
    fixed = net.precision == "fixed"
    pops_ok = _check_populations(pr, net, fixed)
    if pops_ok:
        _check_projections(pr, net, fixed, max_delay, weight_bits)
        _check_probes(pr, net)
        _check_phases(pr, net)
        if target_ok:
            _check_cores(pr, program, net)
    pr.text(program.partitioner, "partitioner")
    _check_report(pr, program.report)
    pr.raise_if_any()
    _check_rules(pr, program)
    pr.raise_if_any()


def _check_report(pr: Problems, report: Any) -> None:
    """The report fields that runs and profiles read (the rest is informational)."""
    if isinstance(report, CompileReport):
        report = report.to_dict()
    if not pr.instance(report, dict, "report"):
        return
    lb = report.get("lower_bound")
    if lb is not None and not (_intlike(lb) and lb >= 0):
        pr.add(MANIFEST, "report.lower_bound", f"found {_show(lb)}", "an integer >= 0 or null")
    by_limit = report.get("lower_bound_by_limit")
    if by_limit is not None and not (isinstance(by_limit, dict) and all(
            isinstance(v, str) or (_num(v) and v >= 0) for v in by_limit.values())):
        pr.add(MANIFEST, "report.lower_bound_by_limit", f"found {_show(by_limit)}",
               "a mapping of limit name to a number >= 0, or null")
    for key in ("warnings", "not_native"):
        v = report.get(key, [])
        if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            pr.add(MANIFEST, f"report.{key}", f"found {_show(v)}", "a list of strings")
    for key in ("partition", "placement", "quantization", "timings_s"):
        if report.get(key) is not None:
            pr.instance(report[key], dict, f"report.{key}")
    t = report.get("compile_time_s")
    if t is not None:
        pr.number(t, "report.compile_time_s", 0.0)


def _check_rules(pr: Problems, program: Program) -> None:
    """Plasticity rules and adapt blocks, by the compiler's own check (as at compile time)."""
    from .plasticity import check_network

    try:
        check_network(program.network, program.target)
    except InputError as exc:
        for d in exc.diagnostics:
            pr.add(MANIFEST, d.field, d.message, d.allowed)


def _check_target(pr: Problems, t: Any) -> bool:
    n = len(pr.items)
    if not pr.instance(t, Target, "target"):
        return False
    pr.text(t.name, "target.name")
    pr.integer(t.chips, "target.chips", 1, None)
    pr.integer(t.cores_per_chip, "target.cores_per_chip", 1, None)
    mesh = t.mesh
    if not (isinstance(mesh, tuple) and len(mesh) == 2 and all(_int(v) and v >= 1 for v in mesh)):
        pr.add(MANIFEST, "target.mesh", f"found {_show(mesh)}", "[x, y], two integers >= 1")
    if pr.instance(t.core, CoreLimits, "target.core"):
        for k, (lo, hi) in CORE_RANGES.items():
            pr.integer(getattr(t.core, k), f"target.core.{k}", lo, hi)
    for section in ("energy_pj", "time_ns"):
        table = getattr(t, section)
        if pr.instance(table, dict, f"target.{section}"):
            for k, v in table.items():
                pr.number(v, f"target.{section}.{k}", 0.0)
    pr.text(t.source, "target.source")
    if t.file is not None:
        pr.text(t.file, "target.file")
    if pr.instance(t.sources, dict, "target.sources"):
        for k, v in t.sources.items():
            pr.text(v, f"target.sources.{k}")
    return len(pr.items) == n


def _check_network_fields(pr: Problems, net: NetworkIR) -> None:
    pr.text(net.name, "network.name")
    pr.choice(net.precision, "network.precision", PRECISIONS)
    pr.integer(net.seed, "network.seed", 0, MAX_SEED)
    pr.integer(net.steps, "network.steps", 1, budget.MAX_STEPS)
    pr.text(net.target, "network.target")
    if net.source_file is not None:
        pr.text(net.source_file, "network.source_file")
    for field, cls in (("populations", dict), ("projections", dict), ("probes", list),
                       ("locations", dict), ("phases", list)):
        pr.instance(getattr(net, field), cls, f"network.{field}")
    for key, loc in (net.locations.items() if isinstance(net.locations, dict) else ()):
        if not (isinstance(key, str) and isinstance(loc, Location)
                and (loc.file is None or isinstance(loc.file, str))
                and (loc.line is None or (_int(loc.line) and loc.line >= 0))
                and isinstance(loc.field, str)):
            pr.add(MANIFEST, f"network.locations.{key}", f"found {_show(loc)}",
                   "a Location record {file, line, field}")


def _check_populations(pr: Problems, net: NetworkIR, fixed: bool) -> bool:
    n = len(pr.items)
    if not isinstance(net.populations, dict):
        return False
    for key, pop in net.populations.items():
        path = f"populations.{key}"
        if not pr.instance(pop, Population, path):
            continue
        if pop.name != key:
            pr.add(MANIFEST, f"{path}.name", f"found {_show(pop.name)}", f"'{key}'")
        if not pr.integer(pop.size, f"{path}.size", 1, MAX_SIZE):
            continue
        if not pr.choice(pop.model, f"{path}.model", NEURON_MODELS):
            continue
        if pop.model == "lif":
            if pr.instance(pop.lif, LIFParams, f"{path}.lif"):
                _check_lif(pr, pop.lif, f"{path}.lif", fixed)
        elif pr.instance(pop.source, SpikeSource, f"{path}.source"):
            _check_source(pr, pop.source, f"{path}.source", pop.size)
        if pop.positions is not None and pr.array(pop.positions, f"{path}.positions", 2, "f",
                                                  (pop.size, None)):
            if not 1 <= pop.positions.shape[1] <= 3 or not np.isfinite(pop.positions).all():
                pr.add(ARRAYS, f"{path}.positions", f"found {pop.positions.shape[1]}-D or "
                       "non-finite positions", "finite coordinates in 1 to 3 dimensions")
    return len(pr.items) == n


def _check_lif(pr: Problems, lif: LIFParams, path: str, fixed: bool) -> None:
    for k, (lo, hi) in LIF_FIXED_RANGES.items():
        v = getattr(lif, k)
        if fixed:
            pr.integer(v, f"{path}.{k}", lo, hi)
        elif k in ("du", "dv"):
            pr.number(v, f"{path}.{k}", 0.0, 1.0)
        elif k == "bias_exp":
            pr.integer(v, f"{path}.{k}", lo, hi)
        else:
            pr.number(v, f"{path}.{k}")
    pr.flag(lif.wta, f"{path}.wta")
    if lif.adapt is not None and pr.instance(lif.adapt, Adapt, f"{path}.adapt"):
        pr.number(lif.adapt.increment, f"{path}.adapt.increment", 0.0)
        if pr.number(lif.adapt.tau, f"{path}.adapt.tau", 0.0) and lif.adapt.tau == 0:
            pr.add(MANIFEST, f"{path}.adapt.tau", "found 0", "a time constant > 0")


def _check_source(pr: Problems, src: SpikeSource, path: str, size: int) -> None:
    if not pr.choice(src.kind, f"{path}.kind", SOURCE_KINDS + (DATASET_KIND,)):
        return
    if src.kind == "poisson":
        pr.number(src.rate, f"{path}.rate", 0.0, 1.0)
    elif src.kind == "periodic":
        pr.integer(src.period, f"{path}.period", 1, budget.MAX_STEPS)
        pr.integer(src.phase, f"{path}.phase", 0, budget.MAX_STEPS)
    elif src.kind == "array":
        if pr.array(src.data, f"{path}.data", 2, "biu", (None, size)) \
                and src.data.dtype.kind != "b":
            pr.within(src.data, f"{path}.data", 0, 1, "spike flags")
    elif pr.instance(src.dataset, Dataset, f"{path}.dataset"):
        _check_dataset(pr, src.dataset, f"{path}.dataset", size)


def _check_dataset(pr: Problems, ds: Dataset, path: str, size: int) -> None:
    pr.text(ds.name, f"{path}.name")
    if pr.array(ds.x, f"{path}.x", 2, "f", (None, size)):
        if ds.x.size and (not np.isfinite(ds.x).all() or ds.x.min() < 0):
            pr.add(ARRAYS, f"{path}.x", "found negative or non-finite values", "finite x >= 0")
        n = ds.x.shape[0]
        if pr.array(ds.y, f"{path}.y", 1, "iu", (n,)):
            pr.within(ds.y, f"{path}.y", 0, 2**31 - 1, "labels")
        if pr.instance(ds.splits, dict, f"{path}.splits"):
            for name, idx in ds.splits.items():
                if pr.array(idx, f"{path}.splits.{name}", 1, "iu"):
                    pr.within(idx, f"{path}.splits.{name}", 0, n - 1, "sample indices")
    pr.choice(ds.encoding, f"{path}.encoding", ENCODINGS)
    pr.number(ds.max_rate, f"{path}.max_rate", 0.0, 1.0)
    pr.integer(ds.present, f"{path}.present", 1, budget.MAX_STEPS)
    pr.integer(ds.rest, f"{path}.rest", 0, budget.MAX_STEPS)
    if pr.number(ds.x_max, f"{path}.x_max", 0.0) and ds.x_max == 0:
        pr.add(MANIFEST, f"{path}.x_max", "found 0", "a scale > 0")


def _check_projections(pr: Problems, net: NetworkIR, fixed: bool, max_delay: int,
                       weight_bits: int) -> None:
    """Every projection: name, ends, weight format, plasticity, synapse arrays."""
    if not isinstance(net.projections, dict):
        return
    for key, proj in net.projections.items():
        path = f"projections.{key}"
        if not pr.instance(proj, Projection, path):
            continue
        if proj.name != key:
            pr.add(MANIFEST, f"{path}.name", f"found {_show(proj.name)}", f"'{key}'")
        ends = _projection_ends(pr, net, proj, path)
        pr.integer(proj.weight_exp, f"{path}.weight_exp", *WEIGHT_EXP)
        pr.integer(proj.num_weight_bits, f"{path}.num_weight_bits", 1,
                   weight_bits if fixed else 8)
        if proj.plasticity is not None and pr.instance(proj.plasticity, Plasticity,
                                                       f"{path}.plasticity"):
            pr.text(proj.plasticity.rule, f"{path}.plasticity.rule")
            pr.instance(proj.plasticity.params, dict, f"{path}.plasticity.params")
        seen = len(pr.items)
        _check_synapses(pr, proj, path, ends, fixed, max_delay)
        if proj.conv is not None and _check_conv_spec(pr, proj.conv, f"{path}.conv", ends) \
                and len(pr.items) == seen:
            _check_conv_synapses(pr, proj, f"{path}.conv")


def _projection_ends(pr: Problems, net: NetworkIR, proj: Projection,
                     path: str) -> list[Population]:
    """The pre and post populations that exist (a lif post); both when the ends are valid."""
    ends = []
    for end in ("pre", "post"):
        name = getattr(proj, end)
        if not isinstance(name, str) or name not in net.populations:
            pr.add(MANIFEST, f"{path}.{end}", f"found {_show(name)}; not a population",
                   ", ".join(net.populations))
        else:
            ends.append(net.populations[name])
    if len(ends) == 2 and ends[1].model != "lif":
        pr.add(MANIFEST, f"{path}.post", f"'{proj.post}' is a spike source",
               "a lif population")
    return ends


def _check_synapses(pr: Problems, proj: Projection, path: str, ends: list[Population],
                    fixed: bool, max_delay: int) -> None:
    """Synapse arrays: 1-D, equally long, indices within the ends, delays and weights in range."""
    ok = [pr.array(proj.pre_idx, f"{path}.pre_idx", 1, "iu"),
          pr.array(proj.post_idx, f"{path}.post_idx", 1, "iu"),
          pr.array(proj.weight, f"{path}.weight", 1, "iu" if fixed else "f"),
          pr.array(proj.delay, f"{path}.delay", 1, "iu")]
    if not all(ok):
        return
    lengths = {len(proj.pre_idx), len(proj.post_idx), len(proj.weight), len(proj.delay)}
    if len(lengths) != 1:
        pr.add(ARRAYS, path, "synapse arrays of unequal lengths (pre_idx "
               f"{len(proj.pre_idx)}, post_idx {len(proj.post_idx)}, weight "
               f"{len(proj.weight)}, delay {len(proj.delay)})", "one entry per synapse each")
        return
    if len(proj.pre_idx) > MAX_SYNAPSES:
        pr.add(ARRAYS, path, f"{len(proj.pre_idx)} synapses", f"at most {MAX_SYNAPSES}")
    if len(ends) == 2:
        pr.within(proj.pre_idx, f"{path}.pre_idx", 0, ends[0].size - 1, "neuron indices")
        pr.within(proj.post_idx, f"{path}.post_idx", 0, ends[1].size - 1, "neuron indices")
    pr.within(proj.delay, f"{path}.delay", 0, max_delay, "delays")
    _check_weights(pr, proj.weight, f"{path}.weight", fixed)


CONV_FIELDS = (("in_shape", 1, 1), ("out_shape", 1, 1), ("kernel", 1, 0), ("stride", 1, 0),
               ("padding", 0, 0), ("dilation", 1, 0))  # name, least value, extra (channels)


def _check_conv_spec(pr: Problems, spec: Any, path: str, ends: list[Population]) -> bool:
    """A ConvSpec: tuples of 1 or 2 spatial integers (shapes with channels first), groups
    dividing both channel counts, shapes holding as many neurons as the projection's ends."""
    if not pr.instance(spec, ConvSpec, path):
        return False
    dims = len(spec.kernel) if isinstance(spec.kernel, tuple) else 0
    if dims not in (1, 2):
        return pr.add(MANIFEST, f"{path}.kernel", f"found {_show(spec.kernel)}",
                      "a tuple of 1 or 2 integers (one per spatial dimension)")
    ok = True
    for key, lo, extra in CONV_FIELDS:
        v, n = getattr(spec, key), dims + extra
        what = "(channels, *spatial)" if extra else "(one per spatial dimension)"
        if not isinstance(v, tuple) or len(v) != n or not all(_int(x) for x in v):
            ok = pr.add(MANIFEST, f"{path}.{key}", f"found {_show(v)}",
                        f"a tuple of {n} integers {what}")
        elif min(v) < lo or max(v) > MAX_SIZE:
            ok = pr.add(MANIFEST, f"{path}.{key}", f"found {_show(v)}, out of range",
                        f"integers in [{lo}, {MAX_SIZE}]")
    if not (pr.integer(spec.groups, f"{path}.groups", 1, MAX_SIZE) and ok):
        return False
    if spec.in_shape[0] % spec.groups or spec.out_shape[0] % spec.groups:
        return pr.add(MANIFEST, f"{path}.groups", f"{spec.groups} groups for "
                      f"{spec.in_shape[0]} in and {spec.out_shape[0]} out channels",
                      "a divisor of both channel counts")
    if len(ends) != 2:
        return False
    for pop, key in zip(ends, ("in_shape", "out_shape"), strict=True):
        shape = getattr(spec, key)
        if math.prod(shape) != pop.size:
            ok = pr.add(MANIFEST, f"{path}.{key}", f"shape {shape} for the {pop.size} neurons "
                        f"of '{pop.name}'", f"a shape of {pop.size} elements")
    return ok


def _check_conv_synapses(pr: Problems, proj: Projection, path: str) -> None:
    """Every synapse lies inside the convolution and the synapses of one kernel element
    share one weight (what `ConvSpec` records)."""
    k = kernel_index(proj.conv, proj.pre_idx, proj.post_idx)
    outside = int(np.count_nonzero(k < 0))
    if outside:
        i = int(np.argmax(k < 0))
        pr.add(ARRAYS, path, f"{outside} synapses outside the convolution (first: pre "
               f"{int(proj.pre_idx[i])} -> post {int(proj.post_idx[i])})",
               "synapses (pre, post) of the convolution's unrolled form")
        return
    if not k.size:
        return
    size = proj.conv.kernel_size
    if size <= max(4 * k.size, 1 << 20):  # the kernel as an array: first weight per element
        kernel = np.zeros(size, proj.weight.dtype)
        kernel[k[::-1]] = proj.weight[::-1]
        differ = proj.weight != kernel[k]
    else:
        _, first, inverse = np.unique(k, return_index=True, return_inverse=True)
        differ = proj.weight != proj.weight[first][inverse]
    if differ.any():
        i = int(np.argmax(differ))
        pr.add(ARRAYS, path, f"{int(np.count_nonzero(differ))} synapses with another weight "
               f"than their kernel element's (first: synapse {i}, weight {proj.weight[i]})",
               "one weight per kernel element (shared across positions)")


def _check_weights(pr: Problems, w: np.ndarray, path: str, fixed: bool) -> None:
    if w.size == 0:
        return
    if not fixed:
        if not np.isfinite(w).all():
            pr.add(ARRAYS, path, "found non-finite weights", "finite numbers")
        return
    lo, hi = int(w.min()), int(w.max())
    if hi <= 0 and lo < clip_range(INHIBITORY)[0]:
        pr.add(ARRAYS, path, f"found weight {lo} in an all-inhibitory projection",
               "integers in [-255, 0] when all weights are <= 0")
    else:
        pr.within(w, path, WEIGHT_MIN, WEIGHT_MAX, "weights")


def _check_probes(pr: Problems, net: NetworkIR) -> None:
    if not isinstance(net.probes, list):
        return
    for i, probe in enumerate(net.probes):
        path = f"probes[{i}]"
        if not pr.instance(probe, Probe, path):
            continue
        pop = net.populations.get(probe.target) if isinstance(probe.target, str) else None
        if pop is not None:
            allowed = ("spikes",) if pop.model != "lif" else PROBE_VARS
            pr.choice(probe.var, f"{path}.var", allowed)
        elif isinstance(probe.target, str) and probe.target in net.projections:
            pr.choice(probe.var, f"{path}.var", ("weights",))
        else:
            pr.add(MANIFEST, f"{path}.target", f"found {_show(probe.target)}; not a population "
                   "or projection", ", ".join(list(net.populations) + list(net.projections)))


def _check_phases(pr: Problems, net: NetworkIR) -> None:
    """Phases (steps or samples, plastic switches, overrides), their total steps, the readout."""
    if not isinstance(net.phases, list):
        return
    dataset = next((p.source.dataset for p in net.populations.values()
                    if p.model != "lif" and p.source.kind == DATASET_KIND
                    and isinstance(p.source.dataset, Dataset)), None)
    plastic = {k for k, p in net.projections.items()
               if isinstance(p, Projection) and p.plasticity is not None}
    names, total = set(), 0
    for i, ph in enumerate(net.phases):
        path = f"phases[{i}]"
        if not pr.instance(ph, Phase, path) or not pr.text(ph.name, f"{path}.name"):
            continue
        names.add(ph.name)
        total += _check_phase(pr, ph, path, net, dataset, plastic)
    if total > budget.MAX_STEPS:
        pr.add(MANIFEST, "phases", f"the phases run {total} steps", f"at most {budget.MAX_STEPS}")
    _check_readout(pr, net, names)


def _check_phase(pr: Problems, ph: Phase, path: str, net: NetworkIR, dataset: Dataset | None,
                 plastic: set[str]) -> int:
    """One named phase: its length, plastic switches and overrides; its steps (0 if invalid)."""
    steps = 0
    if ph.steps is not None:
        if pr.integer(ph.steps, f"{path}.steps", 1, budget.MAX_STEPS):
            steps = int(ph.steps)
    else:
        steps = _check_sample_phase(pr, ph, path, dataset)
    if pr.instance(ph.plastic, dict, f"{path}.plastic"):
        for k, v in ph.plastic.items():
            if k not in plastic:
                pr.add(MANIFEST, f"{path}.plastic.{k}", "not a plastic projection",
                       ", ".join(sorted(plastic)) or "no plastic projection")
            pr.flag(v, f"{path}.plastic.{k}")
    if pr.instance(ph.overrides, list, f"{path}.overrides"):
        for j, ov in enumerate(ph.overrides):
            _check_override(pr, ov, f"{path}.overrides[{j}]", net)
    return steps


def _check_readout(pr: Problems, net: NetworkIR, names: set[str]) -> None:
    """The readout (if any): a lif population, phase names that exist, a known vote."""
    ro = net.readout
    if ro is None or not pr.instance(ro, Readout, "readout"):
        return
    pop = net.populations.get(ro.population) if isinstance(ro.population, str) else None
    if pop is None or pop.model != "lif":
        pr.add(MANIFEST, "readout.population", f"found {_show(ro.population)}",
               "a lif population")
    for k in ("assign", "evaluate"):
        if getattr(ro, k) not in names:
            pr.add(MANIFEST, f"readout.{k}", f"found {_show(getattr(ro, k))}",
                   ", ".join(sorted(names)) or "a phase name")
    pr.choice(ro.vote, "readout.vote", VOTES)


def _check_sample_phase(pr: Problems, ph: Phase, path: str, dataset: Dataset | None) -> int:
    """A phase with samples; its steps (0 when invalid)."""
    if dataset is None:
        pr.add(MANIFEST, f"{path}.split", "a phase with samples needs a dataset source",
               "a population with a dataset source")
        return 0
    if not isinstance(dataset.splits, dict) or not isinstance(ph.split, str) \
            or ph.split not in dataset.splits:
        pr.add(MANIFEST, f"{path}.split", f"found {_show(ph.split)}",
               " | ".join(dataset.splits) if isinstance(dataset.splits, dict) else "a split")
        return 0
    n = len(dataset.splits[ph.split])
    ok = pr.integer(ph.epochs, f"{path}.epochs", 1, budget.MAX_STEPS)
    if ph.count is not None:
        ok = pr.integer(ph.count, f"{path}.count", 1, n) and ok
    for k, lo in (("present", 1), ("rest", 0)):
        if getattr(ph, k) is not None:
            ok = pr.integer(getattr(ph, k), f"{path}.{k}", lo, budget.MAX_STEPS) and ok
    pr.flag(ph.shuffle, f"{path}.shuffle")
    if not ok or not _intlike(dataset.present) or not _intlike(dataset.rest):
        return 0
    count = n if ph.count is None else int(ph.count)
    period = int(dataset.present if ph.present is None else ph.present) + \
        int(dataset.rest if ph.rest is None else ph.rest)
    steps = int(ph.epochs) * count * period
    if steps > budget.MAX_STEPS:
        pr.add(MANIFEST, f"{path}.epochs", f"{ph.epochs} epochs x {count} samples x {period} "
               f"steps = {steps} steps", f"at most {budget.MAX_STEPS} steps per phase")
    return steps


def _check_override(pr: Problems, ov: Any, path: str, net: NetworkIR) -> None:
    if not pr.instance(ov, Override, path):
        return
    pr.text(ov.path, f"{path}.path")
    pr.text(ov.param, f"{path}.param")
    if pr.choice(ov.kind, f"{path}.kind", OVERRIDE_KINDS):
        where = net.projections if ov.kind in ("weight_scale", "plastic") else net.populations
        if not isinstance(ov.target, str) or ov.target not in where:
            pr.add(MANIFEST, f"{path}.target", f"found {_show(ov.target)}",
                   ", ".join(where) or "a name of the network")
    if not (isinstance(ov.value, bool) or _num(ov.value)):
        pr.add(MANIFEST, f"{path}.value", f"found {_show(ov.value)}", "a finite number")


def _check_cores(pr: Problems, program: Program, net: NetworkIR) -> None:
    """Cores and core_of: valid core records, and every lif neuron on exactly one core,
    the one core_of names."""
    cores, core_of = program.cores, program.core_of
    if not pr.instance(cores, list, "cores") or not pr.instance(core_of, dict, "core_of"):
        return
    _check_core_of(pr, core_of, net, len(cores))
    if pr.items:
        return
    seen = {pop: np.zeros(net.populations[pop].size, dtype=np.int64) for pop in core_of}
    in_range = True
    for i, core in enumerate(cores):
        path = f"cores[{i}]"
        if not pr.instance(core, Core, path):
            continue
        _check_core_fields(pr, core, i, program.target)
        if pr.instance(core.neurons, dict, f"{path}.neurons"):
            in_range = _check_core_neurons(pr, core, i, net, core_of, seen) and in_range
    if in_range:
        _check_coverage(pr, cores, seen)


def _check_core_of(pr: Problems, core_of: dict[str, Any], net: NetworkIR, n_cores: int) -> None:
    """core_of has one core id per neuron of each lif population, and nothing else."""
    lif = {k for k, p in net.populations.items() if p.model == "lif"}
    for pop in sorted(lif - set(core_of)):
        pr.add(MANIFEST, f"core_of.{pop}", f"lif population '{pop}' has no core ids",
               "one core id per neuron of every lif population")
    for pop, ids in core_of.items():
        field = f"core_of.{pop}"
        if pop not in lif:
            pr.add(MANIFEST, field, f"'{pop}' is not a lif population", ", ".join(sorted(lif)))
        elif pr.array(ids, field, 1, "iu", (net.populations[pop].size,)):
            pr.within(ids, field, 0, n_cores - 1, "core ids")


def _check_core_fields(pr: Problems, core: Core, i: int, t: Target) -> None:
    """Core `i`'s id (its index), chip and core number on the target, counts >= 0."""
    path = f"cores[{i}]"
    pr.integer(core.id, f"{path}.id", i, i, member=ARRAYS)
    pr.integer(core.chip, f"{path}.chip", 0, t.chips - 1, member=ARRAYS)
    pr.integer(core.core, f"{path}.core", 0, t.cores_per_chip - 1, member=ARRAYS)
    for k in ("x", "y", "synapse_bits", "in_axons", "out_axons"):
        pr.integer(getattr(core, k), f"{path}.{k}", 0, None, member=ARRAYS)


def _check_core_neurons(pr: Problems, core: Core, i: int, net: NetworkIR,
                        core_of: dict[str, Any], seen: dict[str, np.ndarray]) -> bool:
    """Core `i`'s neuron lists agree with core_of; counts each listed neuron into `seen`.
    False when some index list is not valid neuron indices."""
    in_range = True
    for pop, idx in core.neurons.items():
        field = f"cores[{i}].neurons.{pop}"
        if pop not in seen:
            pr.add(MANIFEST, field, f"'{pop}' has no core_of entry", ", ".join(sorted(seen)))
            continue
        size = net.populations[pop].size
        if not pr.array(idx, field, 1, "iu") or not pr.within(idx, field, 0, size - 1,
                                                              "neuron indices"):
            in_range = False
            continue
        seen[pop] += np.bincount(idx, minlength=size)
        wrong = core_of[pop][idx] != i
        if wrong.any():
            j = int(idx[np.flatnonzero(wrong)[0]])
            pr.add(ARRAYS, field, f"neuron {j} of '{pop}' is listed on core {i} but "
                   f"core_of.{pop} puts it on core {int(core_of[pop][j])}",
                   "cores and core_of agree")
    return in_range


def _check_coverage(pr: Problems, cores: list[Any], seen: dict[str, np.ndarray]) -> None:
    """Each neuron counted in `seen` exactly once: none on several cores, none on no core."""
    for pop, count in seen.items():
        many, none = np.flatnonzero(count > 1), np.flatnonzero(count == 0)
        if many.size:
            j = int(many[0])
            where = [i for i, c in enumerate(cores) if isinstance(c, Core)
                     and isinstance(c.neurons, dict) and pop in c.neurons
                     and np.any(np.asarray(c.neurons[pop]) == j)]
            pr.add(ARRAYS, f"cores.neurons.{pop}", f"neuron {j} of '{pop}' is on {count[j]} "
                   f"cores {where} ({many.size} neurons on several cores)",
                   "each neuron on exactly one core")
        if none.size:
            pr.add(ARRAYS, f"cores.neurons.{pop}", f"neuron {int(none[0])} of '{pop}' is on no "
                   f"core ({none.size} neurons on none)", "each neuron on exactly one core")
