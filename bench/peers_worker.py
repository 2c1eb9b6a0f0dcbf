"""One peer simulator on bench/peers.py's network, in the peers venv (`make peers`).

    PY bench/peers_worker.py --sim brian2|nest|reference --net NET.npz --threads T
                             --warmup W --steps S --spikes OUT.npz [--build-dir DIR]

NET.npz holds the network in the peers' units (bench/peers.py `export`): pre, post (int32,
0-based), weight (float: the jump of v per spike), bias (float: added to v every step), vth
(spike when v > vth; an integer + 0.5, so float rounding cannot flip a tie). The model of
every peer: v(t) = v(t-1) + sum of weight over spikes of step t-1 + bias; spike where
v(t) > vth, then v = 0; v(0) = 0; no leak, no refractory period.
Prints one JSON line (ms_per_step of the S timed steps after W warm-up steps, build_s,
rss_bytes, versions) and writes every spike (step, neuron) to OUT.npz.
Imports no snnc code (it runs in another interpreter); `reference` is a pure-numpy run
of the same model (the definition the peers are checked against).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

CHUNK = 5_000_000  # synapses per NEST Connect call

def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def reference(net: dict, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(step, neuron) of every spike of the model in pure numpy (float64, like the peers)."""
    n = int(net["n"])
    pre, post, w = net["pre"], net["post"], net["weight"].astype(np.float64)
    v, inp = np.zeros(n), np.zeros(n)
    out_t, out_i = [], []
    for t in range(steps):
        v += inp + net["bias"]
        fired = np.flatnonzero(v > net["vth"])
        v[fired] = 0.0
        fired_mask = np.zeros(n, bool)
        fired_mask[fired] = True
        sel = fired_mask[pre]  # the synapses of this step's spikes
        inp = np.bincount(post[sel], weights=w[sel], minlength=n)
        out_t.append(np.full(fired.size, t, np.int32))
        out_i.append(fired.astype(np.int32))
    return np.concatenate(out_t), np.concatenate(out_i)


def run_reference(net: dict, args: argparse.Namespace) -> dict:
    """The pure-numpy model, timed like a peer (one thread)."""
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    step, idx = reference(net, args.warmup + args.steps)
    wall = time.perf_counter() - t0
    return {"sim": "reference", "version": f"numpy {np.__version__}", "step": step, "idx": idx,
            "ms_per_step": 1e3 * wall / (args.warmup + args.steps), "build_s": 0.0,
            "rss_bytes": rss_bytes() - rss0}


def run_nest(net: dict, args: argparse.Namespace) -> dict:
    """NEST iaf_psc_delta with tau_m -> infinity (1e10 ms), C_m 1 pF, dt 1 ms, delay 1 ms:
    v += I_e * dt / C_m = bias per step, each spike adds J = weight mV one step later."""
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 1.0, "local_num_threads": args.threads,
                          "print_time": False})
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    n = int(net["n"])
    # V_th: NEST spikes where V >= V_th; ours v > vth with vth = integer + 0.5: the same
    pop = nest.Create("iaf_psc_delta", n, params={
        "tau_m": 1e10, "C_m": 1.0, "E_L": 0.0, "V_reset": 0.0, "V_m": 0.0, "V_th": float(net["vth"]),
        "t_ref": 0.0, "I_e": 0.0})
    pop.set(I_e=net["bias"].astype(float).tolist())
    first = pop.tolist()[0]
    for lo in range(0, net["pre"].size, CHUNK):  # in chunks: bounded temporary arrays
        part = slice(lo, lo + CHUNK)
        pre, post = net["pre"][part] + first, net["post"][part] + first
        nest.Connect(pre.astype(np.uint64), post.astype(np.uint64), conn_spec="one_to_one",
                     syn_spec={"synapse_model": "static_synapse",
                               "weight": net["weight"][part].astype(float),
                               "delay": np.ones(pre.size)})
    nest.Prepare()
    nest.Run(1.0)  # the connection tables are completed at the first step
    build_s = time.perf_counter() - t0
    rss = rss_bytes() - rss0
    # the recorder comes after step 0 (no spike there: bias < vth), and after the memory
    # figure: NEST's spike_recorder takes ~30 kB per recorded neuron at Prepare
    if np.any(net["bias"] > net["vth"]):
        raise ValueError("a neuron could spike at step 0, before the recorder is connected")
    nest.Cleanup()
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Prepare()
    rss_rec = rss_bytes() - rss0 - rss
    nest.Run(float(args.warmup - 1))
    t0 = time.perf_counter()
    nest.Run(float(args.steps))
    ms = 1e3 * (time.perf_counter() - t0) / args.steps
    nest.Cleanup()
    ev = rec.get("events")
    # a spike of update step k carries the time stamp (k + 1) * dt
    step = np.rint(np.asarray(ev["times"])).astype(np.int32) - 1
    idx = (np.asarray(ev["senders"]) - first).astype(np.int32)
    return {"sim": "nest", "version": f"NEST {nest.__version__}", "step": step, "idx": idx,
            "ms_per_step": ms, "build_s": build_s, "rss_bytes": rss,
            "rss_note": f"+ {rss_rec / 2**20:.0f} MB for the spike recorder"}


STAMP_CPP = """
double wall_stamp(double step, double mark, double slot) {
    if (step == mark) {  // wall clock (s) at this point of step `mark`, to stamp<slot>.txt
        double now = std::chrono::duration<double>(
            std::chrono::steady_clock::now().time_since_epoch()).count();
        FILE* f = fopen(slot == 0 ? "stamp0.txt" : "stamp1.txt", "w");
        fprintf(f, "%.9f", now);
        fclose(f);
    }
    return 0.0;
}
"""


def wall_stamps(b2, warmup: int, steps: int) -> list:
    """A 1-neuron group writing the wall clock at the start of step `warmup` and at the end
    of the last step: one run() of all steps (a second run() drops the spikes in flight)."""
    stamp = b2.Function(lambda step, mark, slot: 0.0, arg_units=[1, 1, 1], return_unit=1)
    stamp.implementations.add_implementation("cpp", STAMP_CPP, name="wall_stamp",
                                             compiler_kwds={"headers": ["<chrono>", "<cstdio>"]})
    clock = b2.NeuronGroup(1, "x : 1", namespace={"wall_stamp": stamp})
    clock.run_regularly(f"x = wall_stamp(t_in_timesteps, {warmup}, 0)", when="start", order=-100)
    clock.run_regularly(f"x = wall_stamp(t_in_timesteps, {warmup + steps - 1}, 1)", when="end",
                        order=100)
    return [clock]


def run_brian2(net: dict, args: argparse.Namespace) -> dict:
    """Brian2 cpp_standalone: dv/dt = I_bias/tau (tau = dt: v += I_bias per step, Euler),
    on_pre v += w with delay 0, the synaptic pathway scheduled before the neuron update
    (so spikes of step t-1 count at step t, and a reset does not drop them)."""
    import brian2 as b2

    b2.set_device("cpp_standalone", build_on_run=False, directory=args.build_dir)
    # 1 thread: the plain serial code (OpenMP off); T > 1: OpenMP with T threads
    b2.prefs.devices.cpp_standalone.openmp_threads = 0 if args.threads == 1 else args.threads
    rss_file = os.path.join(args.build_dir, "peak_rss_kb.txt")
    b2.prefs.devices.cpp_standalone.run_cmd_unix = [sys.executable, os.path.abspath(__file__),
                                                   "--exec-rss", rss_file, "./main"]
    b2.defaultclock.dt = 1 * b2.ms
    tau = 1 * b2.ms  # noqa: F841 - used by the equations
    vth = float(net["vth"])  # noqa: F841 - used by the threshold
    g = b2.NeuronGroup(int(net["n"]), "dv/dt = I_bias / tau : 1\nI_bias : 1 (constant)",
                       threshold="v > vth", reset="v = 0", method="euler")
    g.I_bias = net["bias"].astype(float)
    s = b2.Synapses(g, g, "w : 1 (constant)", on_pre="v += w")
    s.connect(i=net["pre"], j=net["post"])
    s.w = net["weight"].astype(float)
    s.pre.when = "before_groups"
    mon = b2.SpikeMonitor(g)
    network = b2.Network(g, s, mon, *wall_stamps(b2, args.warmup, args.steps))
    network.run((args.warmup + args.steps) * b2.ms)
    t0 = time.perf_counter()
    b2.device.build(directory=args.build_dir, compile=True, run=True, with_output=False)
    total_s = time.perf_counter() - t0
    t_start, t_end = (float(open(os.path.join(args.build_dir, f"stamp{k}.txt")).read())
                      for k in (0, 1))
    with open(rss_file) as f:
        rss = int(f.read()) * 1024
    step = np.rint(np.asarray(mon.t / b2.ms)).astype(np.int32)
    idx = np.asarray(mon.i, dtype=np.int32)
    return {"sim": "brian2", "version": f"Brian2 {b2.__version__}", "step": step, "idx": idx,
            "ms_per_step": 1e3 * (t_end - t_start) / args.steps,
            "build_s": total_s - b2.device._last_run_time,
            "rss_bytes": rss, "rss_note": "peak RSS of the standalone binary"}


def exec_rss(out: str, cmd: list[str]) -> int:
    """Run `cmd`, write its peak RSS (kB, from wait4) to `out`; its exit status."""
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        f.write(str(usage.ru_maxrss))
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--exec-rss"]:  # Brian2's run command: the binary, its peak RSS measured
        return exec_rss(argv[1], argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", choices=("brian2", "nest", "reference"), required=True)
    ap.add_argument("--net", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--spikes", required=True)
    ap.add_argument("--build-dir", default="brian2_build")
    args = ap.parse_args(argv)
    with np.load(args.net) as f:
        net = {k: f[k] for k in f.files}
    run = {"brian2": run_brian2, "nest": run_nest, "reference": run_reference}[args.sim]
    res = run(net, args)
    np.savez(args.spikes, step=res.pop("step"), idx=res.pop("idx"))
    res.update(threads=args.threads, numpy=np.__version__, python=sys.version.split()[0])
    print("PEERS_JSON " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
