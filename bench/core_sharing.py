"""Core sharing benchmark: cores used vs the lower bound on multi-population networks.

Each case is compiled's partition step with every partitioner; columns: cores, lower
bound (LB) and the limit it comes from, cores / LB, cores / sequential's, and seconds.

    .venv/bin/python bench/core_sharing.py [--cases chain1035 mixed small40 pops1180 ...]
        [--methods auto sequential greedy graph]
    .venv/bin/python bench/core_sharing.py --examples

`--examples`: every examples/*.yaml that compiles, whole pipeline (`snnc compile`'s
defaults): cores, the count-based bound of totals the compiler used before (`old LB`:
one input axon per (presynaptic neuron, postsynaptic population) pair, every synapse
list once; not a bound once populations share cores), the lower bound now (`LB`), cores
/ LB, the limit LB comes from, and the limit holding the cores used (cores at >= 90 %).

Cases (Loihi 1 limits unless said): `chain1035` 100 populations of 1035 lif neurons in a
chain, 20 random inputs each; `mixed` 100 populations of 1035..1228 neurons (1.01-1.2
cores), each fed by 3 random others, 30 random inputs from each; `small40` 300
populations of 40 neurons; `pops1180` 40 populations of 1180 neurons; `multichip`
examples/large_multichip.yaml (Kapoho Point: 8 Loihi 2 chips of 120 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from compiler.ir import LIFParams, NetworkIR, Population, Projection, SpikeSource  # noqa: E402
from compiler.pipeline import resolve_target  # noqa: E402


def _lif(name: str, size: int) -> Population:
    return Population(name, size, "lif", lif=LIFParams(du=1024, dv=256, vth=200))


def _proj(name: str, pre: str, post: str, pre_idx, post_idx) -> Projection:
    s = pre_idx.size
    return Projection(name, pre, post, pre_idx.astype(np.int32), post_idx.astype(np.int32),
                      np.full(s, 50, np.int32), np.ones(s, np.int16))


def _net(name: str, pops: list[Population], projs: list[Projection]) -> NetworkIR:
    net = NetworkIR(name=name, seed=1, target="loihi1")
    net.populations = {p.name: p for p in pops}
    net.projections = {p.name: p for p in projs}
    return net


def chain(n_pops: int, size: int, fan_in: int = 20, seed: int = 0) -> NetworkIR:
    """A Poisson source feeding a chain of equal lif populations, `fan_in` random inputs."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", size, "spike_source", source=SpikeSource("poisson", rate=0.05))]
    pops += [_lif(f"p{i:03d}", size) for i in range(n_pops)]
    projs = []
    for i in range(n_pops):
        post = np.repeat(np.arange(size), fan_in)
        pre = pops[i].name
        projs.append(_proj(f"x{i}", pre, pops[i + 1].name, rng.integers(0, size, post.size), post))
    return _net(f"chain{n_pops}x{size}", pops, projs)


def mixed(n_pops: int = 100, seed: int = 0) -> NetworkIR:
    """Populations of 1.01-1.2 Loihi 1 cores, each fed by 3 random others (30 inputs each)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1035, 1229, n_pops)
    pops = [_lif(f"q{i:03d}", int(s)) for i, s in enumerate(sizes)]
    projs = []
    for i, s in enumerate(sizes):
        for j in rng.choice(n_pops, 3, replace=False):
            post = np.repeat(np.arange(s), 10)
            projs.append(_proj(f"q{j:03d}_q{i:03d}", pops[j].name, pops[i].name,
                               rng.integers(0, sizes[j], post.size), post))
    return _net("mixed", pops, projs)


def multichip() -> NetworkIR:
    from compiler.frontend import load_network
    from compiler.passes.quantize import quantize

    net = load_network(os.path.join(ROOT, "examples", "large_multichip.yaml"))
    return quantize(net, weight_bits=8)[0]


CASES = {
    "chain1035": lambda: chain(100, 1035),
    "mixed": mixed,
    "small40": lambda: chain(300, 40, fan_in=10),
    "pops1180": lambda: chain(40, 1180),
    "multichip": multichip,
}


def run_case(name: str, methods: list[str]) -> list[dict]:
    from compiler.passes.partition import partition

    net = CASES[name]()
    target = resolve_target(net, None)
    rows, seq = [], None
    for m in methods:
        t0 = time.perf_counter()
        p = partition(net, target, m)
        dt = time.perf_counter() - t0
        lb = p.stats["lower_bound"]
        if m == "sequential":
            seq = p.n_cores
        rows.append({"case": name, "method": p.method, "cores": p.n_cores, "lb": lb["cores"],
                     "limit": lb["binding"], "time_s": dt,
                     "chips": -(-p.n_cores // target.cores_per_chip)})
    for r in rows:
        r["x_seq"] = r["cores"] / seq if seq else float("nan")
    return rows


def count_bound(net: NetworkIR, target) -> int:
    """The bound of totals the compiler used before: lif neurons, every (projection, pre)
    synapse list once, (pre neuron, post population) pairs, lif senders, over the caps."""
    from compiler.passes.resources import on_chip_projections, projection_format
    from compiler.passes.resources.encoding import synapse_list_bits

    cap = target.core
    bits, pairs, send = 0, {}, {}
    for pr in on_chip_projections(net):
        cnt = np.bincount(pr.pre_idx, minlength=net.populations[pr.pre].size)
        bits += int(synapse_list_bits(cnt[cnt > 0], projection_format(pr, target).bits).sum())
        key = (pr.pre, pr.post)
        pairs[key] = pairs[key] | (cnt > 0) if key in pairs else cnt > 0
        if not net.populations[pr.pre].is_source:
            send[pr.pre] = send[pr.pre] | (cnt > 0) if pr.pre in send else cnt > 0
    n_lif = sum(p.size for p in net.neuron_populations)
    demand = {"neurons": (n_lif, cap.neurons), "synapse_bits": (bits, cap.synapse_bits),
              "in_axons": (sum(int(v.sum()) for v in pairs.values()), cap.in_axons),
              "out_axons": (sum(int(v.sum()) for v in send.values()), cap.out_axons)}
    return max(-(-d // c) for d, c in demand.values())


def examples() -> None:
    """The table of every example that compiles (see the module docstring)."""
    import glob

    from compiler.errors import InputError
    from compiler.pipeline import compile_file
    from compiler.summary import binds_in_practice

    print(f"{'example':<20} {'cores':>6} {'old LB':>6} {'LB':>5} {'x LB':>5} "
          f"{'LB limit':<13} {'holds the cores (>= 90 %)':<34} {'s':>6}")
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml"))):
        t0 = time.perf_counter()
        try:
            prog = compile_file(path)
        except InputError:  # a target file, not a network
            continue
        dt = time.perf_counter() - t0
        rep, n = prog.report, len(prog.cores)
        b = binds_in_practice(prog) or {}
        held = f"{b['limit']} {b['cores']}/{b['of']}" if b.get("limit") else "none"
        print(f"{os.path.basename(path):<20} {n:>6} {count_bound(prog.network, prog.target):>6} "
              f"{rep.lower_bound:>5} {n / rep.lower_bound:>5.2f} "
              f"{rep.lower_bound_by_limit['binding']:<13} {held:<34} {dt:>6.1f}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--methods", nargs="+", default=["sequential", "auto", "greedy", "graph"])
    ap.add_argument("--examples", action="store_true", help="the table of the examples")
    args = ap.parse_args(argv)
    if args.examples:
        examples()
        return 0
    print(f"{'case':<10} {'method':<26} {'cores':>6} {'chips':>5} {'LB':>5} {'limit':<13} "
          f"{'x LB':>5} {'x seq':>6} {'s':>6}")
    for name in args.cases:
        for r in run_case(name, args.methods):
            print(f"{r['case']:<10} {r['method']:<26} {r['cores']:>6} {r['chips']:>5} "
                  f"{r['lb']:>5} {r['limit']:<13} {r['cores'] / r['lb']:>5.2f} "
                  f"{r['x_seq']:>6.2f} {r['time_s']:>6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
