"""Neuron nodes whose time constants differ per neuron, split into one node per value.

snnc LIF parameters (du, dv, bias) are per population, but trained layers often carry a
time constant per neuron (Rockpool's `tau_mem`, an snnTorch `beta` tensor). A LIF, CubaLIF,
LI or CubaLI node with flat per-neuron parameters whose `tau` / `tau_syn` / `tau_mem` /
`v_leak` differ becomes one node `<id>#<k>` per distinct value set. Its neurons are picked
from the node's input by a one-hot Linear `<id>#<k>.in` and put back in their places by a
Linear `<id>#<k>.out` (edges add, so the parts sum to the whole); an Output node it fed
gets one Output `<output>#<k>` per part. `parts` tells which neurons each part holds, so
results can be put together again under the node's id.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

SPLIT_KEYS = {"LIF": ("tau", "v_leak"), "LI": ("tau", "v_leak"),
              "CubaLIF": ("tau_syn", "tau_mem", "v_leak"), "CubaLI": ("tau_syn", "tau_mem", "v_leak")}
MAX_PARTS = 256  # more distinct time constants in one node stay an error


def split_nodes(nodes: dict[str, Any], edges: list[tuple[str, str]], nir: Any
                ) -> tuple[dict[str, Any], list[tuple[str, str]], dict[str, tuple[str, np.ndarray]]]:
    """The graph with every splittable node split; parts: part id -> (node id, its neuron
    indices in the node)."""
    groups = {nid: g for nid, node in nodes.items() if (g := _groups(node)) is not None}
    if not groups:
        return nodes, edges, {}
    out_nodes = dict(nodes)
    parts: dict[str, tuple[str, np.ndarray]] = {}
    new_edges: list[tuple[str, str]] = []
    outputs_split: set[str] = set()
    for nid, idx_list in groups.items():
        node = out_nodes.pop(nid)
        n = sum(len(i) for i in idx_list)
        for k, idx in enumerate(idx_list):
            part = f"{nid}#{k}"
            out_nodes[part] = _part(node, idx)
            one_hot = np.zeros((len(idx), n))
            one_hot[np.arange(len(idx)), idx] = 1.0
            out_nodes[f"{part}.in"] = nir.Linear(weight=one_hot)
            out_nodes[f"{part}.out"] = nir.Linear(weight=one_hot.T.copy())
            new_edges += [(f"{part}.in", part), (part, f"{part}.out")]
            parts[part] = (nid, idx)
    for a, b in edges:
        if a in groups and isinstance(nodes.get(b), nir.Output):
            outputs_split.add(b)
            for k in range(len(groups[a])):
                out_nodes.setdefault(f"{b}#{k}", nir.Output(output_type=None))
                new_edges.append((f"{a}#{k}", f"{b}#{k}"))
            continue
        srcs = [f"{a}#{k}.out" for k in range(len(groups[a]))] if a in groups else [a]
        dsts = [f"{b}#{k}.in" for k in range(len(groups[b]))] if b in groups else [b]
        new_edges += [(s, d) for s in srcs for d in dsts]
    for o in outputs_split:  # an Output left without any input is dropped
        if not any(b == o for _, b in new_edges):
            out_nodes.pop(o, None)
    return out_nodes, new_edges, parts


def _params(node: Any) -> dict[str, np.ndarray]:
    return {f.name: np.asarray(getattr(node, f.name), dtype=np.float64)
            for f in dataclasses.fields(node) if f.init and f.name != "metadata"
            and getattr(node, f.name, None) is not None}


def _groups(node: Any) -> list[np.ndarray] | None:
    """Neuron indices per distinct value set of the node's time constants and v_leak, or
    None when the node need not (or cannot) be split."""
    keys = SPLIT_KEYS.get(type(node).__name__)
    if keys is None or not dataclasses.is_dataclass(node):
        return None
    params = _params(node)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in params.values()))
    except ValueError:
        return None
    if len(shape) != 1 or shape[0] < 2 or any(k not in params for k in keys):
        return None
    cols = [np.broadcast_to(params[k], shape) for k in keys]
    if "v_threshold" in params and np.any(params["v_leak"] != 0):
        cols.append(np.broadcast_to(params["v_threshold"], shape))  # bias v_leak / v_th
    if any(not np.all(np.isfinite(c)) for c in cols):
        return None
    # float32 keys: values equal up to float32 round-off (as exporters compute them) group
    _, inverse = np.unique(np.stack(cols, axis=1).astype(np.float32), axis=0,
                           return_inverse=True)
    inverse = inverse.ravel()
    count = int(inverse.max()) + 1
    if count < 2 or count > MAX_PARTS:
        return None
    return [np.flatnonzero(inverse == k) for k in range(count)]


def _part(node: Any, idx: np.ndarray) -> Any:
    """The node restricted to neurons `idx` (parameters broadcast, then picked)."""
    params = _params(node)
    shape = np.broadcast_shapes(*(a.shape for a in params.values()))
    args = {k: np.broadcast_to(a, shape)[idx].copy() for k, a in params.items()}
    meta = {k: v for k, v in (getattr(node, "metadata", None) or {}).items() if k != "snnc_name"}
    return type(node)(**args, metadata=meta)
