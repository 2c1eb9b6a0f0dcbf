"""snnc vs Lava vs nengo-loihi's emulator, side by side, on the same networks.

    .venv/bin/python bench/peers_lava.py [--cases ens2x1000,rand4k] [--steps 200] [--repeat 3]
                                    [--nengo-python PATH] [--setup-nengo] [--md bench/results/peers_lava.md]

Runners: snnc `cpu`, snnc `lava` (grouped), a hand-written Lava net (LIF -> Dense -> LIF,
fixed_pt, under a subprocess timeout) and nengo-loihi's emulator (`target="sim"`, run by
bench/peers_nengo.py in its own venv: nengo-loihi 1.1.0 needs nengo 3.2 and numpy < 1.24).
Cases:
- ens2x1000: nengo-loihi's two-ensemble pattern (its docs/examples/ens_ens.py: ensemble
  a -> b with LstsqL2(weights=True)), at 1000 + 1000 neurons. nengo builds it; its float gains, biases and
  the 1000 x 1000 weights are discretized here to Lava fixed_pt LIF (see `ens_ir`). nengo's
  LIF gets tau_ref = --tau-ref (default 0: Lava's LIF has no refractory period).
- rand4k: bench/cpu_step.py's 4000-neuron random recurrent net (100 synapses per neuron, ~3 %
  activity); its hand Lava run is cpu_step's Dense + LIF worker; snnc gets repeated
  (post, pre) pairs summed (`merge_pairs`), as that worker's Dense does.
Spikes: snnc cpu vs snnc lava vs hand Lava must agree exactly; nengo-loihi discretizes and
clips voltages its own way, so only firing rates (mean, per-neuron r) are compared.
Results and discussion: bench/results/peers_lava.md.
Times: build = network construction + compile (snnc: runtime.compile; nengo: Simulator());
ms/step: best of --repeat (cpu: whole runs; nengo: consecutive windows; hand Lava: Lava's
run() after a 1-step start-up; snnc lava: the worker's run() time, which excludes start-up).
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(ROOT / "bench"))

import cpu_step  # noqa: E402

from compiler.ir import LIFParams, NetworkIR, Population, Projection  # noqa: E402

NENGO_VENVS = [ROOT / "bench" / ".nengo-venv", Path("/tmp/nengo-venv")]
NENGO_PINS = ["nengo-loihi==1.1.0", "nengo==3.2.0", "numpy<1.24", "scipy<1.12"]
DT = 0.001


# ---------------------------------------------------------------- nengo-loihi (other venv)
def find_nengo_python(explicit: str | None) -> str | None:
    """The interpreter of a venv with nengo-loihi: --nengo-python, bench/.nengo-venv, /tmp/nengo-venv."""
    cands = [Path(explicit)] if explicit else [v / "bin" / "python" for v in NENGO_VENVS]
    for py in cands:
        if py.exists() and subprocess.run([str(py), "-c", "import nengo_loihi"],
                                          capture_output=True).returncode == 0:
            return str(py)
    return None


def setup_nengo() -> str:
    """Create bench/.nengo-venv (Python 3.10) with the pinned nengo-loihi stack; its python."""
    venv = NENGO_VENVS[0]
    base = subprocess.run(["bash", "-c", "echo $(pyenv root)/versions/3.10.13/bin/python"],
                          capture_output=True, text=True).stdout.strip()
    py310 = base if base and Path(base).exists() else sys.executable
    subprocess.run([py310, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *NENGO_PINS], check=True)
    return str(venv / "bin" / "python")


def run_nengo(py: str, case: str, steps: int, repeat: int, net_npz: str | None,
              timeout: float, tau_ref: float = 0.002) -> dict | None:
    """bench/peers_nengo.py in the nengo venv; its npz as a dict, or None on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "nengo.npz"
        cmd = [py, str(ROOT / "bench" / "peers_nengo.py"), "--case", case, "--steps", str(steps),
               "--repeat", str(repeat), "--out", str(out)]
        if net_npz:
            cmd += ["--net", net_npz]
        cmd += ["--tau-ref", str(tau_ref)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            print(f"  nengo-loihi {case}: timed out after {timeout:.0f} s", file=sys.stderr)
            return None
        if proc.returncode != 0 or not out.exists():
            print(f"  nengo-loihi {case} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            return None
        return dict(np.load(out))


# ---------------------------------------------------------------- case 1: 2 x 1000 ensembles
def ens_ir(nd: dict) -> tuple[NetworkIR, dict]:
    """nengo's float LIF net (gain, bias, weights; tau_rc, tau_s) as Lava fixed_pt LIF.

    Per step nengo's v gains J * (1 - exp(-dt/tau_rc)) (threshold 1); Lava's gains u + bias with
    threshold T = vth << 6. So bias_mant = J_bias * (1 - r_v) * T and, as a spike's u sums to
    64 w_int / (1 - r_u) while nengo's synaptic current integrates to w, w_int = w (1 - r_v)
    (1 - r_u) T / (64 dt). T is the largest multiple of 64 keeping |w_int| <= 255 (8 bits).
    The refractory period (tau_ref, 2 ms) has no Lava LIF counterpart and is dropped.
    """
    r_v = np.exp(-DT / float(nd["tau_rc"]))
    r_u = np.exp(-DT / float(nd["tau_s"]))
    c = (1 - r_v) * (1 - r_u) / (64 * DT)
    # nengo-loihi stores weights for spikes of height 1 (its builder divides by dt); nengo's
    # spikes have height 1/dt, so a spike's current integrates to weights * dt
    w = nd["weights"] * DT
    vth = max(1, int(254 / (np.abs(w).max() * c) // 64))
    thr = 64 * vth
    du = int(round(4095 - 4096 * r_u))  # Lava: u * (4095 - du) / 4096
    dv = int(round(4096 * (1 - r_v)))   # Lava: v * (4096 - dv) / 4096
    pops = {}
    for name in ("a", "b"):
        bias = nd[f"{name}.bias"] * (1 - r_v) * thr
        # Lava keeps bias_mant in int16: a shared bias_exp makes the largest one fit
        b_exp = max(0, int(np.ceil(np.log2(np.abs(bias).max() / 32767))))
        mant = np.round(bias / 2**b_exp).astype(np.int64)
        pops[name] = Population(name, bias.size, "lif", lif=LIFParams(
            du=du, dv=dv, vth=vth, bias_mant=mant, bias_exp=b_exp))
    w_int = (2 * np.round(w * c * thr / 2)).astype(np.int32)
    post, pre = np.nonzero(w_int)
    proj = Projection("a_b", "a", "b", pre.astype(np.int32), post.astype(np.int32),
                      w_int[post, pre], np.zeros(post.size, np.int16))
    ir = NetworkIR("ens2x1000", precision="fixed", populations=pops, projections={"a_b": proj})
    return ir, {"du": du, "dv": dv, "vth": vth, "bias_exp": pops["a"].lif.bias_exp,
                "synapses": int(post.size)}


def hand_ens_worker(net_pkl: str, steps: int, out: str) -> None:
    """Hand-written Lava: LIF a -> Dense -> LIF b (fixed_pt), sinks on both; pickle timings+spikes."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.lif.process import LIF

    ir: NetworkIR = pickle.loads(Path(net_pkl).read_bytes())
    t0 = time.perf_counter()
    lifs, sinks = {}, {}
    for name, pop in ir.populations.items():
        q = pop.lif
        lifs[name] = LIF(shape=(pop.size,), du=q.du, dv=q.dv, vth=q.vth, bias_mant=q.bias_mant,
                         bias_exp=q.bias_exp)
        sinks[name] = Sink(shape=(pop.size,), buffer=steps)
        lifs[name].s_out.connect(sinks[name].a_in)
    pr = ir.projections["a_b"]
    dense = Dense(weights=pr.dense_weights(ir.populations["b"].size, ir.populations["a"].size))
    lifs["a"].s_out.connect(dense.s_in)
    dense.a_out.connect(lifs["b"].a_in)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    res = {"build_s": time.perf_counter() - t0}
    try:
        t0 = time.perf_counter()
        lifs["a"].run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        res["setup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        lifs["a"].run(condition=RunSteps(num_steps=steps - 1), run_cfg=cfg)
        res["ms_per_step"] = 1e3 * (time.perf_counter() - t0) / (steps - 1)
        res["spikes"] = {k: s.data.get().T.astype(bool) for k, s in sinks.items()}
    finally:
        lifs["a"].stop()
    Path(out).write_bytes(pickle.dumps(res))


def run_hand_ens(ir: NetworkIR, steps: int, timeout: float) -> dict | None:
    """hand_ens_worker in a child process group, killed on timeout."""
    with tempfile.TemporaryDirectory() as tmp:
        net, out = Path(tmp) / "net.pkl", Path(tmp) / "out.pkl"
        net.write_bytes(pickle.dumps(ir))
        proc = subprocess.Popen([sys.executable, __file__, "--hand-ens", str(net), str(steps),
                                 str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return None
        if proc.returncode != 0 or not out.exists():
            print(log.decode(errors="replace")[-2000:], file=sys.stderr)
            return None
        return pickle.loads(out.read_bytes())


def merge_pairs(net: dict) -> dict:
    """cpu_step's net with repeated (post, pre) pairs summed into one synapse, zeros dropped.

    Lava's weight matrices (and so snnc's lava backend) hold one synapse per pair; cpu_step's
    hand Lava net sums them the same way (np.add.at into its Dense matrix). The weights are
    even, so the sums lose nothing to Lava's mixed-sign 8-bit rounding.
    """
    n = net["n"]
    key = net["post"].astype(np.int64) * n + net["pre"]
    uniq, inv = np.unique(key, return_inverse=True)
    w = np.bincount(inv, weights=net["weight"]).astype(np.int32)
    keep = w != 0
    return {**net, "pre": (uniq % n)[keep].astype(np.int32),
            "post": (uniq // n)[keep].astype(np.int32), "weight": w[keep]}


# ---------------------------------------------------------------- snnc runners
def run_snnc(ir: NetworkIR, steps: int, repeat: int, timeout: float) -> dict:
    """Compile once (timed), then best-of-`repeat` runs on cpu and on lava (grouped)."""
    import backends.lava as lava
    from backends.cpu import Simulator
    from compiler.errors import BackendError
    from runtime import compile as snnc_compile

    t0 = time.perf_counter()
    program = snnc_compile(ir)
    build_s = time.perf_counter() - t0
    rows = {}
    best, setup, spikes = float("inf"), float("inf"), None
    for _ in range(repeat):  # a fresh simulator each time: every run starts from rest
        t0 = time.perf_counter()
        sim = Simulator(program, probes=[])
        t1 = time.perf_counter()
        res = sim.run(steps)
        best, setup = min(best, time.perf_counter() - t1), min(setup, t1 - t0)
        spikes = res.spikes
    rows["snnc cpu"] = {"build_s": build_s + setup, "ms_per_step": 1e3 * best / steps,
                        "spikes": spikes}
    best, lava_build, lspikes, err = float("inf"), float("inf"), None, None
    for _ in range(repeat):
        try:
            res = lava.run(program, steps, [], granularity="grouped", timeout_s=timeout)
        except BackendError as exc:
            err = str(exc)[:200]
            print(f"  snnc lava: {err}", file=sys.stderr)
            break
        best = min(best, res.meta.get("lava_run_s", res.wall_s))
        lava_build = min(lava_build, res.meta.get("lava_build_s", 0.0))
        lspikes = res.spikes
    rows["snnc lava"] = {"build_s": build_s + lava_build, "ms_per_step": 1e3 * best / steps if lspikes else
                         float("nan"), "spikes": lspikes, "error": err}
    return rows


# ---------------------------------------------------------------- comparison and table
def agree(ref: dict, other: dict | None, pops: list[str]) -> str:
    if not other:
        return "-"
    same = all(np.array_equal(ref[p], other[p]) for p in pops)
    if same:
        return "exact"
    diff = sum(int((ref[p] != other[p]).sum()) for p in pops)
    return f"NO ({diff} differ)"


def rates(spikes: dict | None, pops: list[str]) -> str:
    if not spikes:
        return "-"
    return ", ".join(f"{p} {1e3 * spikes[p].mean():.1f} Hz" for p in pops)


def rate_corr(ref: dict, other: dict | None, pops: list[str]) -> str:
    """Per-neuron firing-rate correlation (Pearson r) of `other` against `ref`, per population."""
    if not other:
        return "-"
    return ", ".join(f"{p} r={np.corrcoef(ref[p].mean(0), other[p].mean(0))[0, 1]:.4f}"
                     for p in pops)


def run_case(case: str, args: argparse.Namespace, nengo_py: str | None) -> list[dict]:
    steps, rep = args.steps, args.repeat
    rows = []
    if case == "ens2x1000":
        nd = (run_nengo(nengo_py, case, steps, rep, None, args.timeout, args.tau_ref)
              if nengo_py else None)
        if nd is None:
            print("  ens2x1000 needs nengo-loihi (it builds the network); skipped")
            return rows
        ir, info = ens_ir(nd)
        pops = ["a", "b"]
        snnc = run_snnc(ir, steps, rep, args.timeout)
        hand = None
        for _ in range(rep):
            h = run_hand_ens(ir, steps, args.timeout)
            if h and (hand is None or h["ms_per_step"] < hand["ms_per_step"]):
                hand = h
        nspk = {p: nd[f"{p}.spikes"] for p in pops}
        note = (f"du={info['du']} dv={info['dv']} vth={info['vth']} bias_exp(a)="
                f"{info['bias_exp']}, {info['synapses']} synapses, nengo tau_ref={args.tau_ref}")
    else:
        net = cpu_step.build(4000, args.seed)
        total = cpu_step.WARMUP + steps
        ir = cpu_step.cpu_program(merge_pairs(net), "fixed").network
        pops = ["a"]
        snnc = run_snnc(ir, total, rep, args.timeout)
        hand = None
        for _ in range(rep):
            h = cpu_step.time_lava(4000, steps, args.seed, read=True, timeout=args.timeout)
            if h and (hand is None or h["ms_per_step"] < hand["ms_per_step"]):
                hand = h
        if hand is not None:
            hand["spikes"] = {"a": hand["spikes"]}
        nd = None
        if nengo_py:
            with tempfile.TemporaryDirectory() as tmp:
                path = str(Path(tmp) / "net.npz")
                np.savez(path, vth=cpu_step.VTH, **net)
                nd = run_nengo(nengo_py, case, total, rep, path, args.timeout)
        nspk = {"a": nd["a.spikes"]} if nd else None
        note = (f"{net['pre'].size} synapses ({ir.projections['r'].n_synapses} distinct pairs), "
                f"{cpu_step.WARMUP} warm-up steps included")
        steps = total
    ref = snnc["snnc cpu"]["spikes"]
    entries = [("snnc cpu", snnc["snnc cpu"], "ref"),
               ("snnc lava (grouped)", snnc["snnc lava"], agree(ref, snnc["snnc lava"]["spikes"], pops)),
               ("hand Lava", hand, agree(ref, hand and hand.get("spikes"), pops)),
               ("nengo-loihi emulator", nd,
                f"per-neuron rates: {rate_corr(ref, nspk, pops)}" if nd else "-")]
    for name, r, same in entries:
        if r is None:
            rows.append({"case": case, "runner": name, "build_s": float("nan"),
                         "ms_per_step": float("nan"), "spikes": "not run", "rates": "-", "note": note})
            continue
        spk = nspk if name.startswith("nengo") else r.get("spikes")
        build = r.get("build_s", 0.0) + r.get("setup_s", 0.0)  # hand Lava: + its first run(1)
        rows.append({"case": case, "runner": name, "build_s": float(build),
                     "ms_per_step": float(r["ms_per_step"]), "spikes": same,
                     "rates": rates(spk, pops), "note": note, "steps": steps})
    cpu_ms = rows[0]["ms_per_step"]
    for r in rows:
        r["x_vs_cpu"] = r["ms_per_step"] / cpu_ms if cpu_ms > 0 else float("nan")
    return rows


def table(rows: list[dict]) -> str:
    head = ("| case | runner | build s | ms/step | x snnc cpu | spikes vs snnc cpu | mean rate |\n"
            "|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r['case']} | {r['runner']} | {r['build_s']:.2f} | {r['ms_per_step']:.3f} | "
                     f"{r['x_vs_cpu']:.1f} | {r['spikes']} | {r['rates']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="ens2x1000,rand4k")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per Lava/nengo run")
    ap.add_argument("--nengo-python", help="python of a venv with nengo-loihi "
                    "(default: bench/.nengo-venv or /tmp/nengo-venv)")
    ap.add_argument("--setup-nengo", action="store_true",
                    help=f"create bench/.nengo-venv with {' '.join(NENGO_PINS)}")
    ap.add_argument("--tau-ref", type=float, default=0.0,
                    help="ens2x1000: nengo LIF refractory period in s (nengo's default is 0.002; "
                    "Lava's LIF has none, so 0 makes the rates comparable)")
    ap.add_argument("--md", help="also write the table (markdown) to this file")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--hand-ens", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.hand_ens:
        net, steps, out = args.hand_ens
        hand_ens_worker(net, int(steps), out)
        return 0
    py = setup_nengo() if args.setup_nengo else find_nengo_python(args.nengo_python)
    if py is None:
        print("nengo-loihi: not installed (see bench/peers_lava.py --help)")
    print(f"load average (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} cores; "
          f"steps {args.steps}, best of {args.repeat}", flush=True)
    rows = []
    for case in args.cases.split(","):
        rows += run_case(case, args, py)
        print(table([r for r in rows if r["case"] == case]), flush=True)
    text = table(rows)
    notes = sorted({f"{r['case']}: {r['note']}" for r in rows})
    print("\n".join(notes))
    if args.md:
        Path(args.md).write_text(text + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
