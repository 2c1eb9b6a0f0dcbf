"""The nengo-loihi half of bench/peers_lava.py; runs in its own venv (nengo 3.2, numpy < 1.24).

    PY bench/peers_nengo.py --case ens2x1000|rand4k --steps N --repeat R --out OUT.npz [--net NET.npz]

ens2x1000: two 1000-neuron ensembles, a -> b with neuron-to-neuron weights (the pattern of
nengo-loihi's docs/examples/ens_ens.py, scaled to 1000 + 1000; `a` is split into 250-neuron
blocks because 1000 neurons with weights to `b` need 9000 output axons on one core).
rand4k: the network in NET.npz (pre, post, weight, bias, vth; Lava fixed_pt units, du=4095,
dv=0) as a nengo SpikingRectifiedLinear ensemble with a Sparse recurrent transform.
Writes build_s, ms_per_step (best of R windows of N steps; state continues), the spikes of
the first window and, for ens2x1000, the float gains/biases/weights so snnc can run it too.
Imports no snnc code (it runs in another interpreter).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

DT = 0.001


def ens2x1000(seed: int, tau_ref: float):
    import nengo
    import nengo_loihi

    with nengo.Network(seed=seed) as model:
        nengo_loihi.add_params(model)
        model.config[nengo.Ensemble].neuron_type = nengo.LIF(tau_ref=tau_ref)
        a = nengo.Ensemble(1000, 1, label="a")
        b = nengo.Ensemble(1000, 1, label="b")
        model.config[a].block_shape = nengo_loihi.BlockShape((250,), (1000,))
        conn = nengo.Connection(a, b, solver=nengo.solvers.LstsqL2(weights=True))
        probes = {"a": nengo.Probe(a.neurons), "b": nengo.Probe(b.neurons)}
    return model, probes, {"a": a, "b": b, "conn": conn}


def rand4k(net: dict, seed: int):
    """Lava units -> nengo: threshold vth << 6 is nengo's 1, so v += w * 64 / (vth * 64) per spike."""
    import nengo

    n = int(net["n"])
    thr = float(net["vth"]) * 64.0
    with nengo.Network(seed=seed) as model:
        ens = nengo.Ensemble(n, 1, label="a", neuron_type=nengo.SpikingRectifiedLinear(),
                             gain=np.ones(n), bias=net["bias"] / thr / DT)
        # nengo multiplies input to .neurons by the gain (1 here; the ensemble gets no decoded
        # input); a spike (height 1/dt) then adds transform to v against a threshold of 1
        w = net["weight"] * 64.0 / thr
        sparse = nengo.transforms.Sparse((n, n), indices=np.stack([net["post"], net["pre"]], 1),
                                         init=w)
        nengo.Connection(ens.neurons, ens.neurons, transform=sparse, synapse=None)
        probes = {"a": nengo.Probe(ens.neurons)}
    return model, probes, {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", required=True, choices=["ens2x1000", "rand4k"])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--net")
    ap.add_argument("--tau-ref", type=float, default=0.002, help="LIF refractory period (s)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import nengo_loihi

    t0 = time.perf_counter()
    if args.case == "ens2x1000":
        model, probes, objs = ens2x1000(args.seed, args.tau_ref)
    else:
        model, probes, objs = rand4k(dict(np.load(args.net)), args.seed)
    sim = nengo_loihi.Simulator(model, dt=DT, target="sim", progress_bar=False)
    build_s = time.perf_counter() - t0
    out = {"build_s": build_s, "steps": args.steps}
    windows = []
    with sim:
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            sim.run_steps(args.steps)
            windows.append(1e3 * (time.perf_counter() - t0) / args.steps)
        for name, p in probes.items():
            out[f"{name}.spikes"] = sim.data[p][: args.steps] > 0
        if objs:
            for name in ("a", "b"):
                out[f"{name}.gain"] = sim.data[objs[name]].gain
                out[f"{name}.bias"] = sim.data[objs[name]].bias
            # (post, pre), float, for spikes of height 1 (nengo-loihi divided them by dt)
            out["weights"] = sim.data[objs["conn"]].weights
            out["tau_rc"] = objs["a"].neuron_type.tau_rc
            out["tau_ref"] = objs["a"].neuron_type.tau_ref
            out["tau_s"] = objs["conn"].synapse.tau
    out["ms_per_step"] = min(windows)
    out["windows_ms"] = np.array(windows)
    np.savez(args.out, **out)
    print(f"nengo-loihi {nengo_loihi.__version__}: build {build_s:.2f} s, ms/step {windows}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
