"""Projections: connectivity, weights and delays checked and drawn into COO synapse arrays.

Random draws use `rng_for(seed, "projection", name, what, block)` streams (what =
connectivity, weights, delays; one stream per block of post neurons, see draws.py), so
adding or changing one projection never changes another's numbers, and the synapses onto
some post neurons can be drawn without the rest of the projection.
In fixed precision, weights are integers (Lava Dense) and drawn uniform weights are
integers in [low, high] inclusive; in float precision they are float64.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import budget
from ..errors import suggest
from ..ir import Plasticity, Population, Projection, rng_for
from ..plasticity.registry import RULES
from . import draws, init_weights, synapses
from .checks import INVALID, Checker, array_field, as_array, is_number, show

PROJ_KEYS = ("pre", "post", "connectivity", "weight", "delay", "weight_exp", "num_weight_bits",
             "plasticity")
CONNECTIVITY_KINDS = ("all_to_all", "one_to_one", "random", "list", "local")
PLASTICITY_RULES = tuple(RULES)  # the rule table decides which rules a file may name
EDGE_ARRAYS = ("pre", "post", "weight", "delay")

# Fixed precision ranges, as Lava's fixed_pt Dense stores them (docs/network-format.md).
WEIGHT_MIN, WEIGHT_MAX = -256, 255  # 8-bit weights (mixed sign); exc [0, 255], inh [-255, 0]
WEIGHT_RANGES = "integers in [-256, 255] (mixed sign), [0, 255] (all >= 0) or [-255, 0] (all <= 0)"
MAX_DELAY = 63
WEIGHT_EXP_RANGE = (-8, 7)
NUM_WEIGHT_BITS_RANGE = (1, 8)
MAX_SYNAPSES = 2**31 - 1  # synapse arrays are indexed with int32 downstream
SYNAPSE_BYTES = 40  # memory per synapse while drawing (indices, weights, delays, sorting)


def projections(ck: Checker, spec: Any, pops: dict[str, Population],
                 declared: dict[str, str | None], fixed: bool, seed: int
                 ) -> tuple[dict[str, Projection], set[str]]:
    """Valid projections, and every declared projection name (for probe checks)."""
    projs: dict[str, Projection] = {}
    names: set[str] = set()
    if not isinstance(spec, Mapping):
        ck.error("projections", f"found {show(spec)}; expected a mapping of projection names "
                 "to {pre, post, weight, ...}", "a mapping (or leave it out)")
        return projs, names
    for key, body in spec.items():
        path = f"projections.{key}"
        if ck.name(key, path, "projection") is INVALID:
            continue
        if key in declared:
            ck.error(path, f"name '{key}' is already a population (probes share one namespace)",
                     "a name no population uses")
            continue
        names.add(key)
        proj = _projection(ck, key, body, path, pops, declared, fixed, seed)
        if proj is not INVALID:
            projs[key] = proj
    return projs, names


def _population_ref(ck: Checker, value: Any, path: str, declared: dict[str, str | None],
                    role: str) -> str | Any:
    if not isinstance(value, str):
        return ck.error(path, f"found {show(value)}; expected a population name",
                        ", ".join(declared) or "a population name")
    if value not in declared:
        return ck.error(path, f"unknown {role} population '{value}'{suggest(value, declared)}",
                        ", ".join(declared) or "a declared population")
    return value


def _projection(ck: Checker, name: str, spec: Any, path: str, pops: dict[str, Population],
                declared: dict[str, str | None], fixed: bool, seed: int) -> Projection | Any:
    """One projection: every field checked (all errors reported), then its synapses drawn."""
    n_err = len(ck.errors.items)
    m = ck.mapping(spec, path, PROJ_KEYS, required=("pre", "post"))
    if m is INVALID:
        return INVALID
    pre, post = _ends(ck, m, path, declared)
    n_pre = pops[pre].size if pre in pops else None
    n_post = pops[post].size if post in pops else None
    raw_conn = m.get("connectivity", "all_to_all")
    conn = _connectivity(ck, raw_conn, f"{path}.connectivity", n_pre, n_post, fixed)
    is_list = raw_conn == "list" or (isinstance(raw_conn, Mapping) and raw_conn.get("kind") == "list")
    weight, delay = _weight_and_delay(ck, m, path, is_list, n_pre, n_post, fixed, pops.get(pre))
    weight_exp = ck.integer(m.get("weight_exp", 0), f"{path}.weight_exp", *WEIGHT_EXP_RANGE)
    nwb = ck.integer(m.get("num_weight_bits", 8), f"{path}.num_weight_bits", *NUM_WEIGHT_BITS_RANGE)
    plasticity = _plasticity(ck, m.get("plasticity"), f"{path}.plasticity")
    if len(ck.errors.items) > n_err or n_pre is None or n_post is None:
        return INVALID
    lo, hi = draws.post_range(post, n_post)
    draws.record_rule(name, _rule(pre, post, conn, weight, delay, plasticity is not None))
    if _check_size(ck, conn, is_list, pops[pre], pops[post], path, hi - lo) is INVALID:
        return INVALID
    if is_list:
        pre_idx, post_idx, w, d = conn["pre"], conn["post"], conn["weight"], conn["delay"]
    else:
        def rng(what: str, block: int) -> np.random.Generator:
            return rng_for(seed, "projection", name, what, str(block))

        pre_idx, post_idx, w, d = _draw(conn, weight, delay, pops[pre], pops[post], fixed,
                                        plasticity is not None, rng, lo, hi)
    wpath = f"{path}.connectivity" if is_list else f"{path}.weight"
    if fixed and draws.current_scope() is None and _check_fixed_weights(ck, w, wpath) is INVALID:
        return INVALID  # (a partial draw: compiler/distributed.py checks the whole range)
    return Projection(name=name, pre=pre, post=post,
                      pre_idx=np.ascontiguousarray(pre_idx, dtype=np.int32),
                      post_idx=np.ascontiguousarray(post_idx, dtype=np.int32),
                      weight=np.ascontiguousarray(w, dtype=np.int32 if fixed else np.float64),
                      delay=np.ascontiguousarray(d, dtype=np.int16),
                      weight_exp=weight_exp, num_weight_bits=nwb, plasticity=plasticity)


def _ends(ck: Checker, m: Mapping, path: str, declared: dict[str, str | None]
          ) -> tuple[str | Any, str | Any]:
    """The pre and post population names (INVALID where wrong); post must not be a source."""
    pre = _population_ref(ck, m["pre"], f"{path}.pre", declared, "pre") if "pre" in m else INVALID
    post = _population_ref(ck, m["post"], f"{path}.post", declared, "post") if "post" in m else INVALID
    if post is not INVALID and declared[post] == "spike_source":
        post = ck.error(f"{path}.post", f"'{post}' is a spike_source; synapses must end on "
                        "a lif population", ", ".join(k for k, v in declared.items() if v == "lif"))
    return pre, post


def _weight_and_delay(ck: Checker, m: Mapping, path: str, is_list: bool, n_pre: int | None,
                      n_post: int | None, fixed: bool, pre_pop: Population | None
                      ) -> tuple[dict | Any, dict | Any]:
    """Normalized weight and delay specs; list connectivity takes both from its edges instead."""
    if is_list:
        for key in ("weight", "delay"):
            if key in m:
                ck.error(f"{path}.{key}", f"'{key}' is not allowed with list connectivity "
                         "(the edges file gives it)", "leave it out; put it in the edges file")
        return INVALID, INVALID
    weight = INVALID
    if "weight" not in m:
        ck.error(path, "missing required key 'weight'",
                 "a constant | {dist: uniform, low, high} | {file: w.npy}")
    else:
        weight = _weight_spec(ck, m["weight"], f"{path}.weight", n_pre, n_post, fixed)
        if isinstance(weight, dict) and "dataset_mean" in weight:
            init_weights.check_pre(ck, weight, f"{path}.weight", pre_pop)
    return weight, _delay_spec(ck, m.get("delay", 0), f"{path}.delay")


def _rule(pre: str, post: str, conn: dict, weight: Any, delay: Any, plastic: bool
          ) -> dict[str, Any]:
    """What a parse records of a projection (`draws.DrawScope.rules`): its normalized
    connectivity, weight and delay kinds and parameters, without arrays."""
    def plain(spec: Any) -> dict[str, Any]:
        return {k: v for k, v in spec.items() if not isinstance(v, np.ndarray)} \
            if isinstance(spec, dict) else {}

    return {"pre": pre, "post": post, "connectivity": plain(conn), "weight": plain(weight),
            "delay": plain(delay), "plastic": plastic}


def _check_size(ck: Checker, conn: dict, is_list: bool, pre: Population, post: Population,
                path: str, n_drawn: int) -> Any:
    """Refuse connectivity that would draw more synapses than can be held (before drawing);
    `n_drawn`: how many of the post neurons get their synapses drawn."""
    if conn["kind"] == "local":
        return _local_positions(ck, conn, pre, post, f"{path}.connectivity")
    if not is_list:
        return _too_many_synapses(ck, conn, pre.size, post.size, path, n_drawn)
    return None


def _draw(conn: dict, weight: dict, delay: dict, pre: Population, post: Population, fixed: bool,
          plastic: bool, rng: draws.BlockRng, lo: int, hi: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synapses onto posts [lo, hi), weights and delays from this projection's block
    streams (draws.py); zero weights of a matrix (or a constant 0 on a non-plastic
    projection) mean no synapse and are dropped."""
    if "dataset_mean" in weight:
        weight = {**weight, "mean": init_weights.mean_input(pre)}
    pre_idx, post_idx, w, d = draws.draw(conn, weight, delay, pre, post, fixed, rng, lo, hi)
    dtype = np.int32 if fixed else np.float64
    if w is not None:
        return pre_idx, post_idx, w.astype(dtype, copy=False), d
    if "const" in weight:
        if weight["const"] == 0 and not plastic:
            empty = np.zeros(0, dtype=np.int32)
            return empty, empty.copy(), np.zeros(0, dtype=dtype), np.zeros(0, dtype=np.int16)
        return pre_idx, post_idx, np.full(pre_idx.shape[0], weight["const"], dtype=dtype), d
    w = weight["array"][post_idx, pre_idx]  # not cast yet: range-checked by the caller first
    keep = np.flatnonzero(w != 0)
    if keep.size < w.size:
        pre_idx, post_idx, w, d = pre_idx[keep], post_idx[keep], w[keep], d[keep]
    return pre_idx, post_idx, w, d


def _too_many_synapses(ck: Checker, conn: dict, n_pre: int, n_post: int, path: str,
                       n_drawn: int | None = None) -> Any:
    """Refuse projections whose synapse count cannot be held (int32 synapse indices), of
    the `n_drawn` post neurons whose synapses are drawn (default all)."""
    n_drawn = n_post if n_drawn is None else n_drawn
    pairs = min(n_pre, n_drawn) if conn["kind"] == "one_to_one" else n_pre * n_drawn
    expected = pairs * conn.get("p", 1.0)
    if expected > MAX_SYNAPSES:
        return ck.error(f"{path}.connectivity", f"{conn['kind']} between {n_pre} and {n_post} "
                        f"neurons gives ~{expected:.3g} synapses; at most {MAX_SYNAPSES} per "
                        "projection", "smaller populations, or {kind: random, p} with lower p")
    too_big = budget.over_limit(int(expected * SYNAPSE_BYTES), f"{conn['kind']} between "
                                f"{n_pre} and {n_post} neurons (~{expected:.3g} synapses)")
    if too_big:  # checked before the synapse arrays are drawn
        return ck.error(f"{path}.connectivity", too_big, budget.remedy_text(
            "smaller populations, or {kind: random, p} with lower p"))
    return None


def _connectivity(ck: Checker, spec: Any, path: str, n_pre: int | None, n_post: int | None,
                  fixed: bool) -> dict | Any:
    """Normalized connectivity: {kind, p?} or, for lists, {kind: list, pre, post, weight, delay}."""
    allowed = ("all_to_all | one_to_one | {kind: random, p} | {kind: list, file: edges.npz} "
               "| {kind: local, radius[, wrap]}")
    given_as_str = isinstance(spec, str)
    if given_as_str:
        if spec in ("random", "list"):
            return ck.error(path, f"'{spec}' connectivity needs parameters",
                            "{kind: random, p: 0.1}" if spec == "random" else "{kind: list, file: edges.npz}")
        spec = {"kind": spec}
    if not isinstance(spec, Mapping):
        return ck.error(path, f"found {show(spec)}; expected a connectivity", allowed)
    if "kind" not in spec:
        return ck.error(path, "missing required key 'kind'", allowed)
    kind = ck.choice(spec["kind"], path if given_as_str else f"{path}.kind",
                     CONNECTIVITY_KINDS, "connectivity")
    if kind is INVALID:
        return INVALID
    return _CONNECTIVITY[kind](ck, spec, path, n_pre, n_post, fixed)


def _all_to_all(ck: Checker, spec: Mapping, path: str, n_pre: int | None, n_post: int | None,
                fixed: bool) -> dict | Any:
    """{kind: all_to_all}: every pre neuron to every post neuron."""
    ck.mapping(spec, path, ("kind",))
    return {"kind": "all_to_all"}


def _one_to_one(ck: Checker, spec: Mapping, path: str, n_pre: int | None, n_post: int | None,
                fixed: bool) -> dict | Any:
    """{kind: one_to_one}: neuron i to neuron i; both populations of one size."""
    ck.mapping(spec, path, ("kind",))
    if n_pre is not None and n_post is not None and n_pre != n_post:
        return ck.error(path, f"one_to_one needs equal sizes; found pre size {n_pre}, "
                        f"post size {n_post}", "all_to_all | {kind: random, p} for unequal sizes")
    return {"kind": "one_to_one"}


def _random(ck: Checker, spec: Mapping, path: str, n_pre: int | None, n_post: int | None,
            fixed: bool) -> dict | Any:
    """{kind: random, p}: each (pre, post) pair connected with probability p."""
    m = ck.mapping(spec, path, ("kind", "p"), required=("p",))
    p = ck.number(m["p"], f"{path}.p", 0.0, 1.0) if "p" in m else INVALID
    return INVALID if p is INVALID else {"kind": "random", "p": float(p)}


def _local_kind(ck: Checker, spec: Mapping, path: str, n_pre: int | None, n_post: int | None,
                fixed: bool) -> dict | Any:
    """{kind: local, radius, wrap?}: see `_local`."""
    return _local(ck, spec, path)


def _edge_list(ck: Checker, spec: Mapping, path: str, n_pre: int | None, n_post: int | None,
               fixed: bool) -> dict | Any:
    """{kind: list, file: edges.npz | data: {...}}: explicit edges, one entry per synapse."""
    m = ck.mapping(spec, path, ("kind", "file", "data"))
    if ("file" in m) == ("data" in m):
        return ck.error(path, "give the edges either as 'file' (.npz) or as 'data'",
                        "{kind: list, file: edges.npz} with arrays pre, post, weight[, delay]")
    if "file" in m:
        edges = ck.load_npz(m["file"], f"{path}.file")
        epath = f"{path}.file"
    else:
        edges, epath = m["data"], f"{path}.data"
        if not isinstance(edges, Mapping):
            return ck.error(epath, f"found {show(edges)}; expected a mapping of arrays",
                            "pre, post, weight[, delay]")
    if edges is INVALID:
        return INVALID
    return _edges(ck, edges, epath, n_pre, n_post, fixed)


# connectivity kind -> its checker; each returns the normalized spec or INVALID
_CONNECTIVITY = {"all_to_all": _all_to_all, "one_to_one": _one_to_one, "random": _random,
                 "local": _local_kind, "list": _edge_list}
assert set(_CONNECTIVITY) == set(CONNECTIVITY_KINDS)


LOCAL_ALLOWED = "{kind: local, radius: r[, wrap: [L1, L2, ...]]} (pre and post with positions)"


def _local(ck: Checker, spec: Mapping, path: str) -> dict | Any:
    """{kind: local, radius, wrap?}: pairs within `radius` of each other (positions.py)."""
    n_err = len(ck.errors.items)
    m = ck.mapping(spec, path, ("kind", "radius", "wrap"), required=("radius",))
    r = ck.number(m["radius"], f"{path}.radius", 0.0, what="a positive number") \
        if "radius" in m else INVALID
    if r is not INVALID and r <= 0:
        r = ck.error(f"{path}.radius", f"found {r}; the radius must be positive", "a number > 0")
    wrap = m.get("wrap")
    if wrap is not None and (not isinstance(wrap, (list, tuple)) or not wrap or
                             not all(is_number(v) and v > 0 for v in wrap)):
        wrap = ck.error(f"{path}.wrap", f"found {show(wrap)}; expected a list of positive "
                        "box sizes, one per position axis", "[L1, L2, ...]")
    if len(ck.errors.items) > n_err:
        return INVALID
    return {"kind": "local", "radius": float(r),
            "wrap": None if wrap is None else tuple(float(v) for v in wrap)}


def _local_positions(ck: Checker, conn: dict, pre: Population, post: Population,
                     path: str) -> Any:
    """Both populations have positions of one dimension, inside the wrap box if any."""
    for role, pop in (("pre", pre), ("post", post)):
        if pop.positions is None:
            return ck.error(path, f"local connectivity needs positions; {role} population "
                            f"'{pop.name}' has none", "positions: {grid: [...]} | {file: ...} "
                            f"on '{pop.name}'")
    d = pre.positions.shape[1]
    if post.positions.shape[1] != d:
        return ck.error(path, f"pre '{pre.name}' has {d}-D positions, post '{post.name}' "
                        f"{post.positions.shape[1]}-D", "positions of one dimension")
    wrap = conn["wrap"]
    if wrap is not None:
        if len(wrap) != d:
            return ck.error(f"{path}.wrap", f"found {len(wrap)} box sizes for {d}-D positions",
                            f"a list of {d} sizes")
        for pop in (pre, post):
            out = (pop.positions < 0) | (pop.positions >= np.asarray(wrap))
            if out.any():
                i = int(np.flatnonzero(out.any(axis=1))[0])
                return ck.error(f"{path}.wrap", f"'{pop.name}' neuron {i} at "
                                f"{pop.positions[i].tolist()} lies outside the box "
                                f"[0, {list(wrap)})", "positions in [0, wrap) per axis")
    # estimated synapses (neighbours of up to 1000 post neurons) before generating them
    from scipy.spatial import cKDTree

    step = max(1, post.size // 1000)
    tree = cKDTree(pre.positions, boxsize=None if wrap is None else np.asarray(wrap))
    found = tree.query_ball_point(post.positions[::step], conn["radius"], return_length=True)
    expected = float(np.mean(found)) * post.size
    if expected > MAX_SYNAPSES:
        return ck.error(f"{path}.radius", f"radius {conn['radius']} gives ~{expected:.3g} "
                        f"synapses; at most {MAX_SYNAPSES} per projection", "a smaller radius")
    return None


def _edges(ck: Checker, edges: Mapping, path: str, n_pre: int | None, n_post: int | None,
           fixed: bool) -> dict | Any:
    """Check and sort explicit edge arrays (one entry per synapse)."""
    n_err = len(ck.errors.items)
    arrs = _edge_arrays(ck, edges, path)
    if arrs is INVALID or len(ck.errors.items) > n_err:
        return INVALID
    lengths = {k: len(a) for k, a in arrs.items()}
    if len(set(lengths.values())) > 1:
        return ck.error(path, "edge arrays have unequal lengths: "
                        + ", ".join(f"{k}={n}" for k, n in lengths.items()), "equal lengths")
    _check_edge_indices(ck, arrs, path, n_pre, n_post)
    _check_edge_weights(ck, arrs["weight"], path, fixed)
    _check_edge_delays(ck, arrs.get("delay"), path)
    if len(ck.errors.items) > n_err or n_post is None:
        return INVALID
    return _sorted_edges(ck, arrs, path, n_post)


def _edge_arrays(ck: Checker, edges: Mapping, path: str) -> dict[str, np.ndarray] | Any:
    """The 1-D edge arrays by name; unknown names and missing pre/post/weight are errors."""
    for key in edges:
        if key not in EDGE_ARRAYS:
            ck.error(path, f"unknown edge array '{key}'{suggest(str(key), EDGE_ARRAYS)}",
                     "pre, post, weight, delay")
    missing = [k for k in ("pre", "post", "weight") if k not in edges]
    if missing:
        return ck.error(path, f"missing edge array(s) {', '.join(missing)}",
                        "arrays pre, post, weight and optionally delay")
    arrs: dict[str, np.ndarray] = {}
    for key in EDGE_ARRAYS:
        if key not in edges:
            continue
        a = as_array(ck, edges[key], path)
        if a is not INVALID and a.ndim != 1:
            a = ck.error(path, f"edge array '{key}' has shape {a.shape}; expected 1-D",
                         "one entry per synapse")
        if a is not INVALID:
            arrs[key] = a
    return arrs


def _check_edge_indices(ck: Checker, arrs: dict[str, np.ndarray], path: str,
                        n_pre: int | None, n_post: int | None) -> None:
    """pre and post hold integer neuron indices inside their populations."""
    for key, hi in (("pre", n_pre), ("post", n_post)):
        a = arrs[key]
        if a.size and a.dtype.kind not in "iu":
            ck.error(path, f"edge array '{key}' has dtype {a.dtype}; expected integers",
                     "integer neuron indices")
        elif a.size and hi is not None and (a.min() < 0 or a.max() >= hi):
            bad = int(a[(a < 0) | (a >= hi)][0])
            ck.error(path, f"edge array '{key}' has index {bad} out of range for {key} "
                     f"population of size {hi}", f"indices in [0, {hi - 1}]")


def _check_edge_weights(ck: Checker, w: np.ndarray, path: str, fixed: bool) -> None:
    """Weights are finite numbers, integers in fixed precision."""
    if w.dtype.kind not in "iuf" or (w.dtype.kind == "f" and not np.isfinite(w).all()):
        ck.error(path, f"edge array 'weight' has dtype {w.dtype} or non-finite values",
                 "finite numbers")
    elif fixed and w.dtype.kind == "f" and not (w == np.round(w)).all():
        ck.error(path, "edge array 'weight' has non-integer values in fixed precision",
                 WEIGHT_RANGES)


def _check_edge_delays(ck: Checker, d: np.ndarray | None, path: str) -> None:
    """Delays, if given, are integers in [0, MAX_DELAY]."""
    if d is not None and d.size and (d.dtype.kind not in "iu" or d.min() < 0 or d.max() > MAX_DELAY):
        ck.error(path, f"edge array 'delay' must hold integers in [0, {MAX_DELAY}]; found "
                 f"dtype {d.dtype}, range [{d.min()}, {d.max()}]", f"integers in [0, {MAX_DELAY}]")


def _sorted_edges(ck: Checker, arrs: dict[str, np.ndarray], path: str, n_post: int) -> dict | Any:
    """The edges in synapse order (by post, then pre); a (pre, post) pair given twice is an error."""
    pre, post = arrs["pre"].astype(np.int32), arrs["post"].astype(np.int32)
    order = synapses.sort_order(pre, post, n_post)
    pre, post = pre[order], post[order]
    dup = synapses.duplicate_pairs(pre, post)
    if dup.size:
        i = dup[0]
        return ck.error(path, f"{dup.size} duplicate synapse(s), e.g. (pre, post) = "
                        f"({pre[i]}, {post[i]})", "each (pre, post) pair at most once")
    d = arrs.get("delay")
    delay = d[order] if d is not None else np.zeros(len(pre), dtype=np.int16)
    return {"kind": "list", "pre": pre, "post": post, "weight": arrs["weight"][order], "delay": delay}


def _weight_spec(ck: Checker, spec: Any, path: str, n_pre: int | None, n_post: int | None,
                 fixed: bool) -> dict | Any:
    """Normalized weight: {const}, {dist: uniform, low, high} or {array (post, pre)}."""
    allowed = ("a constant | {dist: uniform, low, high} | {file: w.npy} of shape (post, pre) | "
               + init_weights.FORM)
    if isinstance(spec, np.ndarray):
        spec = {"data": spec}
    if is_number(spec) or isinstance(spec, bool):
        c = _weight_value(ck, spec, path, fixed)
        return INVALID if c is INVALID else {"const": c}
    if not isinstance(spec, Mapping):
        return ck.error(path, f"found {show(spec)}; expected a weight", allowed)
    if init_weights.is_dataset_mean(spec):
        return init_weights.parse(ck, spec, path, fixed, _weight_value)
    if "dist" in spec:
        return _weight_dist(ck, spec, path, fixed)
    if "file" in spec or "data" in spec:
        return _weight_matrix(ck, spec, path, n_pre, n_post, fixed)
    return ck.error(path, f"found {show(spec)}; expected a weight", allowed)


def _weight_dist(ck: Checker, spec: Mapping, path: str, fixed: bool) -> dict | Any:
    """{dist: uniform, low, high}: weights drawn uniformly (integers in fixed precision)."""
    m = ck.mapping(spec, path, ("dist", "low", "high"), required=("low", "high"))
    dist = ck.choice(m["dist"], f"{path}.dist", ("uniform",), "weight distribution")
    low = _weight_value(ck, m["low"], f"{path}.low", fixed) if "low" in m else INVALID
    high = _weight_value(ck, m["high"], f"{path}.high", fixed) if "high" in m else INVALID
    if any(v is INVALID for v in (dist, low, high)):
        return INVALID
    if low > high:
        return ck.error(path, f"found low {low} > high {high}", "low <= high")
    if fixed and high <= 0 and low < -255:
        return ck.error(f"{path}.low", f"found {low} with high {high} <= 0: all weights are "
                        "inhibitory and Lava would clip them to -255", WEIGHT_RANGES)
    return {"dist": dist, "low": low, "high": high}


def _weight_matrix(ck: Checker, spec: Mapping, path: str, n_pre: int | None, n_post: int | None,
                   fixed: bool) -> dict | Any:
    """{file: w.npy} or {data: array}: a (post, pre) matrix of finite weights."""
    m = ck.mapping(spec, path, ("file", "data"))
    arr = array_field(ck, m, path, "weight matrix")
    if arr is INVALID:
        return INVALID
    where = f"{path}.file" if "file" in m else path
    if arr.ndim != 2 or (n_pre is not None and n_post is not None
                         and arr.shape != (n_post, n_pre)):
        want = f"{(n_post, n_pre)}" if n_pre is not None and n_post is not None else "(post, pre)"
        return ck.error(where, f"found weight matrix of shape {arr.shape}; expected "
                        f"(post, pre) = {want}", f"an array of shape {want}")
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.isfinite(arr).all()):
        return ck.error(where, f"found weight matrix of dtype {arr.dtype} (or non-finite values)",
                        "finite numbers")
    if fixed and arr.dtype.kind == "f" and not (arr == np.round(arr)).all():
        return ck.error(where, "found non-integer weights in fixed precision", WEIGHT_RANGES)
    return {"array": arr}


def _weight_value(ck: Checker, value: Any, path: str, fixed: bool) -> float | int | Any:
    if fixed:
        return ck.integer(value, path, WEIGHT_MIN, WEIGHT_MAX,
                          what="an integer weight (fixed precision)")
    return ck.number(value, path)


def _delay_spec(ck: Checker, spec: Any, path: str) -> dict | Any:
    if isinstance(spec, Mapping):
        m = ck.mapping(spec, path, ("dist", "low", "high"), required=("dist", "low", "high"))
        dist = ck.choice(m["dist"], f"{path}.dist", ("uniform_int",), "delay distribution") \
            if "dist" in m else INVALID
        low = ck.integer(m["low"], f"{path}.low", 0, MAX_DELAY) if "low" in m else INVALID
        high = ck.integer(m["high"], f"{path}.high", 0, MAX_DELAY) if "high" in m else INVALID
        if any(v is INVALID for v in (dist, low, high)):
            return INVALID
        if low > high:
            return ck.error(path, f"found low {low} > high {high}", "low <= high")
        return {"dist": dist, "low": low, "high": high}
    c = ck.integer(spec, path, 0, MAX_DELAY,
                   what="an integer delay or {dist: uniform_int, low, high}")
    return INVALID if c is INVALID else {"const": c}


def _plasticity(ck: Checker, spec: Any, path: str) -> Plasticity | None | Any:
    """Only the shape is checked here; rule parameters are checked by the plasticity module."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        return ck.error(path, f"found {show(spec)}; expected a mapping with 'rule'",
                        "{rule: " + " | ".join(PLASTICITY_RULES) + ", ...}")
    if "rule" not in spec:
        return ck.error(path, "missing required key 'rule'", " | ".join(PLASTICITY_RULES))
    rule = ck.choice(spec["rule"], f"{path}.rule", PLASTICITY_RULES, "plasticity rule")
    if rule is INVALID:
        return INVALID
    params = {k: v for k, v in spec.items() if k != "rule"}
    return Plasticity(rule=rule, params=params, modulator=params.get("modulator"))


def _check_fixed_weights(ck: Checker, w: np.ndarray, path: str) -> Any:
    """Reject weights Lava's fixed_pt Dense would clip silently (sign mode from all weights)."""
    if w.size == 0:
        return None
    problem = fixed_weight_problem(w.min(), w.max())
    return ck.error(path, problem, WEIGHT_RANGES) if problem else None


def fixed_weight_problem(lo: float, hi: float) -> str | None:
    """What Lava's fixed_pt Dense would clip in a projection whose weights span [lo, hi]."""
    if hi <= 0 and lo < -255:
        return f"found weight {lo:g} in an all-inhibitory projection (Lava would clip it to -255)"
    if lo < WEIGHT_MIN or hi > WEIGHT_MAX:
        return f"found weight {lo if lo < WEIGHT_MIN else hi:g} (Lava would clip it)"
    return None
