"""NIR CNN benchmark: import + compile time and peak memory, cores vs the lower bound, and
a cpu inference, for two convolutional NIR graphs with random weights and graded input.

    .venv/bin/python bench/nir_cnn.py [--nets paper vgg] [--steps 300] [--json out.json]

paper: the NIR paper's N-MNIST CNN (Sinabs): 2x34x34 -> Conv 16 (5x5, stride 2, pad 1) ->
IF -> Conv 16 (3x3, pad 1) -> IF -> SumPool 2 -> Conv 8 (3x3, pad 1) -> IF -> SumPool 2 ->
Flatten (128) -> Linear 256 -> IF -> Linear 10 -> IF (8970 neurons, ~1.1 M synapses).
vgg: an event-camera VGG-like CNN: 2x60x60 -> Conv 16 -> IF -> Conv 32 stride 2 -> IF ->
Conv 64 stride 2 -> IF -> Conv 64 stride 2 -> IF -> SumPool 2 -> Linear 256 -> IF ->
Linear 10 -> IF (3x3 kernels, pad 1; 105 162 neurons).
Each net is written to a .nir file with its input (graded event counts 0..3 per pixel and
step, N-MNIST-like), then a fresh process imports and compiles it (`runtime.compile`, fixed
precision, target loihi2, partitioner auto) and reports its wall time and peak RSS (the
process's high-water mark, Python and libraries included; the RSS after imports alone is
printed too; the import, that is reading the graph up to the quantized network, is timed
apart), the cores against the target's lower bound, the time to write the `.snnc` and load
it back (with its checks), and for `paper` one inference of `--steps` steps on the cpu
backend (the compiled program, so compile time is not counted), run twice: the first run
includes the backend's one-time start in a fresh process, the second does not.
The vgg net needs more than one Loihi 2 chip (its convolutions are stored expanded): it is
compiled for loihi2 with 4 chips.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import nir  # noqa: E402


def _if(shape: tuple[int, ...], th: float = 1.0) -> nir.IF:
    return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, th), v_reset=np.zeros(shape))


def _conv(rng: np.random.Generator, c_in: int, c_out: int, hw: int, k: int = 3, s: int = 1,
          p: int = 1) -> nir.Conv2d:
    w = rng.normal(0.0, 1.5 / np.sqrt(c_in * k * k), size=(c_out, c_in, k, k))
    return nir.Conv2d(input_shape=(hw, hw), weight=w, stride=s, padding=p, dilation=1,
                      groups=1, bias=np.zeros(c_out))


def _pool() -> nir.SumPool2d:
    return nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))


def _linear(rng: np.random.Generator, n_in: int, n_out: int) -> nir.Linear:
    return nir.Linear(weight=rng.normal(0.0, 1.5 / np.sqrt(n_in), size=(n_out, n_in)))


def _chain(layers: list[tuple[str, nir.NIRNode]]) -> nir.NIRGraph:
    nodes = dict(layers)
    names = [n for n, _ in layers]
    last = layers[-1][1]
    nodes["out"] = nir.Output(output_type=np.array(last.v_threshold.shape))
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:] + ["out"], strict=True)),
                        type_check=False)


def paper(rng: np.random.Generator) -> tuple[nir.NIRGraph, tuple[int, ...]]:
    return _chain([
        ("in", nir.Input(input_type=np.array([2, 34, 34]))),
        ("conv1", _conv(rng, 2, 16, 34, k=5, s=2)), ("if1", _if((16, 16, 16))),
        ("conv2", _conv(rng, 16, 16, 16)), ("if2", _if((16, 16, 16))),
        ("pool2", _pool()), ("conv3", _conv(rng, 16, 8, 8)), ("if3", _if((8, 8, 8))),
        ("pool3", _pool()), ("flat", nir.Flatten(input_type={"input": np.array([8, 4, 4])},
                                                start_dim=0)),
        ("fc1", _linear(rng, 128, 256)), ("if4", _if((256,))),
        ("fc2", _linear(rng, 256, 10)), ("if5", _if((10,)))]), (2, 34, 34)


def vgg(rng: np.random.Generator) -> tuple[nir.NIRGraph, tuple[int, ...]]:
    return _chain([
        ("in", nir.Input(input_type=np.array([2, 60, 60]))),
        ("conv1", _conv(rng, 2, 16, 60)), ("if1", _if((16, 60, 60))),
        ("conv2", _conv(rng, 16, 32, 60, s=2)), ("if2", _if((32, 30, 30))),
        ("conv3", _conv(rng, 32, 64, 30, s=2)), ("if3", _if((64, 15, 15))),
        ("conv4", _conv(rng, 64, 64, 15, s=2)), ("if4", _if((64, 8, 8))),
        ("pool", _pool()), ("flat", nir.Flatten(input_type={"input": np.array([64, 4, 4])},
                                               start_dim=0)),
        ("fc1", _linear(rng, 1024, 256)), ("if5", _if((256,))),
        ("fc2", _linear(rng, 256, 10)), ("if6", _if((10,)))]), (2, 60, 60)


NETS = {"paper": paper, "vgg": vgg}
CHIPS = {"paper": 1, "vgg": 4}  # Loihi 2 chips of the target
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpu() -> float:
    """CPU seconds of this process (user + system): less sensitive to a loaded machine
    than wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(graph: str, data: str, steps: int, target: str, tmp: str) -> dict:
    """Runs in a fresh process: import + compile (`runtime.compile`'s two stages, timed
    apart), the artifact written and loaded back (its checks included), then (steps > 0)
    one cpu inference, twice: the first pays the backend's one-time start (imports, loading
    the compiled kernels), the second does not."""
    import runtime
    from compiler.artifact import load_program, save_program
    from runtime.loading import prepare, to_program

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c0, t0 = _cpu(), time.perf_counter()
    net, _ = prepare(graph, dt=1.0, inputs={"in": data})
    t_import, c_import = time.perf_counter() - t0, _cpu() - c0
    program = to_program(net, target=target)
    t_compile, c_compile = time.perf_counter() - t0, _cpu() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    path = save_program(program, os.path.join(tmp, "net.snnc"))
    t_save = time.perf_counter() - t0
    load_program(path)
    t_load = time.perf_counter() - t0 - t_save
    os.remove(path)
    net, rep = program.network, program.report
    out = {"neurons": sum(p.size for p in net.neuron_populations),
           "synapses": sum(p.n_synapses for p in net.projections.values()),
           "conv_projections": sum(p.conv is not None for p in net.projections.values()),
           "import_s": t_import, "compile_s": t_compile, "import_cpu_s": c_import,
           "compile_cpu_s": c_compile, "peak_rss_mb": peak,
           "rss_after_imports_mb": base, "save_s": t_save, "load_s": t_load,
           "partitioner": rep.partitioner, "cores": rep.cores_used,
           "lower_bound": rep.lower_bound}
    for key in ("run_s", "run_warm_s")[:2 if steps else 0]:
        t0 = time.perf_counter()
        res = runtime.run(program, steps=steps)
        out[key] = time.perf_counter() - t0
        spikes = [v for k, v in res.spikes.items() if not k.startswith("in")]
        out["spikes_per_neuron_step"] = float(sum(s.sum() for s in spikes)) / (
            out["neurons"] * steps)
    return out


def measure(name: str, steps: int, tmp: str) -> dict:
    rng = np.random.default_rng(0)
    graph, shape = NETS[name](rng)
    path = os.path.join(tmp, f"{name}.nir")
    nir.write(path, graph)
    counts = rng.poisson(0.15, size=(max(steps, 1), *shape)).clip(0, 3).astype(np.int64)
    data = os.path.join(tmp, f"{name}.npy")
    np.save(data, counts)
    target = "loihi2"
    if CHIPS[name] > 1:  # loihi2 with more chips
        target = os.path.join(tmp, f"loihi2x{CHIPS[name]}.yaml")
        with open(os.path.join(ROOT, "compiler", "targets", "loihi2.yaml")) as f:
            text = f.read()
        with open(target, "w") as f:
            f.write(re.sub(r"(?m)^chips: 1$", f"chips: {CHIPS[name]}", text))
    run_steps = steps if name == "paper" else 0
    code = (f"import json, sys; sys.path.insert(0, {ROOT!r}); from bench.nir_cnn import child; "
            f"print(json.dumps(child({path!r}, {data!r}, {run_steps}, {target!r}, {tmp!r})))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{name}: the child process failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["net"] = name
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets:
            row = measure(name, args.steps, tmp)
            rows.append(row)
            lb = row["lower_bound"]
            ratio = row["cores"] / lb if lb else float("nan")
            print(f"{name}: {row['neurons']} neurons, {row['synapses']} synapses "
                  f"({row['conv_projections']} conv projections); import + compile "
                  f"{row['compile_s']:.2f} s (import {row['import_s']:.2f} s; CPU time "
                  f"{row['compile_cpu_s']:.2f} s, import {row['import_cpu_s']:.2f} s), peak RSS "
                  f"{row['peak_rss_mb']:.0f} MB (after imports "
                  f"{row['rss_after_imports_mb']:.0f} MB); {row['partitioner']}: "
                  f"{row['cores']} cores, lower bound {lb} ({ratio:.2f}x, {CHIPS[name]} chip(s))"
                  f"; artifact save {row['save_s']:.2f} s, load {row['load_s']:.2f} s"
                  + (f"; {args.steps}-step cpu inference {row['run_s']:.2f} s first, "
                     f"{row['run_warm_s']:.2f} s again "
                     f"({row['spikes_per_neuron_step']:.3f} spikes/neuron/step)"
                     if "run_s" in row else ""), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
