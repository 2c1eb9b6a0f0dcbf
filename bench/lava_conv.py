"""Lava backend: convolutions as Lava Conv processes versus unrolled Sparse matrices, on
the CNNs of bench/nir_cnn.py (same graphs, weights and graded input; fixed precision,
target loihi2, granularity grouped).

    .venv/bin/python bench/lava_conv.py [--net paper|vgg] [--steps 50]

Per mode (Conv, the default, and `conv=False`): the Lava processes, how many are Conv, the
size of the pickled lowering plan (what the worker process receives), the worker's build
time (creating and compiling the processes), its run time per step, the whole
`runtime.run` wall time, and whether the spikes of every population equal the cpu
backend's (they must: the script exits with an error otherwise). Then why each
convolution that stays a matrix does.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import nir  # noqa: E402

from bench.nir_cnn import CHIPS, NETS, ROOT  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", default="paper", choices=list(NETS))
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    import runtime
    from backends.lava.plan import make_plan
    from compiler.errors import SnncError
    from runtime.loading import prepare, to_program

    rng = np.random.default_rng(0)  # as bench/nir_cnn.py: the same weights and input
    graph, shape = NETS[args.net](rng)
    counts = rng.poisson(0.15, size=(args.steps, *shape)).clip(0, 3).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.nir")
        nir.write(path, graph)
        net, _ = prepare(path, dt=1.0, inputs={"in": counts})
        target = "loihi2"
        if CHIPS[args.net] > 1:  # as bench/nir_cnn.py
            target = os.path.join(tmp, "target.yaml")
            with open(os.path.join(ROOT, "compiler", "targets", "loihi2.yaml")) as f:
                text = f.read()
            with open(target, "w") as f:
                f.write(re.sub(r"(?m)^chips: 1$", f"chips: {CHIPS[args.net]}", text))
        program = to_program(net, target=target)
    want = runtime.run(program, steps=args.steps)
    print(f"{args.net} CNN, {args.steps} steps, "
          f"{sum(p.n_synapses for p in net.projections.values())} synapses")
    print("| synapses as | Lava processes | of them Conv | plan pickled | build | run per step "
          "| wall |")
    print("|---|---|---|---|---|---|---|")
    for conv in (True, False):
        t0 = time.perf_counter()
        try:
            res = runtime.run(program, backend="lava", steps=args.steps, conv=conv)
        except SnncError as e:  # e.g. over the memory budget or the process limit
            print(f"| {'Conv' if conv else 'Sparse'} | refused: {str(e)[:300]} |")
            continue
        wall = time.perf_counter() - t0
        for pop, s in want.spikes.items():
            if not np.array_equal(res.spikes[pop], s):
                sys.exit(f"conv={conv}: spikes of '{pop}' differ from the cpu backend's")
        kinds = list(res.meta["synapse_kinds"].values())
        m = res.meta
        size = len(pickle.dumps(make_plan(program, conv=conv))) / 2**20
        print(f"| {'Conv' if conv else 'Sparse'} | {m['processes']} | {kinds.count('conv')} | "
              f"{size:.1f} MiB | {m['lava_build_s']:.1f} s | "
              f"{1000 * m['lava_run_s'] / args.steps:.1f} ms | {wall:.1f} s |")
        if conv:
            kept = {k: v for k, v in m["conv_lowering"].items() if v != "conv"}
            print(f"convolutions kept as matrices: {kept or 'none'}")


if __name__ == "__main__":
    main()
