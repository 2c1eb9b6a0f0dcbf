"""Lava backend: convolutions as Lava Conv processes versus unrolled Sparse matrices, on
the paper CNN of bench/nir_cnn.py (same graph, weights and graded input; fixed precision,
target loihi2, granularity grouped).

    .venv/bin/python bench/lava_conv.py [--steps 50]

Per mode (Conv, the default, and `conv=False`): the Lava processes, how many are Conv, the
worker's build time (creating and compiling the processes), its run time per step, the
whole `runtime.run` wall time, and whether the spikes of every population equal the cpu
backend's (they must: the script exits with an error otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import nir  # noqa: E402

from bench.nir_cnn import paper  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    import runtime
    from runtime.loading import prepare, to_program

    rng = np.random.default_rng(0)  # as bench/nir_cnn.py: the same weights and input
    graph, shape = paper(rng)
    counts = rng.poisson(0.15, size=(args.steps, *shape)).clip(0, 3).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "paper.nir")
        nir.write(path, graph)
        net, _ = prepare(path, dt=1.0, inputs={"in": counts})
    program = to_program(net, target="loihi2")
    want = runtime.run(program, steps=args.steps)
    print(f"paper CNN, {args.steps} steps, "
          f"{sum(p.n_synapses for p in net.projections.values())} synapses")
    print("| synapses as | Lava processes | of them Conv | build | run per step | wall |")
    print("|---|---|---|---|---|---|")
    for conv in (True, False):
        t0 = time.perf_counter()
        res = runtime.run(program, backend="lava", steps=args.steps, conv=conv)
        wall = time.perf_counter() - t0
        for pop, s in want.spikes.items():
            if not np.array_equal(res.spikes[pop], s):
                sys.exit(f"conv={conv}: spikes of '{pop}' differ from the cpu backend's")
        kinds = list(res.meta["synapse_kinds"].values())
        m = res.meta
        print(f"| {'Conv' if conv else 'Sparse'} | {m['processes']} | {kinds.count('conv')} | "
              f"{m['lava_build_s']:.1f} s | {1000 * m['lava_run_s'] / args.steps:.1f} ms | "
              f"{wall:.1f} s |")


if __name__ == "__main__":
    main()
