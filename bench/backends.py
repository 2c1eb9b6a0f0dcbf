"""Backend speed: cpu vs lava (grouped, core, chip) vs a hand-written Lava Dense+LIF net.

    .venv/bin/python bench/backends.py [--sizes 100,1000,4000] [--kinds sparse,dense] [--steps 100]
    .venv/bin/python bench/backends.py --example examples/brunel.yaml --runners cpu,grouped,core

`--example PATH`: a network file compiled for its own target instead; one row per runner with
its Lava processes (and per compiled core), construction, run and total seconds, and whether
the spikes equal the cpu backend's (or the error, e.g. a plan refused before Lava starts).

Each network: a poisson source of N/4 neurons (rate 0.05) into N LIF neurons, plus recurrent
LIF -> LIF synapses; `sparse` has ~20 synapses per neuron and projection (recurrent ones with
delays 0..3), `dense` connects
pairs with probability 0.5. Neurons are cut into cores of 1024 in index order. Prints one row
per (N, kind, runner): total wall seconds, wall per step, Lava's run() per step, and whether the
spikes equal the cpu backend's. `hand` is the same network written directly in Lava (one
RingBuffer, one synapse process per projection of the kind `grouped` picks, one stock LIF, no
readout): the `grouped` overhead ratio is lava-grouped total / hand total.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.ir import (  # noqa: E402
    LIFParams,
    NetworkIR,
    Population,
    Projection,
    SpikeSource,
)
from compiler.program import Core, Program  # noqa: E402
from compiler.sources import source_spikes  # noqa: E402
from compiler.target import Target  # noqa: E402

CORE_NEURONS = 1024


def make_net(n: int, kind: str, seed: int = 1) -> NetworkIR:
    """The benchmark network (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_in = max(10, n // 4)
    pops = {
        "inp": Population("inp", n_in, "spike_source", source=SpikeSource("poisson", rate=0.05)),
        "hid": Population("hid", n, "lif", lif=LIFParams(du=800, dv=400, vth=60, bias_mant=0)),
    }

    def proj(name: str, pre: str, n_pre: int, wrange: tuple[int, int], delays: bool) -> Projection:
        p = 0.5 if kind == "dense" else min(1.0, 20 / n_pre)
        if p >= 0.5:
            mask = rng.random((n_pre, n)) < p
            pre_idx, post_idx = np.nonzero(mask)
        else:  # sample ~p * n_pre pre neurons per post neuron without a dense mask
            k = max(1, int(round(p * n_pre)))
            post_idx = np.repeat(np.arange(n), k)
            pre_idx = np.concatenate([rng.choice(n_pre, k, replace=False) for _ in range(n)])
        m = pre_idx.size
        weight = rng.integers(wrange[0], wrange[1], m).astype(np.int32)
        delay = rng.integers(0, 4, m).astype(np.int16) if delays else np.zeros(m, np.int16)
        return Projection(name, pre, "hid", pre_idx.astype(np.int32), post_idx.astype(np.int32),
                          weight, delay, weight_exp=0, num_weight_bits=8)

    # mixed-sign weights giving ~3-10 % of hid spiking per step at every size
    w_in, w_rec = ((-250, 200), (-200, 100)) if kind == "sparse" else ((-40, 50), (-10, 8))
    projs = {"inp_hid": proj("inp_hid", "inp", n_in, w_in, False),
             "hid_hid": proj("hid_hid", "hid", n, w_rec, kind == "sparse")}
    return NetworkIR(f"{kind}{n}", precision="fixed", seed=seed, populations=pops, projections=projs)


def make_program(net: NetworkIR) -> Program:
    """Sequential fill: neuron i of each LIF population on core i // 1024."""
    core_of, cores = {}, []
    for pop in net.neuron_populations:
        local = np.arange(pop.size) // CORE_NEURONS
        for c in range(int(local.max()) + 1):
            cid = len(cores)
            cores.append(Core(id=cid, chip=0, core=cid, neurons={pop.name: np.flatnonzero(local == c)}))
        core_of[pop.name] = (local + len(cores) - int(local.max()) - 1).astype(np.int32)
    return Program(network=net, target=Target("bench"), core_of=core_of, cores=cores)


def hand_written(n: int, kind: str, steps: int) -> dict[str, float]:
    """The same network written directly in Lava: RingBuffer -> synapses -> LIF <- synapses <- LIF,
    with the synapse process types the `grouped` lowering picks (Dense, Sparse, Delay*)."""
    import scipy.sparse as sps
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.sparse.process import DelaySparse, Sparse

    from backends.lava.plan import choose_kind

    t0 = time.perf_counter()
    net = make_net(n, kind)
    hid, inp = net.populations["hid"], net.populations["inp"]
    data = source_spikes(inp, steps, net.seed).T.astype(np.int32)
    src = RingBuffer(data=data)
    q = hid.lif
    lif = LIF(shape=(n,), du=int(q.du), dv=int(q.dv), vth=int(q.vth), bias_mant=0, bias_exp=0)
    for pr, pre in ((net.projections["inp_hid"], src), (net.projections["hid_hid"], lif)):
        n_pre = net.populations[pr.pre].size
        syn_kind = choose_kind(pr.n_synapses, (n, n_pre), bool(pr.delay.max() > 0))
        coo = (pr.post_idx, pr.pre_idx)
        w = sps.csr_matrix((pr.weight.astype(np.int64), coo), shape=(n, n_pre))
        dl = sps.csr_matrix((pr.delay.astype(int), coo), shape=(n, n_pre))
        if syn_kind == "dense":
            d = Dense(weights=w.toarray())
        elif syn_kind == "sparse":
            d = Sparse(weights=w)
        elif syn_kind == "delay_dense":
            d = DelayDense(weights=w.toarray(), delays=dl.toarray(), max_delay=int(pr.delay.max()))
        else:
            d = DelaySparse(weights=w, delays=dl, max_delay=int(pr.delay.max()))
        pre.s_out.connect(d.s_in)
        d.a_out.connect(lif.a_in)
    t1 = time.perf_counter()
    try:
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        t2 = time.perf_counter()
    finally:
        lif.stop()
    return {"build_s": t1 - t0, "run_s": t2 - t1, "total_s": time.perf_counter() - t0}


def run_hand(n: int, kind: str, steps: int, timeout: float) -> dict[str, float] | None:
    """hand_written in a child process under a timeout (Lava may hang)."""
    cmd = [sys.executable, __file__, "--hand", f"{n},{kind},{steps}"]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                             start_new_session=True)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t0  # with interpreter start and Lava import
    return res


def run_example(path: str, runners: list[str], steps: int, timeout: float) -> list[dict]:
    """The `--example` table (see the module docstring)."""
    import backends.cpu as cpu
    import backends.lava as lava
    from compiler.errors import BackendError
    from runtime.api import compile as compile_net

    t0 = time.perf_counter()
    program = compile_net(path)
    n_cores = len(program.cores)
    print(f"{path}: {n_cores} cores on {len({c.chip for c in program.cores})} chip(s), "
          f"compiled in {time.perf_counter() - t0:.1f} s; load {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    ref = cpu.run(program, steps, [])
    rows = [{"runner": "cpu", "total_s": time.perf_counter() - t0, "processes": 0,
             "spikes_equal": "ref"}]
    for gran in (g for g in ("grouped", "core", "chip") if g in runners):
        try:
            res = lava.run(program, steps, [], granularity=gran, timeout_s=timeout)
            same = all(np.array_equal(res.spikes[p], ref.spikes[p]) for p in ref.spikes)
            rows.append({"runner": gran, "total_s": res.wall_s, "processes": res.meta["processes"],
                         "build_s": res.meta["lava_build_s"], "run_s": res.meta["lava_run_s"],
                         "spikes_equal": "yes" if same else "NO"})
        except BackendError as exc:
            rows.append({"runner": gran, "total_s": float("nan"), "processes": 0,
                         "spikes_equal": f"error: {exc}"})
    print(f"{'runner':<8} {'procs':>5} {'per core':>8} {'build s':>8} {'run s':>7} "
          f"{'total s':>8} spikes==cpu")
    for r in rows:
        build = f"{r['build_s']:8.1f}" if "build_s" in r else f"{'-':>8}"
        run = f"{r['run_s']:7.1f}" if "run_s" in r else f"{'-':>7}"
        print(f"{r['runner']:<8} {r['processes']:>5} {r['processes'] / n_cores:8.2f} {build} "
              f"{run} {r['total_s']:8.1f} {r['spikes_equal']}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,4000,16000")
    ap.add_argument("--kinds", default="sparse,dense")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--runners", default="cpu,grouped,core,hand")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--hand", help=argparse.SUPPRESS)
    ap.add_argument("--example", help="a network file instead of the generated networks")
    args = ap.parse_args(argv)
    if args.example:
        rows = run_example(args.example, args.runners.split(","), args.steps, args.timeout)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return 0
    if args.hand:
        n, kind, steps = args.hand.split(",")
        print(json.dumps(hand_written(int(n), kind, int(steps))))
        return 0

    import backends.cpu as cpu
    import backends.lava as lava
    from compiler.errors import BackendError

    runners = args.runners.split(",")
    rows = []
    head = f"{'N':>6} {'kind':<6} {'runner':<8} {'synapses':>10} {'procs':>5} {'total s':>8} " \
           f"{'ms/step':>8} {'run ms/step':>11} {'spikes==cpu':>11}"
    print(head)
    print("-" * len(head), flush=True)
    for n in [int(s) for s in args.sizes.split(",")]:
        for kind in args.kinds.split(","):
            net = make_net(n, kind)
            program = make_program(net)
            syn = sum(p.n_synapses for p in net.projections.values())
            t0 = time.perf_counter()
            ref = cpu.run(program, args.steps, [])
            t_cpu = time.perf_counter() - t0
            results = {"cpu": (t_cpu, None, 1, "ref")}
            for gran in ("grouped", "core", "chip"):
                if gran not in runners:
                    continue
                try:
                    res = lava.run(program, args.steps, [], granularity=gran, timeout_s=args.timeout)
                    same = all(np.array_equal(res.spikes[p], ref.spikes[p]) for p in ref.spikes)
                    results[gran] = (res.wall_s, res.meta["lava_run_s"], res.meta["processes"],
                                     "yes" if same else "NO")
                except BackendError as exc:
                    results[gran] = (float("nan"), None, 0, f"error: {str(exc)[:60]}")
            if "hand" in runners:
                h = run_hand(n, kind, args.steps, args.timeout)
                results["hand"] = ((h["wall_s"], h["run_s"], 4, "-") if h else
                                   (float("nan"), None, 4, "timeout/error"))
            for name, (total, run_s, procs, same) in results.items():
                if name not in runners:
                    continue
                run_ms = f"{1e3 * run_s / args.steps:11.2f}" if run_s is not None else f"{'-':>11}"
                print(f"{n:>6} {kind:<6} {name:<8} {syn:>10} {procs:>5} {total:8.2f} "
                      f"{1e3 * total / args.steps:8.2f} {run_ms} {same:>11}", flush=True)
                rows.append({"n": n, "kind": kind, "runner": name, "synapses": syn, "processes": procs,
                             "total_s": total, "run_s": run_s, "steps": args.steps, "spikes_equal": same,
                             "spikes_per_step": float(ref.spikes["hid"].sum()) / args.steps})
            if "grouped" in results and "hand" in results:
                ratio = results["grouped"][0] / results["hand"][0]
                print(f"{'':>6} {kind:<6} grouped/hand total ratio: {ratio:.2f}  "
                      f"(hid spikes/step {ref.spikes['hid'].sum() / args.steps:.1f})", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
