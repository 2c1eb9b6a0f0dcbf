"""Compare snnc's profiler with SANA-FE 2.2.9 (`pip install sanafe`) on one network and one spike record.

The network is SANA-FE-style 64 -> 256 -> 64 (dense, LIF), with Poisson inputs, mapped the
same way in both tools onto 4 Loihi cores: inputs on one core, the hidden layer split over
two cores, the output layer on a fourth. Each core sits on its own tile of SANA-FE's
Loihi mesh (tiles 0..3, one column: (0,0)..(0,3)); snnc gets the same (x, y) positions.

SANA-FE simulates the network (its Loihi LIF) and its spike trace is fed to snnc's
profiler, so both cost models see identical spikes; the script prints the event counts of
both (they must agree), energy and latency per step, their ratio, and an energy
reconciliation that recomputes SANA-FE's total from its own per-event figures.

Run:  .venv/bin/python bench/sanafe_compare.py [--steps 100] [--rate 0.1] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compiler.ir import LIFParams, NetworkIR, Population, Projection, SpikeSource  # noqa: E402
from compiler.program import Core, Program  # noqa: E402
from compiler.targets import load_target  # noqa: E402
from runtime.profiling import activity, estimate_cost  # noqa: E402

SIZES = {"inp": 64, "hid": 256, "out": 64}
# core of each (population, neuron range): inp -> 0, hid[:128] -> 1, hid[128:] -> 2, out -> 3
PLACEMENT = {"inp": [(0, 64, 0)], "hid": [(0, 128, 1), (128, 256, 2)], "out": [(0, 64, 3)]}
TILES = [0, 1, 2, 3]  # SANA-FE tile of snnc core k; tile t of Loihi's 8 x 4 mesh is (t // 4, t % 4)
LIF = {"threshold": 1.0, "reset": 0.0, "leak_decay": 0.85}


def make_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(pre, post) dense weight matrices, mostly excitatory."""
    return {"inp_hid": rng.uniform(-0.2, 0.3, (64, 256)), "hid_out": rng.uniform(-0.08, 0.1, (256, 64))}


def run_sanafe(inputs: np.ndarray, weights: dict[str, np.ndarray], steps: int) -> tuple[dict, dict]:
    """Simulate on SANA-FE's Loihi model ('simple' timing); spikes by population and the result."""
    import sanafe

    arch = sanafe.load_loihi()
    net = sanafe.Network()
    inp = net.create_neuron_group("inp", 64, log_spikes=True)
    for i in range(64):  # one input unit per neuron: an input unit holds one spike train
        inp[i].set_attributes(soma_hw_name=f"loihi_inputs[{i}]",
                              model_attributes={"spikes": [bool(x) for x in inputs[:, i]]})
    hid = net.create_neuron_group("hid", 256, model_attributes=dict(LIF), log_spikes=True)
    out = net.create_neuron_group("out", 64, model_attributes=dict(LIF), log_spikes=True)
    inp.connect_neurons_dense(hid, {"weight": weights["inp_hid"].ravel().tolist()})
    hid.connect_neurons_dense(out, {"weight": weights["hid_out"].ravel().tolist()})
    groups = {"inp": inp, "hid": hid, "out": out}
    for name, parts in PLACEMENT.items():
        for lo, hi, core in parts:
            hw = arch.tiles[TILES[core]].cores[0]
            for i in range(lo, hi):
                groups[name][i].map_to_core(hw)
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    res = chip.sim(steps, timing_model="simple", spike_trace=True, perf_trace=True)
    spikes = {k: np.zeros((steps, n), bool) for k, n in SIZES.items()}
    for t, fired in enumerate(res["spike_trace"]):
        for addr in fired:
            spikes[addr.group_name][t, addr.neuron_offset] = True
    return spikes, res


def snnc_program(weights: dict[str, np.ndarray]) -> Program:
    """The same network and placement as a snnc Program on the built-in loihi1 target."""
    net = NetworkIR(name="sanafe_64_256_64", precision="float", steps=100, target="loihi1")
    net.populations = {
        "inp": Population("inp", 64, "spike_source", source=SpikeSource("array")),
        "hid": Population("hid", 256, "lif", lif=LIFParams()),
        "out": Population("out", 64, "lif", lif=LIFParams()),
    }
    for name, (pre, post) in {"inp_hid": ("inp", "hid"), "hid_out": ("hid", "out")}.items():
        w = weights[name]
        pi, qi = np.nonzero(np.ones_like(w, bool))  # dense: every pair is a synapse, as in SANA-FE
        net.projections[name] = Projection(name, pre, post, pi.astype(np.int32), qi.astype(np.int32),
                                           w[pi, qi], np.zeros(pi.size, np.int16))
    core_of, cores = {}, []
    for name, parts in PLACEMENT.items():
        ids = np.zeros(SIZES[name], np.int32)
        for lo, hi, core in parts:
            ids[lo:hi] = core
        core_of[name] = ids
    for k, tile in enumerate(TILES):
        members = {p: np.flatnonzero(ids == k) for p, ids in core_of.items() if np.any(ids == k)}
        cores.append(Core(k, chip=0, core=k, x=tile // 4, y=tile % 4, neurons=members))
    return Program(net, load_target("loihi1"), core_of, cores, partitioner="hand")


def compare(steps: int, rate: float, seed: int) -> tuple[dict, dict, Program, object, dict]:
    """Run SANA-FE, then snnc's profiler on SANA-FE's spikes: (spikes, SANA-FE result, program,
    snnc activity, snnc cost)."""
    rng = np.random.default_rng(seed)
    inputs = rng.random((steps, 64)) < rate
    weights = make_weights(rng)
    spikes, sf = run_sanafe(inputs, weights, steps)
    if not np.array_equal(spikes["inp"], inputs):
        raise RuntimeError("SANA-FE did not replay the input spike trains")
    prog = snnc_program(weights)
    act = activity(prog, spikes)
    return spikes, sf, prog, act, estimate_cost(prog, act)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rate", type=float, default=0.1, help="input spike probability per step")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        import sanafe  # noqa: F401
    except ImportError:
        print("sanafe is not installed: .venv/bin/pip install sanafe==2.2.9 (needs Python >= 3.10)")
        return 1

    spikes, sf, prog, act, cost = compare(args.steps, args.rate, args.seed)
    perf = sf["perf_trace"]
    T = args.steps

    print(f"network 64 -> 256 -> 64 (dense), {T} steps, input rate {args.rate}, 4 cores on 4 tiles")
    print(f"spikes: inp {spikes['inp'].sum()}, hid {spikes['hid'].sum()}, out {spikes['out'].sum()}")
    print("\nevent counts (run totals)          snnc      SANA-FE")
    rows = [("synaptic ops", act.synops.sum(), sf["spikes"]),
            ("messages (incl. local)", act.messages.sum(), sf["packets_sent"]),
            ("neurons fired (lif + inputs)", act.spikes.sum() + spikes["inp"].sum(), sf["neurons_fired"]),
            ("mesh hops", act.hops.sum(), int(np.sum(perf["hops"]))),
            ("neurons updated (SANA-FE only)", "-", sf["neurons_updated"])]
    for name, a, b in rows:
        print(f"  {name:<30} {a!s:>8} {b!s:>12}")

    e_snnc = cost["energy_pj"]["per_step"]
    e_sf = sf["energy"]["total"] * 1e12 / T
    t_snnc = cost["time_ns"]["per_step"]
    t_sf = sf["sim_time"] * 1e9 / T
    print("\nper step                    snnc (loihi1)     SANA-FE   snnc / SANA-FE")
    print(f"  energy (pJ)             {e_snnc:14.1f} {e_sf:11.1f} {e_snnc / e_sf:10.3f}")
    print(f"  latency (ns)            {t_snnc:14.1f} {t_sf:11.1f} {t_snnc / t_sf:10.3f}")

    # reconcile: SANA-FE's energy by block, recomputed from its counts and its loihi.yaml figures
    n_lif = SIZES["hid"] + SIZES["out"]
    sf_syn = sf["spikes"] * 35.5
    n_in = int(spikes["inp"].sum())  # input units fire and count as updated, at zero energy
    sf_soma = n_lif * T * 51.2 + (sf["neurons_updated"] - n_in) * 21.6 + (sf["neurons_fired"] - n_in) * 69.3
    sf_net = sf["packets_sent"] * 111.0 + np.sum(perf["hops"]) * 4.2  # all hops are north-south here
    by = cost["energy_pj"]["by_component_total"]
    print("\nenergy by block, run total (pJ)     snnc      SANA-FE  SANA-FE recomputed")
    print(f"  synapse                    {by['synops']:12.0f} {sf['energy']['synapse'] * 1e12:12.0f} {sf_syn:12.0f}")
    print(f"  soma (update+fire)         {by['neuron_updates'] + by['spikes_out']:12.0f} "
          f"{sf['energy']['soma'] * 1e12:12.0f} {sf_soma:12.0f}")
    print(f"  network (messages+hops)    {by['messages'] + by['hops'] + by['input_messages']:12.0f} "
          f"{sf['energy']['network'] * 1e12:12.0f} {sf_net:12.0f}")
    bd = cost["time_ns"]["breakdown_per_step"]
    sync = 1400.0  # SANA-FE loihi.yaml latency_sync table: 1.4 us with 4 tiles in use
    print("\nlatency per step (ns, mean)     snnc    SANA-FE")
    print(f"  core work (max over cores)  {bd['compute']:8.1f} {t_sf - sync:10.1f}")
    print(f"  network                     {bd['network']:8.1f} {0.0:10.1f}")
    print(f"  barrier / sync              {bd['barrier']:8.1f} {sync:10.1f}")
    print("snnc: max over cores of (neuron access + synops + spikes out + messages out) + longest")
    print("route + barrier; SANA-FE 'simple': max(max sender work, max receiver work) + sync(tiles),")
    print("where receiver work = 16 ns per message in + 3.8 ns per synop and sender work also")
    print("charges 3.7 ns per updated neuron.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
