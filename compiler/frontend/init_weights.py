"""`weight: {dataset_mean: H, jitter: J}`: start a projection from a dataset source at the mean
training input.

Each post neuron's weights start at the pre source's mean training sample (the `train`
split only: never validation or test), scaled so its largest entry is H, plus independent
uniform jitter in [0, J] per synapse (integers in fixed precision, from the projection's
`weight` random stream). A common start for competitive learning: every neuron begins
near the data and wins samples at once, instead of random weights that some neurons never
move from. A host-side initial value, like any other weight draw; nothing runs on chip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..ir import DATASET_KIND, Population
from .checks import INVALID, Checker

KEYS = ("dataset_mean", "jitter")
FORM = "{dataset_mean: H, jitter: J}"


def is_dataset_mean(spec: Any) -> bool:
    """Whether a raw `weight:` value asks for this initialisation."""
    return isinstance(spec, Mapping) and "dataset_mean" in spec


def parse(ck: Checker, spec: Mapping, path: str, fixed: bool,
          value: Callable[[Checker, Any, str, bool], Any]) -> dict | Any:
    """Normalized {"dataset_mean": H, "jitter": J}; `value` checks one weight number."""
    m = ck.mapping(spec, path, KEYS, required=("dataset_mean",))
    if m is INVALID:
        return INVALID
    high = value(ck, m["dataset_mean"], f"{path}.dataset_mean", fixed)
    jitter = value(ck, m.get("jitter", 0), f"{path}.jitter", fixed)
    if high is INVALID or jitter is INVALID:
        return INVALID
    if high < 0 or jitter < 0:
        bad = "dataset_mean" if high < 0 else "jitter"
        return ck.error(f"{path}.{bad}", f"found {high if bad == 'dataset_mean' else jitter}",
                        f"{FORM} with H >= 0 and J >= 0 (excitatory weights)")
    return {"dataset_mean": high, "jitter": jitter}


def check_pre(ck: Checker, spec: dict, path: str, pre: Population | None) -> Any:
    """The pre population must be a dataset spike source with a non-empty train split."""
    if pre is None:
        return INVALID
    ds = pre.source.dataset if pre.source is not None and pre.source.kind == DATASET_KIND else None
    if ds is None:
        return ck.error(f"{path}.dataset_mean", f"pre '{pre.name}' is not a dataset spike source",
                        "a projection whose pre has spikes: {kind: dataset, ...}")
    if len(ds.splits.get("train", ())) == 0:
        return ck.error(f"{path}.dataset_mean", f"pre '{pre.name}' has an empty train split",
                        "a dataset with training samples")
    return None


def mean_input(pre: Population) -> np.ndarray:
    """Mean training sample of a dataset source, scaled to a maximum of 1 (zeros if all 0)."""
    ds = pre.source.dataset
    m = ds.x[ds.splits["train"]].mean(axis=0)
    top = float(m.max(initial=0.0))
    return m / top if top > 0 else np.zeros_like(m)


def generate(spec: dict, mean: np.ndarray, pre: np.ndarray, fixed: bool,
             rng: Callable[[str], np.random.Generator]) -> np.ndarray:
    """Weights of synapses from pre neurons `pre`: H * mean[pre] + jitter."""
    base = spec["dataset_mean"] * mean[pre]
    r = rng("weight")
    if fixed:
        return (np.rint(base).astype(np.int64)
                + r.integers(0, int(spec["jitter"]), size=pre.shape[0], endpoint=True))
    return base + r.uniform(0.0, float(spec["jitter"]), size=pre.shape[0])
