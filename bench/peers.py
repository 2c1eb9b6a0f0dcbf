"""snnc's cpu backend vs Brian2 and NEST on bench/cpu_step.py's network, in one run.

    .venv/bin/python bench/peers.py [--n 100000] [--steps 200] [--mem-n 1000000]
                                    [--peers-python bench/.peers-venv/bin/python]
                                    [--md bench/results/peers_cpu.md]

Network: cpu_step.build (N integrate-and-fire neurons, 100 random synapses each, even weights
-4..2, bias 100..199: ~3 % spike per step), generated once (seed fixed); every simulator gets
the same arrays. snnc runs in this interpreter through `backends.get_backend("cpu")` (each
engine / thread count its options offer); Brian2 2.9 cpp_standalone (1 thread, 2 OpenMP
threads) and NEST 3.10 `iaf_psc_delta` (1, 2 threads) run in bench/peers_worker.py under
the peers venv (`make peers`). Printed per system: ms/step of --steps steps after 50 warm-up
steps, bytes per synapse resident, spikes/step, spikes equal to snnc's, and peer / snnc
ratios; the memory row (--mem-n neurons, 100 synapses each) gives bytes/synapse only.
Results: bench/results/peers_cpu.md (written by --md, with command, date, load, versions).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import cpu_step  # noqa: E402
import peers_worker  # noqa: E402

PEERS_PY = ROOT / "bench" / ".peers-venv" / "bin" / "python"
WARMUP = cpu_step.WARMUP
MEM_WARMUP = 10  # the memory row: past the synchronous start (step 3)
SHIFT = 6  # Lava's LIF scales vth and the synaptic input by 2**6 (its vth_shift, act_shift)
PEERS = [("Brian2 cpp_standalone", "brian2", 1), ("Brian2 cpp_standalone", "brian2", 2),
         ("NEST iaf_psc_delta", "nest", 1), ("NEST iaf_psc_delta", "nest", 2)]


def export(net: dict) -> dict:
    """The network in the peers' units (those of Lava's v): the arrays bench/peers_worker.py
    reads. With du = 4095 (u holds one step's input) and dv = 0 (no leak), snnc's fixed LIF
    is v(t) = v(t-1) + 64 * sum(w of spikes at t-1) + bias, spike where v > vth * 64, v = 0."""
    from backends.cpu import effective_weights

    if (cpu_step.DU, cpu_step.DV) != (4095, 0):
        raise ValueError("the peers' model needs du = 4095 and dv = 0")
    weight = effective_weights(net["weight"], 8) * 2.0 ** (cpu_step.WEIGHT_EXP + SHIFT)
    return {"n": np.int64(net["n"]), "pre": net["pre"].astype(np.int32),
            "post": net["post"].astype(np.int32),
            "weight": weight.astype(np.float32),  # exact: |w| <= 255 * 64
            "bias": (np.asarray(net["bias"]) * 2.0**cpu_step.BIAS_EXP).astype(np.float64),
            "vth": np.float64((cpu_step.VTH << SHIFT) + 0.5)}  # v integer: v > vth <=> v >= vth + .5


def snnc_configs() -> list[tuple[str, dict]]:
    """(label, options) of every snnc engine the cpu backend offers (its `options`)."""
    from backends import get_backend

    opts = get_backend("cpu").options
    if "engine" not in opts:
        return [("snnc cpu", {})]
    configs = [("snnc numpy", {"engine": "numpy"})]
    if "threads" in opts:
        configs += [(f"snnc compiled, {t} thread{'s' * (t > 1)}", {"engine": "compiled", "threads": t})
                    for t in (1, 2)]
    else:
        configs.append(("snnc compiled", {"engine": "compiled"}))
    return configs


def run_snnc(net: dict, warmup: int, steps: int, options: dict) -> dict:
    """ms/step of `steps` steps after `warmup` (timed through the progress callback), the
    RSS grown from the network arrays to the simulator built (first callback), spikes."""
    from backends import get_backend

    backend = get_backend("cpu")
    backend.run(cpu_step.cpu_program(cpu_step.build(1000), "fixed"), 5, [], **options)  # JIT
    marks: dict[str, tuple] = {}

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault("first", (done, now, peers_worker.rss_bytes()))
        if done >= warmup:
            marks.setdefault("warm", (done, now))
        marks["last"] = (done, now)

    rss0 = peers_worker.rss_bytes()
    t0 = time.perf_counter()
    res = backend.run(cpu_step.cpu_program(net, "fixed"), warmup + steps, [], progress=progress,
                      **options)
    (d0, tw), (d1, t1) = marks["warm"], marks["last"]
    if d1 <= d0:
        raise RuntimeError("progress callbacks too sparse to time the steps after the warm-up")
    ms = 1e3 * (t1 - tw) / max(1, d1 - d0)
    first_done, first_t, first_rss = marks["first"]
    step, idx = np.nonzero(res.spikes["a"])
    return {"ms_per_step": ms, "rss_bytes": first_rss - rss0,
            "build_s": first_t - t0 - first_done * ms / 1e3,
            "step": step.astype(np.int32), "idx": idx.astype(np.int32),
            "ignored": res.meta.get("ignored_options", [])}


def run_peer(py: str, sim: str, threads: int, npz: str, warmup: int, steps: int,
             timeout: float, tmp: str) -> dict:
    """bench/peers_worker.py in the peers venv (own process group, killed on timeout):
    its JSON plus the spikes, or {"error": ...}."""
    out = os.path.join(tmp, f"{sim}{threads}_spikes.npz")
    cmd = [py, str(ROOT / "bench" / "peers_worker.py"), "--sim", sim, "--threads", str(threads),
           "--net", npz, "--warmup", str(warmup), "--steps", str(steps), "--spikes", out,
           "--build-dir", os.path.join(tmp, f"brian2_{threads}")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    text = log.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("PEERS_JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {"error": f"exit {proc.returncode}: {text[-1500:]}"}
    res = json.loads(line[len("PEERS_JSON "):])
    with np.load(out) as f:
        res["step"], res["idx"] = f["step"], f["idx"]
    return res


def spike_keys(res: dict, n: int) -> np.ndarray:
    """Every spike of a run as step * n + neuron, sorted."""
    return np.sort(res["step"].astype(np.int64) * n + res["idx"])


def agreement(ref: np.ndarray, keys: np.ndarray) -> str:
    """'equal' or how many of the reference's spikes the other run has (and its extras)."""
    if np.array_equal(ref, keys):
        return f"equal ({ref.size} spikes)"
    common = np.intersect1d(ref, keys).size
    return f"{common} of {ref.size} ({keys.size - common} extra)"


def free_bytes() -> int:
    """MemAvailable of this machine."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def row(label: str, threads: int, res: dict, n: int, synapses: int, warmup: int,
        steps: int) -> dict:
    """One table row of a run (snnc's or a peer's)."""
    timed = res["step"] >= warmup
    return {"system": label, "threads": threads, "ms": res["ms_per_step"],
            "build_s": res["build_s"], "rss_mb": res["rss_bytes"] / 2**20,
            "bps": res["rss_bytes"] / synapses, "rate": timed.sum() / max(1, steps) / n,
            "note": res.get("rss_note", "")}


def run_size(n: int, warmup: int, steps: int, args: argparse.Namespace, tmp: str,
             limits: dict | None = None) -> tuple[list[dict], dict]:
    """Every system on the n-neuron network; (rows, versions). With `limits` (peer -> bytes
    per synapse measured before) the memory row: snnc's numpy engine and its last (most
    threads) engine, the peers with 2 threads; a peer whose estimate exceeds
    --mem-limit-gb (or 80 % of the free memory) is skipped."""
    net = cpu_step.build(n, args.seed)
    m = net["pre"].size
    npz = os.path.join(tmp, f"net{n}.npz")
    np.savez(npz, **export(net))
    rows, versions, ref = [], {}, None
    configs, peers = snnc_configs(), PEERS
    if limits is not None:
        configs = list({id(c): c for c in (configs[0], configs[-1])}.values())
        peers = [p for p in PEERS if p[2] == 2]
    for label, opts in configs:
        res = run_snnc(net, warmup, steps, opts)
        keys = spike_keys(res, n)
        ref = keys if ref is None else ref
        rows.append(row(label, opts.get("threads", 1), res, n, m, warmup, steps)
                    | {"spikes": "ref" if ref is keys else agreement(ref, keys)})
        print(f"  {rows[-1]['system']}: {rows[-1]['ms']:.3f} ms/step, {rows[-1]['bps']:.1f} B/syn",
              flush=True)
        del res
    del net
    for label, sim, threads in peers:
        key = f"{sim}{threads}"
        if limits is not None:
            need = m * (limits.get(key, 64.0) + 28)  # + the arrays the worker loads and passes
            cap = min(args.mem_limit_gb * 2**30, 0.8 * free_bytes())
            if key not in limits or need > cap:
                rows.append({"system": label, "threads": threads, "skip":
                             f"skipped: ~{need / 2**30:.1f} GB estimated > {cap / 2**30:.1f} GB"})
                continue
        res = run_peer(args.peers_python, sim, threads, npz, warmup, steps, args.timeout, tmp)
        if "error" in res:
            rows.append({"system": label, "threads": threads, "skip": res["error"][-300:]})
            print(f"  {label} ({threads}): {res['error']}", file=sys.stderr, flush=True)
            continue
        versions[sim] = res["version"]
        versions["peers"] = f"Python {res['python']}, numpy {res['numpy']}"
        rows.append(row(label, threads, res, n, m, warmup, steps)
                    | {"spikes": agreement(ref, spike_keys(res, n)), "key": key})
        print(f"  {label} ({threads}): {rows[-1]['ms']:.3f} ms/step, {rows[-1]['bps']:.1f} B/syn",
              flush=True)
    os.unlink(npz)
    return rows, versions


def main_table(rows: list[dict]) -> str:
    """The markdown table of one size."""
    out = ["| system | threads | ms/step | build s | RSS MB | bytes/synapse | spiking per step | "
           "spikes vs snnc | notes |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skip" in r:
            out.append(f"| {r['system']} | {r['threads']} | {r['skip']} | | | | | | |")
            continue
        out.append(f"| {r['system']} | {r['threads']} | {r['ms']:.3f} | {r['build_s']:.1f} | "
                   f"{r['rss_mb']:.0f} | {r['bps']:.1f} | {100 * r['rate']:.2f} % | {r['spikes']} | "
                   f"{r['note']} |")
    return "\n".join(out)


def ratio_table(rows: list[dict]) -> str:
    """peer ms/step / snnc ms/step for every snnc engine and peer (> 1: snnc is faster)."""
    ours = [r for r in rows if r["system"].startswith("snnc") and "skip" not in r]
    peers = [r for r in rows if not r["system"].startswith("snnc") and "skip" not in r]
    head = " | ".join(f"{p['system']}, {p['threads']} thr" for p in peers)
    out = [f"| peer ms / snnc ms | {head} |", "|---" * (len(peers) + 1) + "|"]
    for s in ours:
        out.append(f"| {s['system']} | " + " | ".join(f"{p['ms'] / s['ms']:.2f}x" for p in peers)
                   + " |")
    return "\n".join(out)


def utc_now() -> str:
    """The date and time, UTC, to the minute."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def uptime() -> str:
    """`uptime`'s line (load averages)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def versions_line(found: dict) -> str:
    """The versions of everything measured."""
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout
    parts = [f"snnc: Python {platform.python_version()}, numpy {np.__version__}"]
    parts += [found[k] for k in ("brian2", "nest") if k in found]
    parts += [f"peers venv: {found['peers']}"] if "peers" in found else []
    parts.append(gxx.splitlines()[0] if gxx else "g++: not found")
    return "; ".join(parts)


MODEL_NOTES = """\
## How each peer's model matches snnc's
snnc (fixed precision, bit-exact with Lava fixed_pt): LIF with du = 4095 (the current u
holds exactly one step's input), dv = 0 (no leak), vth = 10, bias 100..199, weights -4..2
(even, 8-bit mixed). In Lava's units (v scaled by 2**6):
v(t) = v(t-1) + 64 * sum(w over spikes of step t-1) + bias; spike where v > 640; then v = 0.
Every peer gets the same arrays (pre, post, 64 * w, bias) and threshold 640.5 (v stays an
integer, so v > 640 <=> v >= 640.5, and float rounding cannot flip a tie), from rest (v = 0).
- **Brian2** (cpp_standalone, float64): `dv/dt = I_bias/tau : 1` with tau = dt = 1 ms (Euler:
  v += I_bias per step), `threshold='v > vth'`, `reset='v = 0'`, `Synapses(on_pre='v += w')`
  with delay 0 and the pathway scheduled `before_groups`, so spikes of step t-1 reach v at
  the start of step t (after the reset of step t-1, before threshold t), as in snnc. One
  `run()` of all steps (a second `run()` drops the spikes in flight); the timed window is
  stamped from the C++ code (`std::chrono::steady_clock`) at the start of the first timed
  step and the end of the last. 1 thread = the serial code (OpenMP off); 2 = OpenMP.
- **NEST** (`iaf_psc_delta`, float64, resolution 1 ms): tau_m = 1e10 ms (no leak to ~1e-8
  per step), C_m = 1 pF, I_e = bias pA (v += bias per step), E_L = V_reset = V_m = 0,
  V_th = 640.5 (NEST fires where V >= V_th), t_ref = 0, static synapses with weight 64 * w
  mV and delay 1 ms (a spike of step t-1 is added at step t, before the threshold test).
- Every (step, neuron) spike of all steps, warm-up included, is compared with snnc's first
  engine ("spikes vs snnc"); "spiking per step" is the mean fraction over the timed steps.
- A peer is skipped in the memory row when (its bytes/synapse at the timed size + 28 for the
  arrays its worker loads and hands over) x synapses exceeds --mem-limit-gb (default 8) or
  80 % of the free memory: the machine is shared.

## How memory is measured
bytes/synapse = resident memory grown by building the simulator / synapses:
- snnc: RSS at the first progress callback of `get_backend("cpu").run` (program built,
  simulator set up, 1-2 steps run) minus RSS with the network arrays in hand, in this process.
- NEST: RSS after `Create`, `Connect`, `Prepare` and one step minus RSS before `Create`
  (~4 kB per iaf_psc_delta neuron of it). The spike recorder is connected after that first
  step (no neuron can spike at step 0) and not counted: NEST's `spike_recorder` takes
  ~30 kB per recorded neuron at `Prepare` (the "notes" column).
- Brian2: the peak RSS of the standalone binary (`wait4`), i.e. with its process baseline
  and the static copies of the connection arrays it loads at start.
"""


def busy_note(meta: dict) -> list[str]:
    """A warning when the machine was busier than its cores (timings then measure contention)."""
    load = max(meta["load0"], meta["load1"])
    if load <= os.cpu_count():
        return []
    return [f"**Timings under load**: load average up to {load:.1f} on {os.cpu_count()} cores "
            "during the run, so every ms/step includes waiting for a core, and multi-threaded "
            "runs suffer most (a thread that waits for a core stalls the others at each step's "
            "barrier; OpenMP threads spin-wait). Spike equality and bytes/synapse do not depend "
            "on the load; rerun on a quiet machine for the speed ratios.\n"]


def write_md(path: str, sections: list[str], meta: dict) -> None:
    """The results file: command, date, load, versions, the tables and the model notes."""
    text = ["# snnc vs Brian2 vs NEST on the CPU (bench/peers.py)\n",
            f"Command:\n\n    {meta['command']}\n",
            f"Date: {meta['start']} - {meta['end']} UTC. Machine: {os.cpu_count()} cores, "
            f"{meta['mem_gb']:.0f} GB, shared with other jobs.\n",
            f"Load (`uptime`) before: `{meta['up0']}`\n\nafter: `{meta['up1']}`\n",
            f"Versions: {meta['versions']}.\n", *busy_note(meta), *sections, MODEL_NOTES]
    Path(path).write_text("\n".join(text))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="neurons of the timed network")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mem-n", type=int, default=1_000_000,
                    help="neurons of the memory row (0: none)")
    ap.add_argument("--mem-steps", type=int, default=3, help="timed steps of the memory row")
    ap.add_argument("--mem-limit-gb", type=float, default=8.0,
                    help="skip a peer in the memory row whose estimate exceeds this")
    ap.add_argument("--peers-python", default=str(PEERS_PY))
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per peer run")
    ap.add_argument("--md", help="write the results (markdown) to this file")
    args = ap.parse_args(argv)
    if not Path(args.peers_python).exists():
        print(f"{args.peers_python} not found: run `make peers` first", file=sys.stderr)
        return 2
    meta = {"command": ".venv/bin/python bench/peers.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "start": utc_now(), "up0": uptime(), "load0": os.getloadavg()[0],
            "mem_gb": os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30}
    print(f"uptime before: {meta['up0']}", flush=True)
    sections = []
    with tempfile.TemporaryDirectory(prefix="snnc-peers-") as tmp:
        print(f"{args.n} neurons, {args.n * cpu_step.FANOUT} synapses, {args.steps} steps after "
              f"{WARMUP} warm-up steps", flush=True)
        rows, found = run_size(args.n, WARMUP, args.steps, args, tmp)
        sections += [f"## {args.n} neurons, {args.n * cpu_step.FANOUT} synapses: ms/step of "
                     f"{args.steps} steps after {WARMUP} warm-up steps\n", main_table(rows),
                     "\nRatios (peer ms/step / snnc ms/step; > 1: snnc is faster):\n",
                     ratio_table(rows), ""]
        print(main_table(rows) + "\n\n" + ratio_table(rows), flush=True)
        if args.mem_n:
            per = {r["key"]: r["bps"] for r in rows if "key" in r}
            m = args.mem_n * cpu_step.FANOUT
            print(f"memory row: {args.mem_n} neurons, {m} synapses", flush=True)
            mem_rows, more = run_size(args.mem_n, MEM_WARMUP, args.mem_steps, args, tmp,
                                     limits=per)
            found |= more
            sections += [f"## Memory: {args.mem_n} neurons, {m} synapses ({args.mem_steps} "
                         f"steps after {MEM_WARMUP}; bytes/synapse is the figure, ms/step is indicative)\n",
                         main_table(mem_rows), ""]
            print(main_table(mem_rows), flush=True)
    meta |= {"end": utc_now(), "up1": uptime(), "load1": os.getloadavg()[0],
             "versions": versions_line(found)}
    print(f"uptime after: {meta['up1']}\n{meta['versions']}", flush=True)
    if args.md:
        write_md(args.md, sections, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
