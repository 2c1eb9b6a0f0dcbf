"""The hidden-pattern spike source: copies identical at every onset, gaps in range, the
rest Poisson; scoring of a detector's spikes on hand-made spike trains."""

from __future__ import annotations

import numpy as np
import pytest
from phase_nets import _load

from compiler.errors import InputError
from compiler.patterns import (
    PatternSpec,
    chosen_detector,
    pattern_onsets,
    pattern_scores,
    pattern_spikes,
)

SPEC = PatternSpec(steps=5000, size=40, rate=0.05, length=30, involved=20, gap_min=50,
                   gap_max=120)


def test_copies_are_identical_on_the_involved_afferents_only():
    s = pattern_spikes(SPEC, 3, "aff")
    on = pattern_onsets(SPEC, 3, "aff")
    assert s.shape == (5000, 40) and len(on) >= 5000 // (30 + 120)
    gaps = np.diff(on) - SPEC.length
    assert gaps.min() >= 50 and gaps.max() <= 120 and on[0] >= 50
    copies = np.stack([s[o:o + 30] for o in on])
    assert (copies[:, :, :20] == copies[0, :, :20]).all()  # frozen pattern
    assert not (copies[:, :, 20:] == copies[0, :, 20:]).all()  # the others stay noise
    assert abs(s.mean() - 0.05) < 0.005  # no rate cue: the pattern is noise itself
    np.testing.assert_array_equal(s, pattern_spikes(SPEC, 3, "aff"))
    assert not np.array_equal(s, pattern_spikes(SPEC, 4, "aff"))


def test_scores_count_hits_false_alarms_and_latency():
    on = np.array([100, 300, 500])
    spikes = np.zeros(700, dtype=bool)
    spikes[[105, 312, 50, 650]] = True  # two hits (latency 5, 12), two false alarms
    sc = pattern_scores(spikes, on, length=30, start=0, slack=10)
    noise_s = (700 - 3 * 40) * 1e-3
    assert sc["hit_rate"] == pytest.approx(2 / 3)
    assert sc["false_alarms_per_s"] == pytest.approx(2 / noise_s)
    assert sc["latency"] == pytest.approx(8.5) and sc["copies"] == 3
    later = pattern_scores(spikes[200:], on, length=30, start=200)  # onsets before start skipped
    assert later["copies"] == 2 and later["hit_rate"] == 0.5


NET = """\
snnc: 1
name: pat
seed: 5
populations:
  aff:
    size: 8
    model: spike_source
    spikes: {kind: hidden_pattern, steps: 300, rate: 0.1, length: 10, involved: 4, gap: GAP}
  det: {size: 1}
projections:
  a: {pre: aff, post: det, weight: 1}
"""


def test_the_compiler_draws_the_source_from_the_network_seed():
    net = _load(NET.replace("GAP", "[20, 40]"))
    spec = PatternSpec(steps=300, size=8, rate=0.1, length=10, involved=4, gap_min=20,
                       gap_max=40)
    src = net.populations["aff"].source
    assert src.kind == "array"
    np.testing.assert_array_equal(src.data, pattern_spikes(spec, 5, "aff"))


@pytest.mark.parametrize("gap", ["[40, 20]", "30", "[0, 5]"])
def test_bad_gap_is_located(gap):
    with pytest.raises(InputError, match=r"populations\.aff\.spikes\.gap"):
        _load(NET.replace("GAP", gap))


def test_the_detector_is_chosen_on_the_end_of_training():
    on = np.array([100, 300, 500, 700])
    spikes = np.zeros((800, 3), dtype=bool)
    spikes[[105, 305, 505, 705], 0] = True  # hits every copy
    spikes[::7, 1] = True  # fires all the time: hits too, but many false alarms
    spikes[[510, 710], 2] = True  # hits only the copies in the last 400 steps
    assert chosen_detector(spikes, on, length=30) == 0
    assert chosen_detector(spikes, on, length=30, window=400) in (0, 2)
    spikes[[505, 705], 0] = False
    assert chosen_detector(spikes, on, length=30, window=400) == 2
