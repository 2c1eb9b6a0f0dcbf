"""Benchmark: strong and weak scaling of the mpi backend on this machine, per-rank peak
memory, and a projection to 64-1024 ranks (a model, clearly marked as such).

Network: N fixed-point LIF neurons (80 % excitatory, 20 % inhibitory, Brunel-like), each
with FAN_IN random incoming synapses (delays 0..3) plus a Poisson drive source of N/10
neurons feeding 10 synapses per neuron; ~3 % of the neurons spike per step.
Each configuration runs `--steps` steps with `--ranks` K (one thread per rank) through
`snnc`'s launcher (`Backend.run(..., ranks=K)`, which starts the bundled mpiexec);
the run time is rank 0's wall time of the stepping loop (construction excluded, reported
apart), the per-rank compute / exchange / wait come from result.meta["mpi"].
Usage: python bench/mpi_scaling.py [--neurons 100000] [--weak 50000] [--steps 200]
       [--ranks 1,2] [--out bench/results/mpi_scaling.md]
`--draw N` only times parsing that network file whole (the frontend's synapse draws).
With `--build-ranks N1,N2,...` it instead builds each network of N neurons on the ranks
(`snnc run --build ranks`: the same network as a network file, random connectivity with
the same expected fan-in; no process holds it whole) and reports per-rank build time and
peak memory, the launching process's peak and ms/step; `--out` then appends that section.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAN_IN = 100
DRIVE_FAN_IN = 10
# MPI model of the projection (a cluster with an HPC interconnect, stated, not measured)
ALPHA_S = 2e-6  # latency per message
BETA_S_PER_BYTE = 1 / 10e9  # 10 GB/s per rank
ID_BYTES = 8


def build(n: int, seed: int = 0):
    """The benchmark network as a Program (no placement: ranks are cut by cost)."""
    from compiler.ir import LIFParams, NetworkIR, Population, Projection, SpikeSource
    from compiler.program import Program
    from compiler.target import Target

    rng = np.random.default_rng(seed)
    n_exc = int(0.8 * n)
    n_drive = max(n // 10, 1)
    lif = LIFParams(du=2048, dv=400, vth=1300, bias_mant=0)  # ~3 % spike per step
    pops = [Population("drive", n_drive, "spike_source",
                       source=SpikeSource(kind="poisson", rate=0.05)),
            Population("exc", n_exc, "lif", lif=lif), Population("inh", n - n_exc, "lif", lif=lif)]

    def random_proj(name: str, pre: str, n_pre: int, post: str, n_post: int, k: int, lo: int,
                    hi: int) -> Projection:
        post_idx = np.repeat(np.arange(n_post, dtype=np.int32), k)
        pre_idx = rng.integers(0, n_pre, post_idx.size, dtype=np.int32)
        w = rng.integers(lo, hi, post_idx.size).astype(np.int32)
        d = rng.integers(0, 4, post_idx.size).astype(np.int16)
        return Projection(name, pre, post, pre_idx, post_idx, w, d)

    k_e, k_i = int(0.8 * FAN_IN), FAN_IN - int(0.8 * FAN_IN)
    projs = [random_proj("d_e", "drive", n_drive, "exc", n_exc, DRIVE_FAN_IN, 60, 120),
             random_proj("d_i", "drive", n_drive, "inh", n - n_exc, DRIVE_FAN_IN, 60, 120)]
    for post, size in (("exc", n_exc), ("inh", n - n_exc)):
        projs.append(random_proj(f"e_{post}", "exc", n_exc, post, size, k_e, 0, 40))
        projs.append(random_proj(f"i_{post}", "inh", n - n_exc, post, size, k_i, -120, 0))
    net = NetworkIR(name=f"scaling{n}", precision="fixed", seed=seed, steps=100)
    net.populations = {p.name: p for p in pops}
    net.projections = {p.name: p for p in projs}
    return Program(network=net, target=Target("t"), core_of={}, cores=[])


def measure(n: int, ranks: int, steps: int) -> dict:
    """One run on `ranks` ranks: times, events, per-rank figures."""
    from backends import get_backend

    prog = build(n)
    t0 = time.perf_counter()
    res = get_backend("mpi").run(prog, steps, [], ranks=ranks, threads=1)
    total = time.perf_counter() - t0
    mpi = res.meta["mpi"]
    lif = sum(int(res.spikes[p].sum()) for p in ("exc", "inh"))
    return {"n": n, "ranks": ranks, "steps": steps, "run_s": res.wall_s, "total_s": total,
            "events": sum(res.meta["synops"].values()) / steps,
            "rate": lif / (n * steps), "mpi": mpi,
            "synapses": sum(r["synapses"] for r in mpi["per_rank"])}


def row(m: dict, base: dict | None, weak: bool) -> str:
    """One markdown table row; efficiency against `base` (1 rank)."""
    per = m["mpi"]["per_rank"]
    ms = 1e3 * m["run_s"] / m["steps"]
    eff = ""
    if base is not None:
        if weak:
            eff = f"{100 * base['run_s'] / m['run_s']:.0f} %"
        else:
            eff = f"{100 * base['run_s'] / (m['ranks'] * m['run_s']):.0f} %"
    parts = " / ".join(f"{r['compute_ms_per_step']:.2f}, {r['exchange_ms_per_step']:.2f}, "
                       f"{r['wait_ms_per_step']:.2f}" for r in per)
    mem = " / ".join(f"{r['peak_rss_mb']:.0f}" for r in per)
    return (f"| {m['n']:,} | {m['synapses']:,} | {m['ranks']} | {ms:.2f} | {eff} | "
            f"{m['mpi']['imbalance']:.2f} | {parts} | {mem} | {m['total_s']:.1f} |")


HEADER = ("| neurons | synapses | ranks | ms/step | efficiency | imbalance | "
          "per rank: compute, exchange, wait ms/step | peak MiB per rank | "
          "launch+build+run s |\n|---|---|---|---|---|---|---|---|---|")


def projection(m1: dict) -> list[str]:
    """Per-step time at 64..1024 ranks for a Hala-Point-sized network, from the measured
    single-rank cost per (neuron update + synaptic event) and the MPI model above."""
    per = m1["mpi"]["per_rank"][0]
    units = m1["n"] + m1["events"]
    c = 1e-3 * per["compute_ms_per_step"] / units  # s per neuron update or event
    n, syn, rate = 1.15e9, 128e9, m1["rate"]
    fan_out = syn / n
    per_syn = per["peak_rss_mb"] * 2**20 / max(m1["synapses"], 1)  # bytes, peak, 1 rank
    lines = ["| ranks | neurons/rank | synapses/rank | compute ms/step | exchange ms/step "
             "| total ms/step | efficiency vs compute only | peak GiB/rank |",
             "|---|---|---|---|---|---|---|---|"]
    for p in (64, 128, 256, 512, 1024):
        compute = c * (n + n * rate * fan_out) / p
        spikes = n * rate / p  # per rank and step
        targets = min(fan_out, p - 1)  # ranks a spike goes to (random connectivity)
        counts = ALPHA_S * np.log2(p) + BETA_S_PER_BYTE * ID_BYTES * p  # Alltoall of counts
        ids = ALPHA_S * min(p - 1, spikes * targets) + BETA_S_PER_BYTE * ID_BYTES * spikes * targets
        total = compute + counts + ids
        lines.append(f"| {p} | {n / p:,.0f} | {syn / p:,.0f} | {1e3 * compute:.1f} | "
                     f"{1e3 * (counts + ids):.2f} | {1e3 * total:.1f} | "
                     f"{100 * compute / total:.0f} % | {per_syn * syn / p / 2**30:.0f} |")
    lines.append("")
    lines.append(f"Inputs: {1e9 * c:.1f} ns per neuron update or synaptic event and "
                 f"{per_syn:.0f} bytes of peak memory per synapse (measured "
                 f"at 1 rank, N = {m1['n']:,}), spike rate {rate:.3f} per neuron and step "
                 f"(measured), fan-out {fan_out:.0f}; MPI: latency {ALPHA_S * 1e6:g} us per "
                 f"message, {1 / BETA_S_PER_BYTE / 1e9:g} GB/s per rank, {ID_BYTES}-byte ids, "
                 "Alltoall of counts as log2(P) latencies + P counts, Alltoallv of ids as "
                 "one latency per destination rank + the ids' bytes. Load imbalance, "
                 "network contention and building the network (here done whole, by one process) "
                 "are not modelled.")
    lines.append("")
    lines.append("Compared with NEST: NEST also exchanges spikes with MPI_Alltoall, once per "
                 "minimum-delay window (Jordan et al. 2018, Front. Neuroinform. 12:2, for "
                 "its scaling to large machines); snnc's window is one step (the minimum "
                 "delay is one step), so it pays the exchange latency every step. No NEST "
                 "figure is compared numerically here.")
    return lines


NET_FILE = """snnc: 1
name: scaling{n}
target: big.yaml
seed: 0
steps: 100
populations:
  drive: {{size: {n_drive}, model: spike_source, spikes: {{kind: poisson, rate: 0.05}}}}
  exc: {{size: {n_exc}, params: {{du: 2048, dv: 400, vth: 1300}}}}
  inh: {{size: {n_inh}, params: {{du: 2048, dv: 400, vth: 1300}}}}
projections:
{projections}"""


def net_file(n: int) -> str:
    """The benchmark network as a network file: random connectivity with the fixed
    fan-in's expected value (`p = fan-in / pre size`), weights and delays as `build`."""
    n_exc, n_drive = int(0.8 * n), max(n // 10, 1)
    sizes = {"drive": n_drive, "exc": n_exc, "inh": n - n_exc}
    k_e = int(0.8 * FAN_IN)
    rows = []
    for post in ("exc", "inh"):
        for pre, k, lo, hi in (("drive", DRIVE_FAN_IN, 60, 119), ("exc", k_e, 0, 39),
                               ("inh", FAN_IN - k_e, -120, -1)):
            rows.append(f"  {pre[0]}_{post}: {{pre: {pre}, post: {post}, connectivity: "
                        f"{{kind: random, p: {k / sizes[pre]!r}}}, weight: {{dist: uniform, "
                        f"low: {lo}, high: {hi}}}, delay: {{dist: uniform_int, low: 0, high: 3}}}}")
    return NET_FILE.format(n=n, n_drive=n_drive, n_exc=n_exc, n_inh=n - n_exc,
                           projections="\n".join(rows) + "\n")


def measure_built(n: int, ranks: int, steps: int, build: str = "ranks") -> dict:
    """One run of the network file on `ranks` ranks, built on the ranks or whole (then the
    launching process builds it), in a fresh process (its peak memory is this run's)."""
    import json
    import subprocess

    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
            "from bench.mpi_scaling import run_file; "
            "print(json.dumps(run_file(*map(int, sys.argv[2:5]), sys.argv[5])))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(n), str(ranks), str(steps),
                          build], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_file(n: int, ranks: int, steps: int, build: str) -> dict:
    """`measure_built` inside its fresh process."""
    import resource
    import tempfile

    from runtime import api

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"scaling{n}.yaml"
        path.write_text(net_file(n))
        (Path(tmp) / "big.yaml").write_text(  # enough Loihi 2 chips for the whole build
            f"base: loihi2\nname: loihi2_x{n // 1000 + 1}\nchips: {n // 1000 + 1}\n")
        t0 = time.perf_counter()
        res = api.run(str(path), "mpi", steps, probes=[], ranks=ranks, threads=1, build=build,
                      partitioner="sequential")
        total = time.perf_counter() - t0
    mpi = res.meta["mpi"]
    per = mpi["per_rank"]
    return {"n": n, "ranks": ranks, "steps": steps, "run_s": res.wall_s, "total_s": total,
            "peak_mb": [r["peak_rss_mb"] for r in per], "synapses": sum(r["synapses"] for r in per),
            "build": mpi.get("build"),
            "launcher_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def draw_time(n: int) -> str:
    """Seconds and peak memory of parsing the network file of `n` neurons whole."""
    import resource
    import tempfile

    from compiler.frontend import load_network

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"scaling{n}.yaml"
        path.write_text(net_file(n))
        t0 = time.perf_counter()
        net = load_network(path)
        took = time.perf_counter() - t0
    syn = sum(p.n_synapses for p in net.projections.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"{n:,} neurons, {syn:,} synapses: parsed and drawn in {took:.1f} s, peak "
            f"{peak:.0f} MiB, load {os.getloadavg()[0]:.1f}")


def built_rows(args: argparse.Namespace) -> list[str]:
    """The `--build-ranks` section: one row per network size."""
    k = int(args.ranks.split(",")[-1])
    lines = [f"## Built on the ranks (`--build ranks`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             "", f"Command: `python bench/mpi_scaling.py --build-ranks {args.build_ranks} "
             + (f"--compare-whole {args.compare_whole} " if args.compare_whole else "")
             + f"--ranks {k} --steps {args.steps}`", "",
             "| neurons | synapses | build | ranks | build s per rank | peak MiB per rank "
             "after build | peak MiB per rank (whole run) | launching process peak MiB | "
             "ms/step | launch+build+run s |", "|---|---|---|---|---|---|---|---|---|---|"]
    runs = [(int(x), "ranks") for x in args.build_ranks.split(",")]
    runs += [(int(x), "whole") for x in (args.compare_whole or "").split(",") if x]
    for n, build in runs:
        m = measure_built(n, k, args.steps, build)
        b = m["build"] or {}
        lines.append(
            f"| {n:,} | {m['synapses']:,} | {build} | {k} | "
            + (" / ".join(f"{x:.1f}" for x in b["per_rank_s"]) if b else "-") + " | "
            + (" / ".join(f"{x:.0f}" for x in b["per_rank_peak_rss_mb"]) if b else "-")
            + " | " + " / ".join(f"{x:.0f}" for x in m["peak_mb"])
            + f" | {m['launcher_mb']:.0f} | {1e3 * m['run_s'] / m['steps']:.1f} | "
            f"{m['total_s']:.1f} |")
        print(lines[-1], flush=True)
    load = os.getloadavg()
    lines += ["", f"Load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
              f"(1 / 5 / 15 min) on {os.cpu_count()} cores shared with other jobs.", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=100000, help="strong scaling size")
    ap.add_argument("--weak", type=int, default=50000, help="weak scaling: neurons per rank")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--out", help="write the markdown report here")
    ap.add_argument("--build-ranks", default=None,
                    help="network sizes to build on the ranks (`--build ranks`), e.g. 2000000")
    ap.add_argument("--compare-whole", default=None,
                    help="with --build-ranks: network sizes to also run built whole")
    ap.add_argument("--draw", type=int, default=None,
                    help="only time parsing the network file of this size whole (the "
                    "frontend's synapse draws) and print seconds and peak memory")
    args = ap.parse_args()
    if args.draw:
        print(draw_time(args.draw))
        return
    if args.build_ranks:
        text = "\n".join(built_rows(args)) + "\n"
        print(text)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write("\n" + text)
        return
    ranks = [int(x) for x in args.ranks.split(",")]
    done: dict[tuple[int, int], dict] = {}  # a configuration both scalings share runs once

    def get(n: int, k: int) -> dict:
        if (n, k) not in done:
            done[(n, k)] = measure(n, k, args.steps)
        return done[(n, k)]

    strong = [get(args.neurons, k) for k in ranks]
    weak = [get(args.weak * k, k) for k in ranks]
    load = os.getloadavg()
    lines = [f"# mpi backend scaling ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Command: `python bench/mpi_scaling.py --neurons {args.neurons} --weak "
             f"{args.weak} --steps {args.steps} --ranks {args.ranks}`", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; load average at the end "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min: other jobs "
             "shared the cores, so times are noisy and pessimistic).", "",
             "## Strong scaling (same network, 1 -> 2 ranks)", "", HEADER]
    lines += [row(m, strong[0] if i else None, False) for i, m in enumerate(strong)]
    lines += ["", f"## Weak scaling ({args.weak:,} neurons per rank)", "", HEADER]
    lines += [row(m, weak[0] if i else None, True) for i, m in enumerate(weak)]
    lines += ["", "Efficiency: strong T1 / (K * TK), weak T1 / TK, on rank 0's stepping time. "
              "Peak memory per rank: each rank loads only its shard (the synapses onto its "
              "neurons); the launching process, which built the whole network, is not "
              "counted. Exchange and wait are mostly time a rank spends descheduled while "
              "the other runs (two ranks and other jobs on two cores).", "",
              "## Projection to 64-1024 ranks (a MODEL, not a measurement)", ""]
    lines += projection(strong[0])
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
