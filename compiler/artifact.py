"""The compiled artifact (`.snnc`): one versioned zip file holding a whole Program.

Layout: `manifest.json` (format "snnc-program", version 2: network metadata, populations,
projections, probes, target, partition/placement, report) and `arrays.npz` (every numpy
array, uncompressed, referenced from the manifest as {"__array__": key}). Version 2 stores
large integer arrays in the narrowest integer type holding their values (8-bit weights
as uint8, delays as int8: 100M synapses take ~1.0 GB instead of 1.4 GB) and lists their
real dtypes in `manifest["narrowed"]`; loading restores them, so a round trip is exact.
Version 1 files (no narrowing) still load. Written atomically: a temp file in the
destination folder, then os.replace; nothing is left behind on failure.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import archives, artifact_checks, budget
from .errors import Diagnostic, InputError, Location
from .fileio import check_writable, write_atomic
from .ir import NetworkIR, unchecked
from .program import CompileReport, Core, Program
from .target import CoreLimits, Target

FORMAT = "snnc-program"
VERSION = 2
READS = (1, 2)  # format versions this code loads
NARROW_MIN_SIZE = 1 << 12  # integer arrays at least this long are stored narrowed
_NARROW = [np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32")]
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
MAX_MANIFEST = 64 << 20  # bytes of manifest.json read at most
REQUIRED = ("network", "populations", "projections", "probes", "target", "partitioner",
            "core_of", "cores", "report")  # manifest sections every version has


class _Arrays:
    """Collects arrays under generated keys while the manifest is being built."""

    def __init__(self) -> None:
        self.items: dict[str, np.ndarray] = {}

    def put(self, prefix: str, value: np.ndarray) -> dict[str, str]:
        key = f"{prefix}.{len(self.items)}"
        self.items[key] = np.asarray(value)
        return {"__array__": key}


def jsonable(obj: Any, arrays: _Arrays | None = None, prefix: str = "x") -> Any:
    """A JSON-safe copy of `obj`: numpy scalars -> Python, tuples -> lists, non-finite floats
    -> strings; arrays go to `arrays` (or become lists when none is given)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v, arrays, prefix) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, arrays, prefix) for v in obj]
    if isinstance(obj, np.ndarray):
        return arrays.put(prefix, obj) if arrays is not None else jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item(), arrays, prefix)
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj), arrays, prefix)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)


def _restore(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of `jsonable` with an array store."""
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _restore(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v, arrays) for v in obj]
    return obj


def narrow(arrays: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Large integer arrays cast to the narrowest integer dtype holding their values
    (lossless), and key -> original dtype of each array that changed."""
    out, narrowed = {}, {}
    for key, a in arrays.items():
        if a.dtype.kind in "iu" and a.size >= NARROW_MIN_SIZE and a.dtype.itemsize > 1:
            lo, hi = int(a.min()), int(a.max())
            for dt in _NARROW:
                if dt.itemsize >= a.dtype.itemsize:
                    break
                info = np.iinfo(dt)
                if info.min <= lo and hi <= info.max:
                    narrowed[key] = a.dtype.str
                    a = a.astype(dt)
                    break
        out[key] = a
    return out, narrowed


def widen(arrays: dict[str, np.ndarray], narrowed: dict[str, str]) -> dict[str, np.ndarray]:
    """Inverse of `narrow` (TypeError/KeyError for a malformed map)."""
    for key, dt in narrowed.items():
        arrays[key] = arrays[key].astype(np.dtype(dt))
    return arrays


# ---------------------------------------------------------------- generic packing

def _registry() -> dict[str, type]:
    """Dataclasses the artifact may rebuild, by name: every IR dataclass plus targets/cores."""
    from . import ir

    classes = {name: obj for name, obj in vars(ir).items()
               if isinstance(obj, type) and dataclasses.is_dataclass(obj)}
    classes.update(Target=Target, CoreLimits=CoreLimits, Core=Core, Location=Location,
                   CompileReport=CompileReport)
    return classes


def _pack(obj: Any, arrays: _Arrays, prefix: str, known: dict[str, type]) -> Any:
    """JSON-safe form keeping types: dataclasses by name, arrays by key, tuples, odd floats."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        name = type(obj).__name__
        fields = {f.name: _pack(getattr(obj, f.name), arrays, f"{prefix}.{f.name}", known)
                  for f in dataclasses.fields(obj)}
        return {"__dc__": name, "fields": fields} if known.get(name) is type(obj) else fields
    if isinstance(obj, dict):
        return {str(k): _pack(v, arrays, prefix, known) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {"__tuple__": [_pack(v, arrays, prefix, known) for v in obj]}
    if isinstance(obj, list):
        return [_pack(v, arrays, prefix, known) for v in obj]
    if isinstance(obj, np.ndarray):
        return arrays.put(prefix, obj)
    return jsonable(obj)


def _unpack(obj: Any, arrays: dict[str, np.ndarray], known: dict[str, type]) -> Any:
    """Inverse of `_pack` (KeyError/TypeError on a malformed manifest)."""
    if isinstance(obj, list):
        return [_unpack(v, arrays, known) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if set(obj) == {"__dc__", "fields"}:
        cls = known[obj["__dc__"]]
        return cls(**{k: _unpack(v, arrays, known) for k, v in obj["fields"].items()})
    if set(obj) == {"__tuple__"}:
        return tuple(_unpack(v, arrays, known) for v in obj["__tuple__"])
    if set(obj) == {"__array__"}:
        return arrays[obj["__array__"]]
    if set(obj) == {"__float__"}:
        return float(obj["__float__"])
    return {k: _unpack(v, arrays, known) for k, v in obj.items()}


# ---------------------------------------------------------------- encode

NET_SECTIONS = ("populations", "projections", "probes")
PROGRAM_SECTIONS = ("network", "target", "core_of", "cores", "partitioner", "report")


def _cores(cores: list[Core], arrays: _Arrays) -> dict[str, Any]:
    """Per-core fields as columns and neuron lists concatenated per population (compact)."""
    pops = sorted({p for c in cores for p in c.neurons})
    neurons = {}
    for pop in pops:
        parts = [np.asarray(c.neurons.get(pop, np.zeros(0, np.int32))) for c in cores]
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        data = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        neurons[pop] = {"indices": arrays.put("core_neurons", data),
                        "offsets": arrays.put("core_offsets", offsets)}
    table = {k: arrays.put(f"core_{k}", np.array([getattr(c, k) for c in cores], dtype=np.int64))
             for k in ("id", "chip", "core", "x", "y", "synapse_bits", "in_axons", "out_axons")}
    order = [list(c.neurons) for c in cores]  # keeps each core's population order
    return {"count": len(cores), "fields": table, "neurons": neurons, "order": order}


def _report_dict(report: Any) -> Any:
    """The report as the manifest stores it: a flat mapping (as in every version-2 artifact)."""
    return report.to_dict() if isinstance(report, CompileReport) else report


def encode(program: Program) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest and the array store of a Program."""
    net = program.network
    arrays = _Arrays()
    known = _registry()

    def pack(obj: Any, prefix: str) -> Any:
        return _pack(obj, arrays, prefix, known)

    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "network": {f.name: pack(getattr(net, f.name), f.name)
                    for f in dataclasses.fields(net) if f.name not in NET_SECTIONS},
        "populations": [pack(p, "pop") for p in net.populations.values()],
        "projections": [pack(p, "proj") for p in net.projections.values()],
        "probes": [pack(p, "probe") for p in net.probes],
        "target": pack(program.target, "target"),
        "partitioner": program.partitioner,
        "core_of": {pop: arrays.put("core_of", c) for pop, c in program.core_of.items()},
        "cores": _cores(program.cores, arrays),
        "report": pack(_report_dict(program.report), "report"),
        "program": {f.name: pack(getattr(program, f.name), f.name)
                    for f in dataclasses.fields(program) if f.name not in PROGRAM_SECTIONS},
    }
    return manifest, arrays.items


# ---------------------------------------------------------------- decode

def _decode_cores(d: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[Core]:
    fields = {k: _restore(v, arrays) for k, v in d["fields"].items()}
    n = int(d["count"])
    cores = [Core(**{k: int(fields[k][i]) for k in fields}) for i in range(n)]
    stored = {pop: (_restore(ref["indices"], arrays), _restore(ref["offsets"], arrays))
              for pop, ref in d["neurons"].items()}
    for i, pops in enumerate(d["order"]):
        for pop in pops:
            data, offsets = stored[pop]
            cores[i].neurons[pop] = data[offsets[i]:offsets[i + 1]]
    return cores


def decode(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Program:
    """The Program described by a manifest and its arrays (KeyError/TypeError if malformed)."""
    known = _registry()

    def unpack(obj: Any) -> Any:
        return _unpack(obj, arrays, known)

    pops = [unpack(p) for p in manifest["populations"]]
    projs = [unpack(p) for p in manifest["projections"]]
    net = NetworkIR(**{k: unpack(v) for k, v in manifest["network"].items()},
                    populations={p.name: p for p in pops},
                    projections={p.name: p for p in projs},
                    probes=[unpack(p) for p in manifest["probes"]])
    return Program(
        network=net, target=unpack(manifest["target"]),
        core_of={pop: _restore(ref, arrays) for pop, ref in manifest["core_of"].items()},
        cores=_decode_cores(manifest["cores"], arrays), partitioner=manifest["partitioner"],
        report=unpack(manifest["report"]),
        **{k: unpack(v) for k, v in manifest.get("program", {}).items()},
    )


# ---------------------------------------------------------------- files

def save_program(program: Program, path: str | os.PathLike) -> Path:
    """Write `program` to `path` atomically (complete or not at all); returns the path.

    The folder must exist; the destination must be a new or regular file (`compiler.fileio`).
    """
    path = Path(path)
    check_writable(path, make_parents=False)
    manifest, arrays = encode(program)
    arrays, manifest["narrowed"] = narrow(arrays)
    text = json.dumps(manifest, allow_nan=False)

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                zf.writestr(MANIFEST, text, compress_type=zipfile.ZIP_DEFLATED)
                with zf.open(ARRAYS, "w", force_zip64=True) as out:
                    np.savez(out, **arrays)

    return write_atomic(path, _write, make_parents=False)


def _bad(path: Path, what: str) -> InputError:
    return InputError(Diagnostic(f"not a valid snnc program: {what}", str(path),
                                 allowed=f"a file written by `snnc compile` ({FORMAT} version {VERSION})"))


def load_program(path: str | os.PathLike) -> Program:
    """Read a `.snnc` artifact; InputError naming the file if it is missing, not a zip,
    truncated, corrupted, of another format version, too large for the memory budget, or
    inconsistent (compiler/artifact_checks.py: every field is checked as strictly as a
    network file). Sizes are checked from the zip directories and .npy headers before any
    array is inflated, and only the arrays the manifest refers to are read."""
    path = Path(path)
    if not path.is_file():
        raise InputError(Diagnostic("file not found", str(path)))
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if MANIFEST not in names:
                raise _bad(path, f"no {MANIFEST} in the archive")
            manifest = _read_manifest(zf, path)
            if ARRAYS not in names:
                raise _bad(path, f"no {ARRAYS} in the archive")
            limit, _ = budget.memory_limit()
            with archives.nested_zip(path, zf, ARRAYS, limit) as inner:
                arrays = _read_arrays(inner, manifest, path)
    except InputError:
        raise
    except archives.ArchiveError as exc:
        text = str(exc)
        raise _bad(path, text if text.startswith(ARRAYS) else f"{ARRAYS}: {text}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        raise _bad(path, f"not a zip archive, or truncated or corrupted ({exc})") from None
    try:
        with unchecked():  # check_program below validates every field, naming the member
            program = decode(manifest, widen(arrays, manifest.get("narrowed", {})))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, InputError,
            RecursionError, OverflowError) as exc:
        raise _bad(path, f"manifest is incomplete or inconsistent ({type(exc).__name__}: {exc})") from None
    try:
        artifact_checks.check_program(program, str(path))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError,
            OverflowError) as exc:  # a field of a kind no check expects
        raise _bad(path, f"manifest is incomplete or inconsistent ({type(exc).__name__}: {exc})") from None
    return program


def _read_manifest(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    """The parsed manifest, its size bounded before it is read; format and version checked."""
    info = zf.getinfo(MANIFEST)
    if info.file_size > MAX_MANIFEST:
        raise _bad(path, f"{MANIFEST} declares {info.file_size} bytes; at most {MAX_MANIFEST}")
    with zf.open(info) as fh:
        data = fh.read(MAX_MANIFEST + 1)
    if len(data) > MAX_MANIFEST:
        raise _bad(path, f"{MANIFEST} is larger than {MAX_MANIFEST} bytes")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _bad(path, f"{MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise _bad(path, f"format is {fmt!r}, expected '{FORMAT}'")
    if manifest.get("version") not in READS:
        raise InputError(Diagnostic(
            f"program format version {manifest.get('version')!r} is not supported by "
            f"this snnc (it reads version {VERSION} and older: "
            f"{', '.join(map(str, READS))}); recompile the network",
            str(path), allowed=f"version {', '.join(map(str, READS))}"))
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise _bad(path, f"manifest is incomplete or inconsistent (no {', '.join(missing)})")
    return manifest


def _read_arrays(inner: zipfile.ZipFile, manifest: dict[str, Any],
                 path: Path) -> dict[str, np.ndarray]:
    """The arrays the manifest refers to: their headers checked against the manifest and the
    memory budget first (artifact_checks.check_arrays), then inflated; nothing else is read."""
    members = set(inner.namelist())
    try:
        referenced = {f"{key}.npy" for _, key in artifact_checks.manifest_refs(manifest)
                      if isinstance(key, str)}
    except RecursionError:
        raise _bad(path, f"{MANIFEST} is nested too deeply") from None
    infos = archives.member_infos(inner, sorted(referenced & members))
    for name in sorted(members - referenced):  # listed in the check's error, never inflated
        infos.setdefault(name, archives.ArrayInfo(name, (0,), np.dtype("u1"), 0, 0, 0))
    try:
        needed = artifact_checks.check_arrays(manifest, infos, str(path))
    except (KeyError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        raise _bad(path, f"manifest is incomplete or inconsistent ({type(exc).__name__}: {exc})") from None
    return {infos[name].key: archives.read_member(inner, infos[name]) for name in sorted(needed)}
