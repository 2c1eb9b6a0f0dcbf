"""Scaling benchmark of the partitioners and placement (resource model of compiler.passes).

Builds random, layered, locally connected 2-D sheet and shuffled-sheet networks with ~100
synapses per neuron directly as NetworkIR (vectorized), then for each partitioner reports
time, peak memory (RSS high-water mark of a fresh child process), cores vs the lower
bound, and packets per spike. Each (net, method) runs in its own process so peak memory
is per run.

    .venv/bin/python bench/compile_scale.py --sizes 10000 100000 [--nets sheet shuffled]
        [--methods sequential greedy graph tile auto] [--target loihi1] [--json out.json]
        [--budget 30] [--artifact] [--profile] [--no-positions]

Columns: cores, lower bound (LB), cores / LB, packets per spike (own core counted),
packets to other cores per spike, partition / place / artifact (build + save of the
`.snnc`, with --artifact) seconds, their total, and the peak RSS. `--budget` is auto's
time budget (default 30 s, the compiler's default); `--profile` prints a cProfile of
partition + place + save to stderr.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from compiler.ir import NetworkIR, Population, Projection, SpikeSource  # noqa: E402
from compiler.target import CoreLimits, Target  # noqa: E402

FAN_IN = 100
POSITIONS = True  # sheets declare each neuron's (y, x) (`--no-positions`: graph only)


def loihi1() -> Target:
    """Loihi 1 limits (Davies et al. 2018; nengo-loihi's hardware constants)."""
    return Target(name="loihi1", chips=1, cores_per_chip=128, mesh=(8, 16), core=CoreLimits())


def _proj(name, pre, post, pre_idx, post_idx, rng) -> Projection:
    s = pre_idx.size
    return Projection(name=name, pre=pre, post=post, pre_idx=pre_idx.astype(np.int32),
                      post_idx=post_idx.astype(np.int32),
                      weight=rng.integers(1, 256, size=s, dtype=np.int32),
                      delay=rng.integers(0, 64, size=s, dtype=np.int16))


def _net(name: str, pops: list[Population], projs: list[Projection]) -> NetworkIR:
    return NetworkIR(name=name, seed=1, populations={p.name: p for p in pops},
                     projections={p.name: p for p in projs})


def random_net(n: int, seed: int = 0) -> NetworkIR:
    """One recurrent lif population, FAN_IN uniformly random presynaptic neurons each."""
    rng = np.random.default_rng(seed)
    post = np.repeat(np.arange(n, dtype=np.int32), FAN_IN)
    pre = rng.integers(0, n, size=post.size, dtype=np.int32)
    return _net("random", [Population("a", n, "lif")], [_proj("a_a", "a", "a", pre, post, rng)])


def layered_net(n: int, seed: int = 0) -> NetworkIR:
    """A spike source feeding 4 lif layers of n/4 neurons, FAN_IN random inputs each."""
    rng = np.random.default_rng(seed)
    m = n // 4
    pops = [Population("in", m, "spike_source", source=SpikeSource("poisson", rate=0.05))]
    pops += [Population(f"l{i}", m, "lif") for i in range(4)]
    projs = []
    for i in range(4):
        post = np.repeat(np.arange(m, dtype=np.int32), FAN_IN)
        pre = rng.integers(0, m, size=post.size, dtype=np.int32)
        projs.append(_proj(f"p{i}", pops[i].name, pops[i + 1].name, pre, post, rng))
    return _net("layered", pops, projs)


def sheet_net(n: int, seed: int = 0, shuffle: bool = False) -> NetworkIR:
    """A 2-D torus sheet; each neuron gets synapses from its FAN_IN nearest neighbours.

    With `shuffle`, neuron ids are randomly permuted (same graph, no index locality).
    """
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n)))
    n = side * side
    r = np.arange(-6, 7)
    dx, dy = np.meshgrid(r, r)
    keep = (dx ** 2 + dy ** 2 <= 32) & ~((dx == 0) & (dy == 0))
    dx, dy = dx[keep], dy[keep]  # 100 offsets
    post = np.repeat(np.arange(n, dtype=np.int64), dx.size)
    x, y = post % side, post // side
    pre = (x + np.tile(dx, n)) % side + ((y + np.tile(dy, n)) % side) * side
    del x, y
    pos = np.stack(np.divmod(np.arange(n), side), axis=1).astype(np.float64)  # (y, x)
    if shuffle:
        perm = rng.permutation(n)
        pre, post = perm[pre], perm[post]
        pos[perm] = pos.copy()  # neuron perm[i] sits where neuron i sat
    pop = Population("s", n, "lif", positions=pos if POSITIONS else None)
    return _net("shuffled" if shuffle else "sheet", [pop], [_proj("s_s", "s", "s", pre, post, rng)])


NETS = {"random": random_net, "layered": layered_net, "sheet": sheet_net,
        "shuffled": lambda n: sheet_net(n, shuffle=True)}


def _save(net, target, part, pl) -> tuple[float, float]:
    """Seconds and MB to build the Program and save it as a `.snnc` artifact (temp dir)."""
    import tempfile

    from compiler.artifact import save_program
    from compiler.pipeline import build_cores
    from compiler.program import Program

    t0 = time.perf_counter()
    core_of, cores = build_cores(part.core_of, part.usage, pl, int(part.n_cores))
    prog = Program(network=net, target=target, core_of=core_of, cores=cores,
                   partitioner=part.method, report={"partition": {"cores": part.n_cores}})
    with tempfile.TemporaryDirectory(dir=os.environ.get("SNNC_BENCH_TMP")) as d:
        path = save_program(prog, os.path.join(d, "net.snnc"))
        size = os.path.getsize(path)
    return time.perf_counter() - t0, size / 1e6


def _one(net_name: str, n: int, method: str, target_name: str, q, opts: dict) -> None:
    from compiler.passes.partition import partition
    from compiler.passes.place import place

    target = loihi1()
    if target_name != "loihi1":
        from compiler.targets import load_target  # provided by the targets module
        target = load_target(target_name)
    target.chips = 10 ** 6  # measure partition quality, not chip count
    t0 = time.perf_counter()
    net = NETS[net_name](n)
    t_build = time.perf_counter() - t0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prof = None
    if opts.get("profile"):
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    t0 = time.perf_counter()
    part = partition(net, target, method=method, time_budget_s=opts.get("budget", 30.0))
    t_part = time.perf_counter() - t0
    t0 = time.perf_counter()
    pl = place(net, part, target)
    t_place = time.perf_counter() - t0
    t_art, art_mb = 0.0, 0.0
    if opts.get("artifact"):
        t_art, art_mb = _save(net, target, part, pl)
    if prof is not None:
        import pstats
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lb = part.stats["lower_bound"]["cores"]
    q.put({"net": net_name, "n": sum(p.size for p in net.neuron_populations),
           "synapses": sum(p.n_synapses for p in net.projections.values()),
           "method": part.method, "cores": part.n_cores, "lb": lb,
           "cores_over_lb": round(part.n_cores / max(lb, 1), 3),
           "packets_per_spike": round(part.stats["packets_per_spike"], 3),
           "intercore_packets_per_spike": round(part.stats["intercore_packets_per_spike"], 3),
           "artifact_s": round(t_art, 2), "artifact_mb": round(art_mb, 1),
           "total_s": round(t_part + t_place + t_art, 2),
           "hops_per_spike": round(pl.stats["hops_per_spike"], 3),
           "build_s": round(t_build, 2), "partition_s": round(t_part, 2),
           "place_s": round(t_place, 2), "peak_rss_gib": round(rss / 2 ** 20, 2),
           "net_rss_gib": round(rss0 / 2 ** 20, 2),
           "graph_cut_fraction": part.stats.get("graph_cut_fraction"),
           "graph_refine": part.stats.get("graph_refine"),
           "candidates": part.stats.get("candidates")})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--methods", nargs="+", default=["sequential", "greedy", "graph", "tile", "auto"])
    ap.add_argument("--target", default="loihi1")
    ap.add_argument("--json", default=None)
    ap.add_argument("--budget", type=float, default=30.0, help="auto's time budget (s)")
    ap.add_argument("--artifact", action="store_true", help="also build and save the artifact")
    ap.add_argument("--profile", action="store_true", help="cProfile to stderr")
    ap.add_argument("--no-positions", action="store_true",
                    help="sheets without declared neuron positions (the graph alone)")
    args = ap.parse_args(argv)
    global POSITIONS
    POSITIONS = not args.no_positions
    opts = {"budget": args.budget, "artifact": args.artifact, "profile": args.profile}
    rows = []
    hdr = (f"{'net':9} {'N':>8} {'method':17} {'cores':>6} {'LB':>6} {'x LB':>5} "
           f"{'pkt/spk':>7} {'other':>6} {'part s':>7} {'place s':>7} {'art s':>6} "
           f"{'total s':>7} {'peak GiB':>8}")
    print(hdr, flush=True)
    ctx = mp.get_context("fork")
    for n in args.sizes:
        for net_name in args.nets:
            for method in args.methods:
                q = ctx.Queue()
                p = ctx.Process(target=_one, args=(net_name, n, method, args.target, q, opts))
                p.start()
                p.join()
                if p.exitcode != 0 or q.empty():
                    print(f"{net_name:9} {n:>8} {method:17} failed (exit {p.exitcode})")
                    continue
                r = q.get()
                rows.append(r)
                print(f"{r['net']:9} {r['n']:>8} {r['method']:17} {r['cores']:>6} {r['lb']:>6} "
                      f"{r['cores_over_lb']:>5} {r['packets_per_spike']:>7} "
                      f"{r['intercore_packets_per_spike']:>6} {r['partition_s']:>7} "
                      f"{r['place_s']:>7} {r['artifact_s']:>6} {r['total_s']:>7} "
                      f"{r['peak_rss_gib']:>8}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
