"""Benchmark: ms per step of the CPU backend's engines (compiled, numpy) and of Lava (fixed_pt).

Network: N recurrently connected LIF neurons, 100 random synapses per neuron (mixed
weights), a per-neuron bias that makes ~3% of the neurons spike per step. Every simulator
first runs WARMUP steps (the start from rest is synchronous; the compiled engine's first
run includes loading or compiling its kernels, reported as "first s"), then `--steps` are
timed. Each engine row says whether its spikes equal the numpy engine's.
Usage: python bench/cpu_step.py [--quick] [--sizes 1000,4000,16000,100000] [--steps 200]
       [--engine compiled,numpy] [--threads 1,2] [--no-lava] [--stdp] [--big] [--parts]
--quick skips Lava at N = 16000 (which takes minutes and ~5 GB); --stdp adds a row with STDP
on the recurrent synapses (learning step vs static step); --big runs 1M neurons / 100M
synapses on the compiled engine and reports the engine's resident bytes per synapse;
--parts prints where each row's step time goes (the simulator's --timing parts).
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FANOUT = 100
WARMUP = 50
DU, DV, VTH, BIAS_EXP, WEIGHT_EXP = 4095, 0, 10, 0, 0


def build(n: int, seed: int = 0) -> dict:
    """The benchmark network as arrays (shared by the CPU and the Lava runs)."""
    rng = np.random.default_rng(seed)
    pre = np.repeat(np.arange(n, dtype=np.int32), FANOUT)
    post = rng.integers(0, n, n * FANOUT, dtype=np.int32)
    # even weights -4..2 (exact in mixed 8 bits), mean -1: net inhibition keeps the rate stable
    weight = (2 * rng.integers(-2, 2, n * FANOUT)).astype(np.int32)
    bias = rng.integers(100, 200, n)  # against the recurrent inhibition: ~3% spike per step
    return {"n": n, "pre": pre, "post": post, "weight": weight, "bias": bias}


STDP = {"a_plus": 1, "a_minus": 1, "tau_plus": 8, "tau_minus": 8, "t_epoch": 1}


def cpu_program(net: dict, precision: str, stdp: bool = False):
    """The benchmark network as a Program; `stdp`: the recurrent synapses learn (STDP)."""
    from compiler.ir import LIFParams, NetworkIR, Plasticity, Population, Projection
    from compiler.program import Program
    from compiler.target import Target

    n = net["n"]
    w, bias = net["weight"], net["bias"]
    if precision == "fixed":
        params = LIFParams(du=DU, dv=DV, vth=VTH, bias_mant=bias, bias_exp=BIAS_EXP)
    else:  # the same dynamics divided by 2**6 (Lava's float LIF has no scaling)
        from backends.cpu import effective_weights

        w = effective_weights(w, 8).astype(np.float64) * 2.0**WEIGHT_EXP
        params = LIFParams(du=(DU + 1) / 4096, dv=DV / 4096, vth=VTH, bias_mant=bias / 64.0)
    ir = NetworkIR(name=f"bench{n}", precision=precision)
    ir.populations = {"a": Population("a", n, "lif", lif=params)}
    plasticity = Plasticity("stdp", dict(STDP), None) if stdp else None
    ir.projections = {"r": Projection("r", "a", "a", net["pre"], net["post"], w,
                                      np.zeros(w.shape[0], np.int16), weight_exp=WEIGHT_EXP,
                                      plasticity=plasticity)}
    return Program(network=ir, target=Target("bench"), core_of={}, cores=[])


def time_cpu(net: dict, precision: str, steps: int, repeat: int = 1, engine: str = "numpy",
             threads: int | None = None, stdp: bool = False, parts: bool = False) -> dict:
    """ms/step (wall, process CPU), spikes, first-run and setup seconds of one engine.

    With repeat > 1 the timed window is run again (state continues) and the fastest counts.
    `parts`: also the wall ms/step of each part of that run (the simulator's `--timing`).
    """
    from backends.cpu.compiled import make_simulator

    t0 = time.perf_counter()
    prog = cpu_program(net, precision, stdp=stdp)
    sim = make_simulator(prog, [], engine=engine, threads=threads)
    setup = time.perf_counter() - t0
    sim.timing = parts
    t0 = time.perf_counter()
    warm = sim.run(WARMUP)
    first = time.perf_counter() - t0
    ms = cpu_ms = float("inf")
    res0 = None
    split: dict[str, float] = {}
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        res = sim.run(steps)
        wall = 1e3 * (time.perf_counter() - t0) / steps
        if wall < ms:
            split = {k: 1e3 * v / steps for k, v in res.meta.get("timing", {}).items() if v}
        ms = min(ms, wall)
        cpu_ms = min(cpu_ms, 1e3 * (time.process_time() - c0) / steps)
        res0 = res if res0 is None else res0
    bps = getattr(sim, "resident_bytes", 0) / max(1, net["pre"].shape[0])
    return {"ms": ms, "cpu_ms": cpu_ms, "spikes": np.concatenate([warm.spikes["a"], res0.spikes["a"]]),
            "first_s": first, "setup_s": setup, "bytes_per_synapse": bps, "parts": split}


def lava_worker(n: int, steps: int, seed: int, out: str, read: bool) -> None:
    """Run the benchmark network in Lava (Dense + LIF, fixed_pt); pickle timings (and spikes)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.lif.process import LIF

    net = build(n, seed)
    w = np.zeros((n, n), dtype=np.int32)  # Lava Dense: (post, pre)
    np.add.at(w, (net["post"], net["pre"]), net["weight"])
    lif = LIF(shape=(n,), du=DU, dv=DV, vth=VTH, bias_mant=net["bias"], bias_exp=BIAS_EXP)
    dense = Dense(weights=w, weight_exp=WEIGHT_EXP, num_weight_bits=8)
    del w
    lif.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    sink = None
    if read:
        sink = Sink(shape=(n,), buffer=WARMUP + steps)
        lif.s_out.connect(sink.a_in)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    result = {}
    try:
        t0 = time.perf_counter()
        lif.run(condition=RunSteps(num_steps=1), run_cfg=cfg)  # compile + start processes
        result["setup_s"] = time.perf_counter() - t0
        lif.run(condition=RunSteps(num_steps=WARMUP - 1), run_cfg=cfg)
        t0 = time.perf_counter()
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
        result["ms_per_step"] = 1e3 * (time.perf_counter() - t0) / steps
        if sink is not None:
            result["spikes"] = sink.data.get().T.astype(bool)
    finally:
        lif.stop()
    Path(out).write_bytes(pickle.dumps(result))


def time_lava(n: int, steps: int, seed: int, read: bool, timeout: float) -> dict | None:
    """lava_worker in a subprocess (own process group, killed on timeout); None if Lava failed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lava.pkl"
        cmd = [sys.executable, __file__, "--lava-worker", str(n), str(steps), str(seed), str(out)]
        if read:
            cmd.append("--read")
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            print(f"  Lava N={n}: timed out after {timeout:.0f} s", file=sys.stderr)
            return None
        if proc.returncode != 0 or not out.exists():
            print(f"  Lava N={n} failed:\n{log.decode(errors='replace')[-2000:]}", file=sys.stderr)
            return None
        return pickle.loads(out.read_bytes())


def engine_rows(net: dict, args: argparse.Namespace) -> list[tuple[str, dict]]:
    """(label, time_cpu result) of every engine and thread count asked for, numpy first."""
    rows = []
    for engine in args.engine.split(","):
        for threads in ([None] if engine == "numpy" else [int(t) for t in args.threads.split(",")]):
            label = engine if threads is None else f"{engine} {threads}t"
            for precision in ("fixed", "float"):
                rows.append((f"{label} {precision}", time_cpu(net, precision, args.steps,
                                                              args.repeat, engine, threads,
                                                              parts=args.parts)))
            if args.stdp:
                rows.append((f"{label} fixed+stdp", time_cpu(net, "fixed", args.steps, args.repeat,
                                                             engine, threads, stdp=True)))
    return rows


def print_rows(n: int, rows: list[tuple[str, dict]], lava: dict | None) -> None:
    """One line per engine: ms/step, CPU ms/step, first-run s, equality with the numpy engine."""
    ref = {label.split()[-1]: r["spikes"] for label, r in rows if label.startswith("numpy")}
    for label, r in rows:
        kind = label.split()[-1]
        same = "yes" if kind in ref and np.array_equal(ref[kind], r["spikes"]) else (
            "NO" if kind in ref else "-")
        act = 100 * r["spikes"][WARMUP:].mean()
        print(f"{n:>7} {n * FANOUT:>9} {act:>8.2f}% {label:>22} {r['ms']:>9.3f} "
              f"{r['cpu_ms']:>8.3f} {r['first_s']:>8.2f} {same:>6} "
              f"{r['bytes_per_synapse']:>6.1f}", flush=True)
        if r["parts"]:
            print(f"{'':>40} parts, ms/step wall: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in r["parts"].items()), flush=True)
    if lava is not None:
        fixed = [r for label, r in rows if label.endswith(" fixed")]
        same = "-"
        if "spikes" in lava and fixed:
            same = "yes" if np.array_equal(lava["spikes"], fixed[0]["spikes"]) else "NO"
        print(f"{n:>7} {n * FANOUT:>9} {'':>9} {'lava fixed_pt':>22} {lava['ms_per_step']:>9.3f} "
              f"{'-':>8} {lava.get('setup_s', 0):>8.2f} {same:>6} {'-':>6}", flush=True)


def big_case(args: argparse.Namespace) -> None:
    """1M neurons / 100M synapses on the compiled engine: ms/step and resident bytes/synapse."""
    import resource

    n = 1_000_000
    net = build(n, args.seed)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for threads in [int(t) for t in args.threads.split(",")]:
        r = time_cpu(net, "fixed", max(10, args.steps // 10), 1, "compiled", threads)
        print(f"{n:>7} {n * FANOUT:>9} {100 * r['spikes'][WARMUP:].mean():>8.2f}% "
              f"{f'compiled {threads}t fixed':>22} {r['ms']:>9.3f} {r['cpu_ms']:>8.3f} "
              f"{r['first_s']:>8.2f} {'-':>6} {r['bytes_per_synapse']:>6.1f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS {peak / 2**20:.1f} GiB (network arrays {rss0 / 2**20:.1f} GiB before "
          "the simulator was built; the build sorts the synapses once)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,4000,16000,100000")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1,
                    help="time the CPU window this many times, keep the fastest")
    ap.add_argument("--engine", default="numpy,compiled", help="cpu engines, comma separated")
    ap.add_argument("--threads", default=str(os.cpu_count() or 1),
                    help="thread counts of the compiled engine, comma separated")
    ap.add_argument("--stdp", action="store_true", help="also time STDP on the recurrent synapses")
    ap.add_argument("--parts", action="store_true",
                    help="also print each row's wall ms/step per part (delivery, neurons, ...)")
    ap.add_argument("--big", action="store_true", help="only the 1M neuron / 100M synapse case")
    ap.add_argument("--quick", action="store_true", help="skip Lava at N > 4000")
    ap.add_argument("--no-lava", action="store_true", help="CPU only")
    ap.add_argument("--lava-max", type=int, default=16000, help="largest N run in Lava")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per Lava run")
    ap.add_argument("--lava-worker", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--read", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.lava_worker:
        n, steps, seed, out = args.lava_worker
        lava_worker(int(n), int(steps), int(seed), out, args.read)
        return 0
    lava_max = 4000 if args.quick else args.lava_max
    print(f"ms/step (wall) over {args.steps} steps after {WARMUP} warm-up steps; cpu = CPU time "
          "of this process per step (all threads); first s = the warm-up run (compiled: with "
          "loading the kernels); activity = mean fraction of neurons spiking per timed step; "
          "same = spikes equal to the numpy engine's (Lava: to the first fixed row); B/syn = "
          f"the compiled engine's resident bytes per synapse; CPU: best of {args.repeat}")
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'N':>7} {'synapses':>9} {'activity':>9} {'engine':>22} {'ms/step':>9} {'cpu':>8} "
          f"{'first s':>8} {'same':>6} {'B/syn':>6}")
    if args.big:
        big_case(args)
    for n in ([] if args.big else [int(s) for s in args.sizes.split(",")]):
        net = build(n, args.seed)
        rows = engine_rows(net, args)
        lava = None
        if not args.no_lava and n <= lava_max:
            lava = time_lava(n, args.steps, args.seed, read=n <= 1000, timeout=args.timeout)
        print_rows(n, rows, lava)
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
