"""Benchmark: ms per step of the CPU backend vs a hand-written Lava (fixed_pt) run.

Network: N recurrently connected LIF neurons, 100 random synapses per neuron (mixed
weights), a per-neuron bias that makes ~3% of the neurons spike per step. Both simulators
first run WARMUP steps (the start from rest is synchronous), then `--steps` are timed.
Usage: python bench/cpu_step.py [--quick] [--sizes 1000,4000,16000,100000] [--steps 200]
--quick skips Lava at N = 16000 (which takes minutes and ~5 GB).
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


def cpu_program(net: dict, precision: str):
    from compiler.ir import LIFParams, NetworkIR, Population, Projection
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
    ir.projections = {"r": Projection("r", "a", "a", net["pre"], net["post"], w,
                                      np.zeros(w.shape[0], np.int16), weight_exp=WEIGHT_EXP)}
    return Program(network=ir, target=Target("bench"), core_of={}, cores=[])


def time_cpu(net: dict, precision: str, steps: int,
             repeat: int = 1) -> tuple[float, float, np.ndarray, float]:
    """(wall ms/step, process-CPU ms/step, spikes, setup s) of the CPU backend.

    With repeat > 1 the timed window is run again (state continues) and the fastest counts.
    """
    from backends.cpu import Simulator

    t0 = time.perf_counter()
    sim = Simulator(cpu_program(net, precision), probes=[])
    setup = time.perf_counter() - t0
    warm = sim.run(WARMUP)
    ms = cpu_ms = float("inf")
    first = None
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        res = sim.run(steps)
        ms = min(ms, 1e3 * (time.perf_counter() - t0) / steps)
        cpu_ms = min(cpu_ms, 1e3 * (time.process_time() - c0) / steps)
        first = res if first is None else first
    return ms, cpu_ms, np.concatenate([warm.spikes["a"], first.spikes["a"]]), setup


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,4000,16000,100000")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1,
                    help="time the CPU window this many times, keep the fastest")
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
    sizes = [int(s) for s in args.sizes.split(",")]
    head = (f"{'N':>7} {'synapses':>9} {'activity':>9} {'cpu fixed':>10} {'(proc)':>8} "
            f"{'cpu float':>10} {'lava fixed':>11} {'lava/cpu':>9} {'same spikes':>11}")
    print(f"ms/step (wall) over {args.steps} steps after {WARMUP} warm-up steps; (proc) = "
          "CPU time of this process per step; activity = mean fraction of neurons spiking per "
          f"timed step (fixed); lava/cpu = wall ratio, fixed precision; CPU: best of "
          f"{args.repeat}, Lava: one run")
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(head)
    for n in sizes:
        net = build(n, args.seed)
        fixed_ms, fixed_cpu, spikes, _ = time_cpu(net, "fixed", args.steps, args.repeat)
        float_ms, _, _, _ = time_cpu(net, "float", args.steps, args.repeat)
        lava = None
        if not args.no_lava and n <= lava_max:
            lava = time_lava(n, args.steps, args.seed, read=n <= 1000, timeout=args.timeout)
        lava_ms = f"{lava['ms_per_step']:.2f}" if lava else "-"
        ratio = f"{lava['ms_per_step'] / fixed_ms:.0f}x" if lava else "-"
        same = "-"
        if lava and "spikes" in lava:
            same = "yes" if np.array_equal(lava["spikes"], spikes) else "NO"
        print(f"{n:>7} {n * FANOUT:>9} {100 * spikes[WARMUP:].mean():>8.2f}% {fixed_ms:>10.3f} "
              f"{fixed_cpu:>8.3f} {float_ms:>10.3f} {lava_ms:>11} {ratio:>9} {same:>11}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
