"""Core sharing benchmark: cores used vs the lower bound on multi-population networks.

Each case is compiled's partition step with every partitioner; columns: cores, lower
bound (LB) and the limit it comes from, cores / LB, cores / sequential's, and seconds.

    .venv/bin/python bench/core_sharing.py [--cases chain1035 mixed small40 pops1180 ...]
        [--methods auto sequential greedy graph]

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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--methods", nargs="+", default=["sequential", "auto", "greedy", "graph"])
    args = ap.parse_args(argv)
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
