"""A repeating spike pattern hidden in Poisson noise (after Masquelier, Guyonneau & Thorpe 2008).

Every afferent fires Bernoulli(rate) spikes per step all the time. A frozen segment of
`length` steps of that noise, on the first `involved` afferents, is drawn once and pasted
at onsets separated by random gaps (uniform in [gap_min, gap_max] steps between the end
of one copy and the next onset). Inside a copy the pattern afferents fire at the same
rate as outside it, so only the repeated spike timing reveals the pattern. Every draw
comes from `rng_for(seed, "pattern", <population>)`: the spikes and the onsets are a pure
function of the spec, the same for every backend and for the scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import rng_for


@dataclass(frozen=True)
class PatternSpec:
    """What a hidden-pattern source draws: `steps` x `size` spikes (see module doc)."""

    steps: int
    size: int
    rate: float = 0.02
    length: int = 50
    involved: int | None = None  # afferents that carry the pattern (None: all)
    gap_min: int = 100
    gap_max: int = 400


def pattern_onsets(spec: PatternSpec, seed: int, pop: str) -> np.ndarray:
    """The steps (int64, increasing) at which a copy of the pattern starts."""
    rng = rng_for(seed, "pattern", pop, "onsets")
    gaps = rng.integers(spec.gap_min, spec.gap_max + 1, size=spec.steps // spec.gap_min + 1)
    starts = np.cumsum(gaps + spec.length) - spec.length
    return starts[starts + spec.length <= spec.steps].astype(np.int64)


def pattern_spikes(spec: PatternSpec, seed: int, pop: str) -> np.ndarray:
    """bool (steps, size): the noise with the pattern pasted at every onset."""
    rng = rng_for(seed, "pattern", pop, "noise")
    out = rng.random((spec.steps, spec.size)) < spec.rate
    k = spec.size if spec.involved is None else spec.involved
    frozen = rng_for(seed, "pattern", pop, "pattern").random((spec.length, k)) < spec.rate
    onsets = pattern_onsets(spec, seed, pop)
    rows = onsets[:, None] + np.arange(spec.length)[None, :]
    out[rows, :k] = frozen[None, :, :]
    return out


def pattern_scores(spikes: np.ndarray, onsets: np.ndarray, length: int, start: int,
                   slack: int = 10, step_s: float = 1e-3) -> dict[str, float]:
    """Detection scores of one neuron's spikes (bool (steps,), from global step `start`):
    `hit_rate` (fraction of the copies inside the window with a spike in [onset, onset +
    length + slack)), `false_alarms_per_s` (spikes outside every such window per second of
    the remaining time, one step = `step_s` seconds), `latency` (mean steps from onset to
    the first spike of each hit; nan without hits), `copies` (how many were scored)."""
    spikes = np.asarray(spikes, dtype=bool)
    steps = spikes.shape[0]
    rel = onsets - start
    rel = rel[(rel >= 0) & (rel + length + slack <= steps)]
    inside = np.zeros(steps, dtype=bool)
    first = []
    for o in rel:
        inside[o:o + length + slack] = True
        hit = np.flatnonzero(spikes[o:o + length + slack])
        first.append(hit[0] if hit.size else -1)
    first = np.asarray(first, dtype=np.int64)
    hits = first >= 0
    noise_s = max(int((~inside).sum()), 1) * step_s
    return {"hit_rate": float(hits.mean()) if rel.size else 0.0,
            "false_alarms_per_s": float(spikes[~inside].sum() / noise_s),
            "latency": float(first[hits].mean()) if hits.any() else float("nan"),
            "copies": float(rel.size)}


def chosen_detector(spikes: np.ndarray, onsets: np.ndarray, length: int,
                    window: int = 10000, start: int = 0, fa_cost: float = 0.01) -> int:
    """The detector neuron picked before the test (never from test spikes): the highest hit
    rate minus `fa_cost` x false alarms per second over the last `window` steps of `spikes`
    (bool (steps, neurons), its first step being global step `start`): the end of
    training, or a frozen selection phase run with the test settings."""
    steps = spikes.shape[0]
    lo = max(0, steps - window)
    scores = [pattern_scores(spikes[lo:, j], onsets, length, start + lo)
              for j in range(spikes.shape[1])]
    return int(np.argmax([s["hit_rate"] - fa_cost * s["false_alarms_per_s"] for s in scores]))
