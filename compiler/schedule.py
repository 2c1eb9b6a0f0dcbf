"""The timeline of a network's `phases:`: how long each runs, the samples a sample phase shows
(with the dataset source's spikes), and how recordings become per-sample results.

Pure functions of the IR, shared by every backend's phased run so that all of them show the
same samples in the same order and cut their recordings into the same results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from .datasets import encode, epoch_order, epoch_rng
from .ir import DATASET_KIND, Dataset, NetworkIR, Phase, Probe

CHUNK_STEPS = 20000  # steps simulated per call (bounds the recorded spike arrays)


def dataset_population(net: NetworkIR) -> str | None:
    """The name of the network's dataset source (the frontend allows one with samples)."""
    names = [p.name for p in net.source_populations
             if p.source is not None and p.source.kind == DATASET_KIND]
    return names[0] if names else None


def shown_dataset(net: NetworkIR, phase: Phase) -> Dataset:
    """The dataset source's samples as a sample phase shows them: its own `present` and
    `rest` where the phase gives them, the source's otherwise."""
    ds = net.populations[dataset_population(net)].source.dataset
    if phase.present is None and phase.rest is None:
        return ds
    return dataclasses.replace(ds, present=ds.present if phase.present is None else phase.present,
                               rest=ds.rest if phase.rest is None else phase.rest)


def phase_steps(net: NetworkIR, phase: Phase) -> int:
    """How many steps a phase runs."""
    if phase.steps is not None:
        return int(phase.steps)
    ds = shown_dataset(net, phase)
    n = len(ds.splits[phase.split]) if phase.count is None else phase.count
    return n * phase.epochs * ds.period


def phase_probes(net: NetworkIR, probes: Iterable[Probe | str] | None = None) -> list[Probe]:
    """What phases record besides spikes: the v/u probes among `probes` (default: the
    network's), then `<proj>.weights` of every plastic or probed projection, in network order.
    Applied to its own result it returns the same list."""
    chosen = list(net.probes if probes is None else probes)
    chosen = [Probe(*p.rsplit(".", 1)) if isinstance(p, str) else p for p in chosen]
    state = [p for p in chosen if p.var in ("v", "u")]
    weights = [Probe(name, "weights") for name, proj in net.projections.items()
               if proj.plasticity is not None
               or any(p.key == f"{name}.weights" for p in chosen)]
    return state + weights


def sample_chunks(net: NetworkIR, phase: Phase) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(sample indices, dataset source spikes bool (len(idx) * period, size)) of a sample
    phase, in the order shown, in chunks of at most CHUNK_STEPS steps; the concatenated
    spikes do not depend on the chunking (one generator per epoch)."""
    src = dataset_population(net)
    ds = shown_dataset(net, phase)
    orders = epoch_order(ds, phase.split, phase.count, phase.epochs, phase.shuffle, net.seed,
                         phase.name)
    chunk = max(1, CHUNK_STEPS // ds.period)
    for epoch, order in enumerate(orders):
        rng = epoch_rng(net.seed, src, phase.name, epoch)
        for lo in range(0, len(order), chunk):
            idx = order[lo:lo + chunk]
            yield idx, encode(ds, idx, rng)


def sample_counts(spikes: np.ndarray, n_samples: int, period: int) -> np.ndarray:
    """Spikes per shown sample: (n_samples * period, size) bool -> int32 (n_samples, size)."""
    return spikes.reshape(n_samples, period, -1).sum(axis=1, dtype=np.int32)


def sample_values(net: NetworkIR, phase: Phase, shown_parts: list[np.ndarray],
                  counts: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """`<phase>.<pop>.counts`, `<phase>.labels`, `<phase>.samples` of a sample phase."""
    ds = net.populations[dataset_population(net)].source.dataset
    shown = np.concatenate(shown_parts) if shown_parts else np.zeros(0, np.int64)
    out = {f"{phase.name}.{p}.counts": np.concatenate(c) if c else
           np.zeros((0, net.populations[p].size), np.int32) for p, c in counts.items()}
    out[f"{phase.name}.labels"] = ds.y[shown]
    out[f"{phase.name}.samples"] = shown
    return out
