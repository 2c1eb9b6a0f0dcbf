"""What one Lava process costs on this machine: memory and construction time per process.

Runs networks whose `core` plan has a growing number of Lava processes (a spike source into
a recurrent LIF population cut into k cores: 2k + 2 processes, i.e. the source, k LIF
slices, the spike bus and one synapse process per core) through the lava backend, samples the proportional set size (PSS) of this process and all its descendants
(the worker and Lava's one OS process per Lava process) every 0.1 s, and prints per run the
processes, peak memory, wall time and the worker's build/run times, then the fits (least
squares: memory linear, wall time a * n + b * n^2) behind `backends.lava.cost`'s estimate.

Usage: .venv/bin/python bench/lava_processes.py [k ...]   (default: 1 5 10 20 40 60)
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.lava import run  # noqa: E402
from backends.lava.plan import make_plan  # noqa: E402
from compiler.ir import LIFParams, NetworkIR, Population, Projection, SpikeSource  # noqa: E402
from compiler.program import Core, Program  # noqa: E402
from compiler.target import Target  # noqa: E402


def network(n_hid: int = 64, n_in: int = 16, seed: int = 1) -> NetworkIR:
    """Source -> hid (all to all) and hid -> hid (10 % random), fixed precision."""
    rng = np.random.default_rng(seed)
    pops = {"inp": Population("inp", n_in, "spike_source", source=SpikeSource("poisson", 0.2)),
            "hid": Population("hid", n_hid, "lif", lif=LIFParams(du=1024, dv=256, vth=1000))}
    pre, post = np.meshgrid(np.arange(n_in), np.arange(n_hid), indexing="ij")
    rec = rng.random((n_hid, n_hid)) < 0.1
    rp, rq = np.nonzero(rec)
    projs = {
        "inp_hid": Projection("inp_hid", "inp", "hid", pre.ravel().astype(np.int32),
                              post.ravel().astype(np.int32),
                              rng.integers(0, 60, pre.size).astype(np.int32),
                              np.zeros(pre.size, np.int16)),
        "hid_hid": Projection("hid_hid", "hid", "hid", rp.astype(np.int32), rq.astype(np.int32),
                              rng.integers(-20, 40, rp.size).astype(np.int32),
                              np.zeros(rp.size, np.int16))}
    return NetworkIR("lava_processes", populations=pops, projections=projs, precision="fixed")


def program(net: NetworkIR, k: int) -> Program:
    """`hid` cut into k contiguous cores (ids 0..k-1 on chip 0)."""
    n = net.populations["hid"].size
    core_of = (np.arange(n) * k // n).astype(np.int32)
    cores = [Core(id=c, chip=0, core=c, neurons={"hid": np.flatnonzero(core_of == c)})
             for c in range(k)]
    return Program(network=net, target=Target("bench"), core_of={"hid": core_of}, cores=cores)


def _tree_pss_kib(root: int) -> int:
    """Summed Pss (KiB) of `root` and its descendants (children found via /proc/*/stat)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, todo = {root}, [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        todo += kids
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def measure(k: int, steps: int = 10) -> dict[str, float]:
    """One run of the k-core network: processes, peak tree PSS (MiB), wall and worker times."""
    prog = program(network(), k)
    n = make_plan(prog, "core").n_processes
    base = _tree_pss_kib(os.getpid())
    peak, stop = [base], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_pss_kib(os.getpid()))
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    res = run(prog, steps, probes=[], granularity="core", timeout_s=600)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    return {"k": k, "processes": n, "peak_mib": (peak[0] - base) / 1024, "wall_s": wall,
            "build_s": float(res.meta.get("lava_build_s", 0.0)),
            "run_s": float(res.meta.get("lava_run_s", 0.0))}


def main(ks: list[int]) -> None:
    rows = [measure(k) for k in ks]
    print("| k cores | processes | peak PSS above parent (MiB) | wall (s) | build (s) | run (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['k']} | {r['processes']} | {r['peak_mib']:.0f} | {r['wall_s']:.1f} | "
              f"{r['build_s']:.2f} | {r['run_s']:.1f} |")
    n = np.array([r["processes"] for r in rows], float)
    mem = np.array([r["peak_mib"] for r in rows])
    slope, icept = np.polyfit(n, mem, 1)
    print(f"memory: {slope:.2f} MiB per process + {icept:.0f} MiB "
          f"(max per process {np.max(mem / n):.2f} MiB)")
    a, b = np.linalg.lstsq(np.stack([n, n * n], 1), [r["wall_s"] for r in rows], rcond=None)[0]
    most = 180 / a if b <= 0 else (-a + np.sqrt(a * a + 720 * b)) / (2 * b)
    print(f"wall: {a:.3g} s * n + {b:.3g} s * n^2; most processes within 180 s: {int(most)}")

if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 5, 10, 20, 40, 60])
