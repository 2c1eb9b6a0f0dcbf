"""Profile plots are readable: integer ticks on the matrices, core labels in a colour that
shows on their cell, and the bar chart says which cores it shows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from repo import ROOT

import runtime  # noqa: E402
from runtime.profiling import profile_report  # noqa: E402
from runtime.profiling.plots import (  # noqa: E402
    MAX_BAR_CORES,
    core_bars_figure,
    mesh_heatmap_figure,
    shown_cores_caption,
    text_color,
    traffic_figure,
)
from runtime.profiling.report import format_ids  # noqa: E402
from runtime.profiling.static import RESOURCES  # noqa: E402

SMALL_CHIP = ROOT / "examples" / "small_chip.yaml"


def _visible_ticks(ax, axis: str) -> np.ndarray:
    ax.figure.canvas.draw()
    ticks = np.asarray(ax.get_xticks() if axis == "x" else ax.get_yticks(), dtype=float)
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    return ticks[(ticks >= lo) & (ticks <= hi)]


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 600])
def test_traffic_ticks_are_integers(n):
    traffic = np.arange(n * n, dtype=np.int64).reshape(n, n)
    fig = traffic_figure(SimpleNamespace(traffic=traffic, n_cores=n))
    ax = fig.axes[0]
    for axis in "xy":
        ticks = _visible_ticks(ax, axis)
        assert ticks.size >= 1 and np.all(ticks == np.round(ticks)), ticks
    lo, hi = sorted(ax.get_xlim())
    labels = [t.get_text() for x, t in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)
              if lo <= x <= hi]
    assert labels and all(s.isdigit() for s in labels), labels
    if n == 600:  # blocks of 3 cores: ticks name each block's first core
        assert "blocks of 3" in ax.get_xlabel()
        assert all(int(s) % 3 == 0 for s in labels)
    _close(fig)


@pytest.fixture(scope="module")
def small_chip():
    program = runtime.compile(SMALL_CHIP)
    assert len(program.cores) >= 3
    return program


def test_mesh_ticks_integer_and_labels_readable(small_chip):
    report = profile_report(small_chip)
    cores = report["static"]["cores"]
    for k, c in enumerate(cores):  # alternate dark (5 %) and light (95 %) cells
        c["max_percent"] = 5.0 if k % 2 == 0 else 95.0
    fig = mesh_heatmap_figure(small_chip, report)
    ax = fig.axes[0]
    for axis in "xy":
        ticks = _visible_ticks(ax, axis)
        assert np.all(ticks == np.round(ticks))
    colour = {t.get_text(): t.get_color() for t in ax.texts}
    for k, c in enumerate(cores):
        assert colour[str(c["id"])] == ("white" if k % 2 == 0 else "black")
    _close(fig)


def test_text_color_follows_luminance():
    assert text_color((0.0, 0.0, 0.3, 1.0)) == "white"
    assert text_color((1.0, 1.0, 0.2, 1.0)) == "black"
    import matplotlib

    viridis = matplotlib.colormaps["viridis"]
    assert text_color(viridis(0.0)) == "white" and text_color(viridis(1.0)) == "black"


def _fake_report(n: int) -> dict:
    """A static profile of n cores: core i at (i * 7) % 100 percent."""
    cores = []
    for i in range(n):
        p = float((i * 7) % 100)
        core = {"id": i, "max_percent": p}
        core.update({r: {"percent": p} for r in RESOURCES})
        cores.append(core)
    return {"static": {"cores": cores}, "network": "n", "target": "t"}


def test_core_bars_caption_names_the_cores_shown():
    report = _fake_report(83)
    fig = core_bars_figure(None, report)
    title = fig.axes[0].get_title()
    assert f"{MAX_BAR_CORES} of 83 cores shown: the fullest" in title
    fullest = sorted(report["static"]["cores"], key=lambda c: (-c["max_percent"], c["id"]))
    shown = sorted(c["id"] for c in fullest[:MAX_BAR_CORES])
    assert f"ids {format_ids(shown)}" in title
    low = fullest[MAX_BAR_CORES]["max_percent"]
    assert f"the other {83 - MAX_BAR_CORES} at most {low:.0f}%" in title
    ticks = [int(t.get_text()) for t in fig.axes[0].get_xticklabels()]
    assert ticks == shown
    _close(fig)
    small = core_bars_figure(None, _fake_report(5))
    assert small.axes[0].get_title() == "per-core utilization: all 5 cores"
    _close(small)


def test_format_ids_and_caption():
    assert format_ids([5, 0, 1, 2, 3, 9, 10, 12]) == "0-3, 5, 9-10, 12"
    assert format_ids(list(range(0, 40, 2)), max_items=3) == "0, 2, 4, ..."
    assert format_ids([]) == ""
    cores = [{"id": i, "max_percent": None if i == 2 else float(i)} for i in range(4)]
    assert shown_cores_caption(cores[2:], cores) == \
        "2 of 4 cores shown: the fullest (ids 2-3); the other 2 at most 1%"
