"""Global neuron ids and projection groups that every resource count is built on.

Only `lif` populations occupy cores; `spike_source` populations are host inputs. Lif
neurons get global ids in population order (the partitioners' "gids").
"""

from __future__ import annotations

from collections import defaultdict

from ...ir import NetworkIR, Projection


def lif_offsets(net: NetworkIR) -> tuple[dict[str, int], int]:
    """Global ids of lif neurons: population -> offset (in population order), and the total."""
    off, n = {}, 0
    for p in net.neuron_populations:
        off[p.name] = n
        n += p.size
    return off, n


def all_offsets(net: NetworkIR) -> tuple[dict[str, int], int]:
    """Global ids over every population (sources included): population -> offset, total."""
    off, n = {}, 0
    for p in net.populations.values():
        off[p.name] = n
        n += p.size
    return off, n


def on_chip_projections(net: NetworkIR) -> list[Projection]:
    """Projections whose postsynaptic population lives on cores (post is lif)."""
    return [pr for pr in net.projections.values() if not net.populations[pr.post].is_source]


def by_pre(projs: list[Projection]) -> dict[str, list[Projection]]:
    """Projections grouped by presynaptic population (first-seen order)."""
    out: dict[str, list[Projection]] = defaultdict(list)
    for pr in projs:
        out[pr.pre].append(pr)
    return out


def by_post(projs: list[Projection]) -> dict[str, list[Projection]]:
    """Projections grouped by postsynaptic population (first-seen order)."""
    out: dict[str, list[Projection]] = defaultdict(list)
    for pr in projs:
        out[pr.post].append(pr)
    return out
