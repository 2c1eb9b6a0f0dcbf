"""Target descriptions (docs/targets.md): built-in `loihi1`, `loihi2` and user YAML files.

A user file may name `base: loihi1 | loihi2 | other.yaml` (default `loihi1`) and override
any field; every figure keeps its source in `Target.sources` (the built-in file's citation,
or `file:line` of the user's override). `load_target(..., overrides={...})` applies a last
layer of overrides (nested dicts or dotted keys, e.g. `{"core.neurons": 256}`).
"""

from __future__ import annotations

import copy
import math
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import Collector, Diagnostic, InputError, Location, brief, clip, suggest
from ..target import CoreLimits, Target
from ..yamlio import load_yaml


def load_yaml_with_lines(path: Path) -> tuple[Any, dict[str, int]]:
    """Parsed YAML and {dotted field: line}, via snnc's bounded, line-aware loader."""
    data, locs = load_yaml(path)
    return data, {k: v.line for k, v in locs.items() if k and v.line is not None}

BUILTINS = ("loihi1", "loihi2")
DEFAULT_BASE = "loihi1"

# energy_pj / time_ns keys the profiler uses; `barrier` (per step) only has a time
COST_KEYS = ("synop", "neuron_update", "spike_out", "message", "spike_hop", "chip_hop",
             "learning_update")
TIME_KEYS = COST_KEYS + ("barrier",)
CORE_KEYS = ("neurons", "in_axons", "out_axons", "synapse_bits", "weight_bits", "max_delay")
TOP_KEYS = ("name", "base", "chips", "cores_per_chip", "mesh", "core", "energy_pj", "time_ns",
            "source", "sources")
# (low, high) for integer core limits
CORE_RANGES = {"neurons": (1, None), "in_axons": (1, None), "out_axons": (1, None),
               "synapse_bits": (1, None), "weight_bits": (1, 8), "max_delay": (0, 63)}
FIGURE_KEYS = (
    ("chips", "cores_per_chip", "mesh")
    + tuple(f"core.{k}" for k in CORE_KEYS)
    + tuple(f"energy_pj.{k}" for k in COST_KEYS)
    + tuple(f"time_ns.{k}" for k in TIME_KEYS)
)


def builtin_path(name: str) -> Path:
    """Path of the YAML file of a built-in target."""
    return Path(str(resources.files(__name__).joinpath(f"{name}.yaml")))


def _is_int(v: Any) -> bool:
    """An int, or an integral float such as `6.4e4` (never a bool)."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v) and v.is_integer())


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_int(col: Collector, loc: Location, v: Any, low: int | None, high: int | None) -> None:
    allowed = f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}"
    if not _is_int(v):
        col.add(loc, f"found {brief(v)} ({type(v).__name__})", allowed)
    elif (low is not None and v < low) or (high is not None and v > high):
        col.add(loc, f"found {brief(v)}", allowed)


def _validate(raw: Any, where: Any) -> Collector:
    """All problems of one layer (file or overrides); `where(path)` gives a Location."""
    col = Collector()
    if not isinstance(raw, dict):
        col.add(where(""), f"a target must be a mapping, found {type(raw).__name__}",
                "keys " + ", ".join(TOP_KEYS))
        return col
    for key, value in raw.items():
        _validate_key(col, key, value, where)
    return col


def _validate_key(col: Collector, key: Any, value: Any, where: Any) -> None:
    """One top-level key of a target layer and its value."""
    loc = where(str(key))
    if key not in TOP_KEYS:
        col.add(loc, f"unknown key {brief(key)}{suggest(str(key), TOP_KEYS)}",
                ", ".join(TOP_KEYS))
    elif key in ("name", "base", "source"):
        if not isinstance(value, str) or not value:
            col.add(loc, f"found {brief(value)}", "a non-empty string")
    elif key in ("chips", "cores_per_chip"):
        _check_int(col, loc, value, 1, None)
    elif key == "mesh":
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(_is_int(v) and v >= 1 for v in value)):
            col.add(loc, f"found {brief(value)}", "[x, y], two integers >= 1")
    elif key == "core":
        _validate_section(col, value, key, CORE_KEYS, where, core=True)
    elif key in ("energy_pj", "time_ns"):
        _validate_section(col, value, key, COST_KEYS if key == "energy_pj" else TIME_KEYS,
                          where, core=False)
    else:  # sources
        _validate_sources(col, value, loc, where)


def _validate_sources(col: Collector, value: Any, loc: Location, where: Any) -> None:
    """`sources`: a mapping of known figure keys to citation text."""
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        col.add(loc, f"found {brief(value)}",
                "a mapping of figure key (e.g. energy_pj.synop) to text")
        return
    for k in value:
        if k not in FIGURE_KEYS:
            col.add(where(f"sources.{k}"), f"unknown figure {brief(k)}{suggest(k, FIGURE_KEYS)}",
                    ", ".join(FIGURE_KEYS))


def _validate_section(col: Collector, value: Any, name: str, keys: tuple[str, ...], where: Any,
                      core: bool) -> None:
    if not isinstance(value, dict):
        col.add(where(name), f"found {brief(value)}", f"a mapping with keys {', '.join(keys)}")
        return
    for k, v in value.items():
        loc = where(f"{name}.{k}")
        if k not in keys:
            col.add(loc, f"unknown key {brief(k)}{suggest(str(k), keys)}", ", ".join(keys))
        elif core:
            _check_int(col, loc, v, *CORE_RANGES[k])
        elif not _is_num(v) or v < 0:
            col.add(loc, f"found {brief(v)}", "a number >= 0")


def _apply(target: Target, raw: dict[str, Any], provenance: Any) -> None:
    """Write one validated layer onto `target`; `provenance(path)` says where a figure came from."""
    explicit = raw.get("sources", {})
    if "source" in raw:
        target.source = raw["source"]

    def note(key: str) -> None:
        target.sources[key] = explicit.get(key) or provenance(key)

    for key in ("chips", "cores_per_chip"):
        if key in raw:
            setattr(target, key, int(raw[key]))
            note(key)
    if "mesh" in raw:
        target.mesh = (int(raw["mesh"][0]), int(raw["mesh"][1]))
        note("mesh")
    for k, v in raw.get("core", {}).items():
        setattr(target.core, k, int(v))
        note(f"core.{k}")
    for section in ("energy_pj", "time_ns"):
        for k, v in raw.get(section, {}).items():
            getattr(target, section)[k] = float(v)
            note(f"{section}.{k}")
    if "name" in raw:
        target.name = raw["name"]


def _consistency(target: Target, where: Location) -> None:
    if target.mesh[0] * target.mesh[1] < target.cores_per_chip:
        raise InputError(Diagnostic.at(
            where, f"mesh {list(target.mesh)} has {target.mesh[0] * target.mesh[1]} places for "
            f"cores_per_chip: {target.cores_per_chip}",
            "a mesh [x, y] with x * y >= cores_per_chip", field="mesh"))


def _from_file(path: Path, stack: tuple[str, ...]) -> Target:
    file = str(path)
    if file in stack:
        raise InputError(Diagnostic(f"'base' chain loops back to {file}", stack[-1], None, "base"))
    raw, lines = load_yaml_with_lines(path)

    def where(p: str) -> Location:
        return Location(file, lines.get(p, lines.get(p.split(".")[0])), p)

    _validate(raw, where).raise_if_any()
    is_builtin = path.parent == builtin_path("loihi1").parent and path.stem in BUILTINS
    base_name = raw.get("base", None if is_builtin else DEFAULT_BASE)
    if base_name is None:
        target = Target(name=path.stem, core=CoreLimits(), energy_pj={}, time_ns={})
    else:
        target = _resolve(base_name, path.parent, stack + (file,), where("base"))
        target = copy.deepcopy(target)
        target.name = path.stem
    _apply(target, raw, lambda key: f"{file}:{lines.get(key, '?')}")
    target.file = file
    _consistency(target, where("mesh"))
    return target


def _resolve(name_or_path: str | Path, base_dir: Path | None, stack: tuple[str, ...],
             loc: Location | None = None) -> Target:
    """A built-in name, or a YAML path (relative paths: against base_dir, then the cwd)."""
    text = str(name_or_path)
    if text in BUILTINS:
        return _from_file(builtin_path(text), stack)
    candidates = [Path(text)]
    if base_dir is not None and not Path(text).is_absolute():
        candidates.insert(0, Path(base_dir) / text)
    for cand in candidates:
        if cand.is_file():
            return _from_file(cand, stack)
    hint = suggest(text, BUILTINS)
    tried = ", ".join(str(c) for c in candidates)
    raise InputError(Diagnostic.at(
        loc, f"target {brief(text)} is neither a built-in target nor a file (looked for "
        f"{clip(tried, 300)}){hint}",
        f"{', '.join(BUILTINS)} or a path to a target .yaml file"))


def _nest(overrides: dict[str, Any]) -> dict[str, Any]:
    """Turn dotted keys (`core.neurons`) into nested dicts; nested dicts are kept."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise InputError(f"overrides: {brief(key)}: {brief(p)} is not a section")
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    return out


def load_target(name_or_path: str | Path | Target, overrides: dict[str, Any] | None = None, *,
                base_dir: str | Path | None = None, loc: Location | None = None) -> Target:
    """The Target called `loihi1`/`loihi2`, or loaded from a YAML file, with `overrides` applied.

    Relative paths are tried against `base_dir` (e.g. the network file's folder) first,
    then the current directory; `loc` is where the name was written (for error messages).
    """
    if isinstance(name_or_path, Target):
        target = copy.deepcopy(name_or_path)
    else:
        target = _resolve(name_or_path, Path(base_dir) if base_dir else None, (), loc)
    if overrides:
        raw = _nest(overrides)
        _validate(raw, lambda p: Location("overrides", None, p)).raise_if_any()
        _apply(target, raw, lambda key: "override")
        _consistency(target, Location("overrides", None, "mesh"))
    return target


__all__ = ["BUILTINS", "COST_KEYS", "TIME_KEYS", "load_target", "builtin_path"]
