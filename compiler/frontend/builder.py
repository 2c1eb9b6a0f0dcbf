"""Python builder for networks: the same spec as the YAML file, built by method calls.

    net = (Network("demo", seed=1)
           .population("inp", 16, spikes={"kind": "poisson", "rate": 0.1})
           .population("hid", 32, params={"vth": 100})
           .projection("inp_hid", "inp", "hid", weight={"dist": "uniform", "low": 0, "high": 50})
           .probe("hid.spikes", "hid.v"))
    ir = net.build()            # validated exactly like a YAML file (network_from_dict)
    text = net.to_yaml("net.yaml")

Every adding method returns the builder itself, for chaining. numpy arrays may be given
directly: `spikes=` a bool (steps, size) array, `weight=` a (post, pre) array, and
`connectivity=(pre, post, weight[, delay])` edge arrays. They stay in memory; `to_yaml`
with a path writes them to .npy/.npz files beside the YAML file and references them
(without a path they are written inline as nested lists).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import Diagnostic, InputError
from ..fileio import check_writable, write_atomic
from ..ir import NetworkIR
from ..yamlio import load_yaml
from .network import FORMAT_VERSION, network_from_dict


class Network:
    """A network under construction; `build()` validates it and returns the IR."""

    def __init__(self, name: str, *, target: str = "loihi2", precision: str = "fixed",
                 seed: int = 0, steps: int = 100, base_dir: str | Path | None = None) -> None:
        self.name = name
        self.target = target
        self.precision = precision
        self.seed = seed
        self.steps = steps
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self.populations: dict[str, dict[str, Any]] = {}
        self.projections: dict[str, dict[str, Any]] = {}
        self.probes: list[str] = []
        self.phases: list[dict[str, Any]] = []
        self.readout_spec: dict[str, Any] | None = None

    # -- adding elements -------------------------------------------------------------

    def population(self, name: str, size: int, model: str | None = None,
                   params: Mapping[str, Any] | None = None,
                   spikes: Mapping[str, Any] | np.ndarray | None = None,
                   positions: Mapping[str, Any] | np.ndarray | None = None) -> Network:
        """Add a population; `model` defaults to spike_source when `spikes` is given, else lif.

        `positions`: a (size, d) array or `{"grid": [n1, n2]}` (see frontend/positions.py).
        """
        self._new_name(name, "populations")
        spec: dict[str, Any] = {"size": size,
                                "model": model or ("spike_source" if spikes is not None else "lif")}
        if params is not None:
            spec["params"] = _tree_copy(params)
        if spikes is not None:
            spec["spikes"] = {"kind": "array", "data": spikes} if isinstance(spikes, np.ndarray) \
                else (dict(spikes) if isinstance(spikes, Mapping) else spikes)
        if positions is not None:
            spec["positions"] = {"data": positions} if isinstance(positions, np.ndarray) \
                else (_tree_copy(positions) if isinstance(positions, Mapping) else positions)
        self.populations[name] = spec
        return self

    def projection(self, name: str, pre: str, post: str, connectivity: Any = "all_to_all",
                   weight: Any = None, delay: Any = 0, weight_exp: int = 0,
                   num_weight_bits: int = 8, plasticity: Mapping[str, Any] | None = None
                   ) -> Network:
        """Add a projection; `connectivity` may be (pre, post, weight[, delay]) edge arrays."""
        self._new_name(name, "projections")
        if isinstance(connectivity, tuple) and len(connectivity) in (3, 4):
            keys = ("pre", "post", "weight", "delay")[: len(connectivity)]
            connectivity = {"kind": "list", "data": dict(zip(keys, connectivity, strict=True))}
        spec: dict[str, Any] = {"pre": pre, "post": post, "connectivity": connectivity}
        if weight is not None:
            spec["weight"] = {"data": weight} if isinstance(weight, np.ndarray) else weight
        if not (isinstance(delay, (int, np.integer)) and delay == 0):
            spec["delay"] = delay
        if weight_exp != 0:
            spec["weight_exp"] = weight_exp
        if num_weight_bits != 8:
            spec["num_weight_bits"] = num_weight_bits
        if plasticity is not None:
            spec["plasticity"] = dict(plasticity)
        self.projections[name] = spec
        return self

    def probe(self, *names: str) -> Network:
        """Record `<population>.spikes|v|u` or `<projection>.weights`."""
        self.probes.extend(names)
        return self

    def phase(self, name: str, *, samples: Mapping[str, Any] | None = None,
              steps: int | None = None, plastic: Any = None,
              set: Mapping[str, Any] | None = None) -> Network:  # noqa: A002 - YAML key
        """Append a phase (see compiler/frontend/phases.py): samples or steps, plastic, set."""
        spec: dict[str, Any] = {"name": name}
        for key, value in (("samples", samples), ("steps", steps), ("plastic", plastic),
                           ("set", set)):
            if value is not None:
                spec[key] = _tree_copy(value)
        self.phases.append(spec)
        return self

    def readout(self, population: str, assign: str, evaluate: str, vote: str = "max") -> Network:
        """Label `population`'s neurons by their responses in phase `assign`; vote in `evaluate`
        (`vote`: max | soft, see runtime/readout.py)."""
        self.readout_spec = {"population": population, "assign": assign, "evaluate": evaluate}
        if vote != "max":
            self.readout_spec["vote"] = vote
        return self

    def _new_name(self, name: str, section: str) -> None:
        if name in self.populations or name in self.projections:
            raise InputError(Diagnostic(f"name '{name}' is already used",
                                        field=f"{section}.{name}",
                                        allowed="a name no population or projection uses"))

    # -- output ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (numpy arrays kept as arrays), as `network_from_dict` takes it."""
        spec: dict[str, Any] = {
            "snnc": FORMAT_VERSION, "name": self.name, "target": self.target,
            "precision": self.precision, "seed": self.seed, "steps": self.steps,
            "populations": _tree_copy(self.populations),
            "projections": _tree_copy(self.projections),
            "probes": list(self.probes),
        }
        if self.phases:
            spec["phases"] = _tree_copy(self.phases)
        if self.readout_spec is not None:
            spec["readout"] = dict(self.readout_spec)
        return spec

    def build(self) -> NetworkIR:
        """Validate and build the IR (same checks as a YAML file)."""
        return network_from_dict(self.to_dict(), base_dir=self.base_dir)

    def to_yaml(self, path: str | Path | None = None) -> str:
        """YAML text of the spec; with `path`, also write it and its array files beside it.

        Each file is written atomically (`compiler.fileio`), the YAML last; a destination
        that is not a new or regular file is refused before anything is written.
        """
        spec = self.to_dict()
        if path is not None:
            check_writable(path)
        out_dir = Path(path).parent if path is not None else None
        stem = Path(path).stem if path is not None else ""
        for name, pop in spec["populations"].items():
            spikes = pop.get("spikes")
            if isinstance(spikes, dict):
                self._externalize(spikes, out_dir, f"{stem}.{name}.spikes.npy")
            if isinstance(pop.get("positions"), dict):
                self._externalize(pop["positions"], out_dir, f"{stem}.{name}.positions.npy")
        for name, proj in spec["projections"].items():
            if isinstance(proj.get("weight"), dict):
                self._externalize(proj["weight"], out_dir, f"{stem}.{name}.weight.npy")
            if isinstance(proj.get("connectivity"), dict):
                self._externalize(proj["connectivity"], out_dir, f"{stem}.{name}.edges.npz")
        text = yaml.safe_dump(_plain(spec), sort_keys=False, default_flow_style=None, width=100)
        if path is not None:
            write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return text

    def _externalize(self, block: dict[str, Any], out_dir: Path | None, fname: str) -> None:
        """Write `block['data']` to a file beside the YAML (or keep it inline); fix `file` paths."""
        if "file" in block and out_dir is not None:
            src = Path(block["file"]).expanduser()
            src = src if src.is_absolute() else (self.base_dir / src)
            block["file"] = os.path.relpath(src.resolve(), out_dir.resolve())
        if "data" not in block or out_dir is None:
            return
        data = block.pop("data")
        if isinstance(data, Mapping):
            arrays = {k: np.asarray(v) for k, v in data.items()}
            write_atomic(out_dir / fname, lambda tmp: _write_array(tmp, np.savez, **arrays))
        else:
            array = np.asarray(data)
            write_atomic(out_dir / fname, lambda tmp: _write_array(tmp, np.save, array))
        block["file"] = fname

    @classmethod
    def from_yaml(cls, path: str | Path) -> Network:
        """Load a network file into a builder (validated first; file paths made absolute)."""
        data, locs = load_yaml(path)
        network_from_dict(data, source_file=str(path), locations=locs, base_dir=Path(path).parent)
        base = Path(path).parent.resolve()
        target = data.get("target") or "loihi2"
        if target.endswith((".yaml", ".yml")) and (base / target).is_file():
            target = str(base / target)  # keep a relative target file usable from elsewhere
        net = cls(data["name"], target=target,
                  precision=data.get("precision", "fixed"), seed=data.get("seed", 0),
                  steps=data.get("steps", 100), base_dir=base)
        for name, pop in data["populations"].items():
            for key in ("spikes", "positions"):
                if isinstance(pop.get(key), dict) and "file" in pop[key]:
                    pop[key]["file"] = str(base / pop[key]["file"])
            net.populations[name] = pop
        for name, proj in (data.get("projections") or {}).items():
            for key in ("weight", "connectivity"):
                if isinstance(proj.get(key), dict) and "file" in proj[key]:
                    proj[key]["file"] = str(base / proj[key]["file"])
            net.projections[name] = proj
        net.probes = list(data.get("probes") or [])
        net.phases = list(data.get("phases") or [])
        net.readout_spec = data.get("readout")
        return net


def _tree_copy(value: Any) -> Any:
    """Copy nested dicts/lists; leaves (numbers, strings, numpy arrays) are shared, not copied."""
    if isinstance(value, Mapping):
        return {k: _tree_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tree_copy(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays to plain Python for YAML."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_array(tmp: Path, save: Any, *args: Any, **kwargs: Any) -> None:
    """`np.save`/`np.savez` into `tmp` through a file object (a path would get a suffix)."""
    with open(tmp, "wb") as fh:
        save(fh, *args, **kwargs)
