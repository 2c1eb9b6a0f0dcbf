"""PNG plots of a profile (matplotlib, Agg backend): utilization on the mesh, per-core bars,
spike raster, core-to-core traffic and the energy breakdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from compiler.fileio import make_folder, write_atomic
from compiler.program import Program

from .activity import Activity, activity, core_positions
from .report import format_ids, spikes_of
from .static import RESOURCES

MAX_BAR_CORES = 48
MAX_CHIP_PANELS = 8
MAX_RASTER_POINTS = 200_000
MAX_TRAFFIC_CELLS = 256


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _int_ticks(ax: Any) -> None:
    """Integer-only ticks on both axes (cells of a matrix are whole cores or mesh places)."""
    from matplotlib.ticker import MaxNLocator

    # min_n_ticks=1: a 1x1 matrix shows only integers in view; the default (2) would
    # fall back to fractional ticks there
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def text_color(rgba: Any) -> str:
    """`white` on a dark cell, `black` on a light one (relative luminance of the cell's colour)."""
    r, g, b = (float(v) for v in tuple(rgba)[:3])
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "black"


def _fullest_first(core: dict[str, Any]) -> tuple[float, int]:
    """Sort key: fullest core first (None: no limit left, the fullest), then by id."""
    p = core["max_percent"]
    return (-(float("inf") if p is None else p), core["id"])


def shown_cores_caption(shown: list[dict[str, Any]], cores: list[dict[str, Any]]) -> str:
    """`48 of 83 cores shown: the fullest (ids 0-12, 15, ...); the other 35 at most 12%`,
    or `all 5 cores` when none is left out."""
    if len(shown) >= len(cores):
        return f"all {len(cores)} cores"
    ids = {c["id"] for c in shown}
    rest = [c["max_percent"] for c in cores if c["id"] not in ids]
    low = max((100.0 if p is None else p for p in rest), default=0.0)
    return (f"{len(shown)} of {len(cores)} cores shown: the fullest (ids {format_ids(sorted(ids))}); "
            f"the other {len(rest)} at most {low:.0f}%")


def mesh_heatmap_figure(program: Program, report: dict[str, Any]) -> Any:
    """The figure of `plot_mesh_heatmap`: core ids labelled in a colour readable on their cell."""
    plt = _plt()
    mx, my = (max(int(v), 1) for v in program.target.mesh)
    gx, gy, chip = core_positions(program)
    pct = {c["id"]: c["max_percent"] for c in report["static"]["cores"]}
    all_chips = sorted({int(c.chip) for c in program.cores}) or [0]
    chips = all_chips[:MAX_CHIP_PANELS]
    fig, axes = plt.subplots(1, len(chips), figsize=(3.2 * len(chips) + 1.5, 5.5), squeeze=False)
    im = None
    for ax, ch in zip(axes[0], chips, strict=True):
        grid = np.full((my, mx), np.nan)
        labels = []
        for c in program.cores:
            if c.chip == ch:
                x, y = int(gx[c.id] - ch * mx), int(gy[c.id])
                if 0 <= x < mx and 0 <= y < my:
                    v = pct.get(c.id)
                    grid[y, x] = 100.0 if v is None else min(v, 100.0)
                    labels.append((x, y, c.id))
        im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, origin="lower")
        if mx * my <= 256:
            for x, y, cid in labels:
                ax.text(x, y, f"{cid}", ha="center", va="center", fontsize=6,
                        color=text_color(im.cmap(im.norm(grid[y, x]))))
        _int_ticks(ax)
        ax.set_title(f"chip {ch}")
        ax.set_xlabel("mesh x")
        ax.set_ylabel("mesh y")
    fig.colorbar(im, ax=axes[0].tolist(), label="% of binding limit (fullest resource)")
    more = (f" ({len(chips)} of {len(all_chips)} chips shown: {format_ids(chips)})"
            if len(chips) < len(all_chips) else "")
    fig.suptitle(f"{report['network']} on {report['target']}: core utilization{more}")
    return fig


def plot_mesh_heatmap(program: Program, report: dict[str, Any], path: Path) -> Path:
    """Fullest-resource percent of every core drawn at its place on each chip's mesh."""
    plt = _plt()
    fig = mesh_heatmap_figure(program, report)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def core_bars_figure(program: Program, report: dict[str, Any]) -> Any:  # noqa: ARG001
    """The figure of `plot_core_bars`; its title says which cores are shown."""
    plt = _plt()
    every = report["static"]["cores"]
    cores = every
    if len(cores) > MAX_BAR_CORES:
        cores = sorted(cores, key=_fullest_first)[:MAX_BAR_CORES]
    cores = sorted(cores, key=lambda c: c["id"])
    x = np.arange(len(cores))
    w = 0.8 / len(RESOURCES)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(cores) + 3), 4.5))
    for k, r in enumerate(RESOURCES):
        vals = [c[r]["percent"] if c[r]["percent"] is not None else 100.0 for c in cores]
        ax.bar(x + (k - 1.5) * w, vals, w, label=r)
    ax.axhline(100, color="red", lw=1, ls="--", label="limit")
    top = max([c["max_percent"] or 100.0 for c in cores] + [100.0])
    ax.set_ylim(0, top * 1.25)
    ax.set_xticks(x)
    ax.set_xticklabels([str(c["id"]) for c in cores], fontsize=7,
                       rotation=90 if len(cores) > 20 else 0)
    ax.set_xlabel("core id")
    ax.set_ylabel("% of per-core limit")
    ax.set_title(f"per-core utilization: {shown_cores_caption(cores, every)}",
                 fontsize=10 if len(cores) < len(every) else 12, wrap=True)
    ax.legend(fontsize=8, loc="upper center", ncol=5)
    fig.tight_layout()
    return fig


def plot_core_bars(program: Program, report: dict[str, Any], path: Path) -> Path:
    """Grouped bars: percent of each limit per core (the fullest cores if there are many)."""
    plt = _plt()
    fig = core_bars_figure(program, report)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_raster(program: Program, spikes: dict[str, np.ndarray], path: Path) -> Path:
    """Spike raster of every population, stacked; thinned to at most MAX_RASTER_POINTS dots."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 5))
    base = 0
    ticks, labels = [], []
    pts = [(name, np.nonzero(np.asarray(spikes[name])))
           for name in program.network.populations if name in spikes]
    n_pts = sum(len(t) for _, (t, _) in pts)
    keep_every = max(1, int(np.ceil(n_pts / MAX_RASTER_POINTS)))
    n_rows = sum(program.network.populations[name].size for name, _ in pts)
    ms = float(np.clip(300.0 / max(n_rows, 1), 1.0, 8.0))
    for name, (t, i) in pts:
        size = program.network.populations[name].size
        ax.plot(t[::keep_every], i[::keep_every] + base, "|", ms=ms, mew=0.8, label=name)
        ticks.append(base + size / 2)
        labels.append(name)
        ax.axhline(base, color="grey", lw=0.3)
        base += size
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels)
    ax.set_xlabel("step")
    ax.set_ylabel("neuron (by population)")
    thin = f", every {keep_every}th spike" if keep_every > 1 else ""
    ax.set_title(f"spike raster ({n_pts} spikes{thin})")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def traffic_figure(act: Activity) -> Any:
    """The figure of `plot_traffic`: integer ticks naming cores (first core of each block)."""
    plt = _plt()
    from matplotlib.ticker import FuncFormatter

    t = act.traffic.astype(np.float64) if act.n_cores else np.zeros((1, 1))
    n = t.shape[0]
    block = max(1, int(np.ceil(n / MAX_TRAFFIC_CELLS)))
    if block > 1:
        m = int(np.ceil(n / block))
        pad = np.zeros((m * block, m * block))
        pad[:n, :n] = t
        t = pad.reshape(m, block, m, block).sum(axis=(1, 3))
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(np.log10(1 + t), cmap="magma", origin="upper", vmin=0)
    fig.colorbar(im, ax=ax, label="log10(1 + messages)")
    _int_ticks(ax)
    if block > 1:  # block k holds cores k*block .. (k+1)*block-1: label its first core
        first = FuncFormatter(lambda v, _pos: f"{int(round(v)) * block}")
        ax.xaxis.set_major_formatter(first)
        ax.yaxis.set_major_formatter(first)
    unit = "core" if block == 1 else f"core (blocks of {block})"
    ax.set_xlabel(f"destination {unit}")
    ax.set_ylabel(f"source {unit}")
    off = act.traffic.sum() - np.trace(act.traffic)
    ax.set_title(f"core-to-core messages: {int(off)} packets, {int(np.trace(act.traffic))} local")
    fig.tight_layout()
    return fig


def plot_traffic(act: Activity, path: Path) -> Path:
    """Messages between cores over the run (log color); cores grouped into blocks if many."""
    plt = _plt()
    fig = traffic_figure(act)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_energy(report: dict[str, Any], path: Path) -> Path:
    """Energy per step by component (bars) and energy and time per step over the run (lines)."""
    plt = _plt()
    cost = report["cost"]
    comp = cost["energy_pj"]["by_component_per_step"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    names = list(comp)
    a1.barh(names, [comp[k] for k in names], color="tab:orange")
    a1.set_xlabel("pJ per step")
    a1.set_title(f"energy per step: {cost['energy_pj']['per_step']:.4g} pJ")
    for y, k in enumerate(names):
        a1.text(comp[k], y, f" {comp[k]:.3g}", va="center", fontsize=7)
    ps = cost["per_step"]
    e, t = ps["energy_pj"], ps["time_ns"]
    xs = np.arange(len(e["values"])) * e["bin_steps"]
    a2.plot(xs, e["values"], color="tab:orange", label="energy (pJ)")
    a2.set_xlabel("step")
    a2.set_ylabel("pJ per step", color="tab:orange")
    a3 = a2.twinx()
    a3.plot(xs, t["values"], color="tab:blue", label="time (ns)")
    a3.set_ylabel("ns per step", color="tab:blue")
    a2.set_title("per step over the run" + (f" (means of {e['bin_steps']} steps)" if e["bin_steps"] > 1 else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def write_plots(program: Program, report: dict[str, Any], result: Any, out_dir: str | Path) -> list[Path]:
    """Write the profile's PNGs into `out_dir` (created) and return their paths.

    Each PNG is written atomically (`compiler.fileio`); `out_dir` being a file, or a PNG's
    name being taken by something that is not a regular file, is an `InputError`.
    """
    out = make_folder(out_dir)

    def png(name: str, plot: Any, *args: Any) -> Path:
        return write_atomic(out / name, lambda tmp: plot(*args, tmp))

    paths = [png("utilization_mesh.png", plot_mesh_heatmap, program, report),
             png("utilization_cores.png", plot_core_bars, program, report)]
    if result is not None:
        spikes = spikes_of(result)
        act = activity(program, spikes)
        paths.append(png("spike_raster.png", plot_raster, program, spikes))
        paths.append(png("traffic_matrix.png", plot_traffic, act))
        if report.get("cost"):
            paths.append(png("energy_breakdown.png", plot_energy, report))
    return paths
