"""The `labels` spike source kind: a teacher spike train of the shown sample's class.

```yaml
populations:
  teach:
    size: 10                 # k neurons per class (size = k x classes); neuron i: class i // k
    model: spike_source
    spikes: {kind: labels, max_rate: 0.5, phases: [train]}
```

While a sample of class c is presented in one of the listed sample phases, each of the k
neurons of class c spikes with probability `max_rate` per step (Bernoulli draws from
`rng_for(seed, "labels", <population>, <phase>, <epoch>)`); in rest steps, in the other
phases and in phases without samples the source is silent. The phases' sample order is a
pure function of the network (compiler/datasets.py `epoch_order`), so the compiler writes
the whole train as an `array` source: every backend replays the same spikes, and no
backend needs to know about labels. A label source needs phases and one dataset source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..datasets import epoch_order
from ..errors import suggest
from ..ir import DATASET_KIND, Dataset, Phase, Population, SpikeSource, rng_for
from .checks import INVALID, Checker, show

LABELS_KIND = "labels"
LABEL_KEYS = ("kind", "max_rate", "phases")


@dataclasses.dataclass
class PendingLabels(SpikeSource):
    """A parsed label source before the phases are known; `resolve_labels` replaces it by
    an `array` source."""

    label_phases: tuple[str, ...] = ()


def label_source(ck: Checker, spec: Mapping, path: str, size: int | Any) -> SpikeSource | Any:
    """A `kind: labels` spikes block, checked; its spikes are filled in by `resolve_labels`."""
    m = ck.mapping(spec, path, LABEL_KEYS, required=("phases",))
    if m is INVALID or "phases" not in m:
        return INVALID
    rate = ck.number(m.get("max_rate", 0.5), f"{path}.max_rate", 0.0, 1.0)
    names = m["phases"]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        return ck.error(f"{path}.phases", f"found {show(names)}; expected a list of phase names",
                        "[train, ...] (phases with samples)")
    if rate is INVALID:
        return INVALID
    n = size if size is not INVALID else 0
    return PendingLabels("array", rate=float(rate), data=np.zeros((0, n), dtype=bool),
                         label_phases=tuple(names))


def resolve_labels(ck: Checker, pops: dict[str, Population], phases: list[Phase],
                   declared: set | None, seed: int) -> None:
    """Replace every pending label source by the `array` source of its spikes over all phases
    (`declared`: every phase name written, valid or not; None without phases)."""
    for name, pop in pops.items():
        src = pop.source
        if not isinstance(src, PendingLabels):
            continue
        path = f"populations.{name}.spikes"
        ds = _label_dataset(ck, pops, path, pop, declared is not None)
        sample_phases = [p.name for p in phases if p.split is not None]
        valid = {p.name for p in phases}
        bad = [n for n in src.label_phases if n not in sample_phases
               and not (n in (declared or ()) and n not in valid)]  # those have their own error
        if bad:
            ck.error(f"{path}.phases", f"'{bad[0]}' is not a phase with samples"
                     f"{suggest(bad[0], sample_phases)}", ", ".join(sample_phases)
                     or "a phase with samples")
            continue
        if ds is INVALID or any(n not in valid for n in src.label_phases):
            continue
        data = label_spikes(ds, phases, set(src.label_phases), pop.size, src.rate, seed, name)
        pop.source = SpikeSource("array", data=data)


def _label_dataset(ck: Checker, pops: dict[str, Population], path: str, pop: Population,
                   have_phases: bool) -> Dataset | Any:
    """The network's one dataset, when the label source's size fits its classes."""
    if not have_phases:
        return ck.error(path, "a label source needs phases (it spikes in sample phases)",
                        "phases: [...] with samples")
    sets = [p.source.dataset for p in pops.values()
            if p.source is not None and p.source.kind == DATASET_KIND]
    if len(sets) != 1:
        return ck.error(path, f"a label source needs exactly one dataset source (found "
                        f"{len(sets)})", "one population with spikes: {kind: dataset, ...}")
    n_classes = int(sets[0].y.max()) + 1 if sets[0].y.size else 1
    if pop.size % n_classes:
        return ck.error(f"populations.{pop.name}.size", f"{pop.size} neurons for {n_classes} "
                        "classes; a label source has the same number of neurons per class",
                        f"a multiple of {n_classes}")
    return sets[0]


def label_spikes(ds: Dataset, phases: list[Phase], on: set[str], size: int, rate: float,
                 seed: int, pop: str) -> np.ndarray:
    """bool (total steps, size): the label train of every phase in order (see module doc)."""
    k = size // (int(ds.y.max()) + 1 if ds.y.size else 1)
    parts = []
    for ph in phases:
        if ph.split is None:
            parts.append(np.zeros((int(ph.steps), size), dtype=bool))
            continue
        present = ds.present if ph.present is None else ph.present
        period = present + (ds.rest if ph.rest is None else ph.rest)
        orders = epoch_order(ds, ph.split, ph.count, ph.epochs, ph.shuffle, seed, ph.name)
        for epoch, order in enumerate(orders):
            block = np.zeros((len(order), period, size), dtype=bool)
            if ph.name in on and len(order):
                draws = rng_for(seed, "labels", pop, ph.name, str(epoch)).random(
                    (len(order), present, k)) < rate
                cols = ds.y[order][:, None] * k + np.arange(k)[None, :]
                block[np.arange(len(order))[:, None, None], np.arange(present)[None, :, None],
                      cols[:, None, :]] = draws
            parts.append(block.reshape(-1, size))
    return np.concatenate(parts) if parts else np.zeros((0, size), dtype=bool)
