"""Small NetworkIR/Program builders for the Lava backend tests, and an independent reference.

`reference_run` re-derives Lava's fixed_pt/floating_pt equations from Lava's source
(lava-nc 0.10.0's LIF and Dense process models) in plain numpy, one synapse at a time, so the
Lava backend is checked independently of the cpu backend.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import (
    LIFParams,
    NetworkIR,
    Population,
    Probe,
    Projection,
    SpikeSource,
)
from compiler.program import Core, Program
from compiler.sources import source_spikes
from compiler.target import Target


def lif_pop(name: str, size: int, **params) -> Population:
    return Population(name, size, "lif", lif=LIFParams(**params))


def source_pop(name: str, size: int, rate: float = 0.3) -> Population:
    return Population(name, size, "spike_source", source=SpikeSource("poisson", rate=rate))


def projection(name: str, pre: str, post: str, pre_idx, post_idx, weight, delay=None,
               weight_exp: int = 0, num_weight_bits: int = 8, fixed: bool = True) -> Projection:
    pre_idx = np.asarray(pre_idx, dtype=np.int32)
    n = pre_idx.size
    delay = np.zeros(n, dtype=np.int16) if delay is None else np.asarray(delay, dtype=np.int16)
    return Projection(name, pre, post, pre_idx, np.asarray(post_idx, dtype=np.int32),
                      np.asarray(weight, dtype=np.int32 if fixed else np.float64), delay,
                      weight_exp=weight_exp, num_weight_bits=num_weight_bits)


def program_of(net: NetworkIR, cores_per_pop: dict[str, int] | None = None,
               interleave: bool = False) -> Program:
    """A Program with each LIF population cut into `cores_per_pop[pop]` cores (contiguous
    blocks, or round-robin when `interleave`), cores numbered in population order."""
    cores_per_pop = cores_per_pop or {}
    core_of: dict[str, np.ndarray] = {}
    cores: list[Core] = []
    for pop in net.neuron_populations:
        k = max(1, min(cores_per_pop.get(pop.name, 1), pop.size))
        local = (np.arange(pop.size) % k) if interleave else (np.arange(pop.size) * k // pop.size)
        ids = local + len(cores)
        for c in range(k):
            cid = len(cores)
            cores.append(Core(id=cid, chip=0, core=cid, neurons={pop.name: np.flatnonzero(local == c)}))
        core_of[pop.name] = ids.astype(np.int32)
    return Program(network=net, target=Target("test"), core_of=core_of, cores=cores)


def _eff(proj: Projection, n_post: int, n_pre: int) -> np.ndarray:
    """Per-synapse effective weights, written out from Lava's clip_weights/truncate_weights."""
    w = proj.weight.astype(np.int64)
    missing = w.size < n_post * n_pre
    lo = min(w.min(initial=0), 0) if missing else w.min(initial=0)
    hi = max(w.max(initial=0), 0) if missing else w.max(initial=0)
    if lo >= 0:  # excitatory: [0, 255], drop 8 - bits
        k = 8 - proj.num_weight_bits
        return (np.clip(w, 0, 255) // 2**k) * 2**k
    if hi <= 0:  # inhibitory: magnitudes [0, 255], drop 8 - bits of the magnitude
        k = 8 - proj.num_weight_bits
        return -((np.clip(-w, 0, 255) // 2**k) * 2**k)
    k = 9 - proj.num_weight_bits  # mixed: [-256, 255], one more bit dropped (floor)
    return np.floor_divide(np.clip(w, -256, 255), 2**k) * 2**k


def reference_run(net: NetworkIR, steps: int) -> dict[str, np.ndarray]:
    """Spikes and v of every LIF population, by an explicit per-synapse loop (slow, tiny nets)."""
    fixed = net.precision == "fixed"
    spikes = {p.name: np.zeros((steps, p.size), bool) for p in net.populations.values()}
    for p in net.source_populations:
        spikes[p.name] = source_spikes(p, steps, net.seed)
    u = {p.name: np.zeros(p.size, np.int64 if fixed else float) for p in net.neuron_populations}
    v = {k: a.copy() for k, a in u.items()}
    vrec = {p.name: np.zeros((steps, p.size), np.int64 if fixed else float) for p in net.neuron_populations}
    eff = {}
    for pr in net.projections.values():
        n_post, n_pre = net.populations[pr.post].size, net.populations[pr.pre].size
        eff[pr.name] = _eff(pr, n_post, n_pre) if fixed else pr.weight.astype(float)
    for t in range(steps):
        a_in = {k: np.zeros_like(x) for k, x in u.items()}
        for pr in net.projections.values():
            # a spike of pre at step t - d - 1 reaches post at step t; the weight exponent
            # shifts the per-(projection, delay) sum as Lava's (Delay)Dense does
            sums: dict[int, np.ndarray] = {}
            for i in range(pr.n_synapses):
                src_t = t - int(pr.delay[i]) - 1
                if src_t >= 0 and spikes[pr.pre][src_t, pr.pre_idx[i]]:
                    d = int(pr.delay[i])
                    acc = sums.setdefault(d, np.zeros_like(a_in[pr.post]))
                    acc[pr.post_idx[i]] += eff[pr.name][i]
            for acc in sums.values():
                if fixed:
                    e = pr.weight_exp
                    acc = acc * 2**e if e >= 0 else np.floor_divide(acc, 2**-e)
                a_in[pr.post] += acc
        for p in net.neuron_populations:
            q = p.lif
            if fixed:
                def rtz(x):
                    return np.sign(x) * (np.abs(x) // 4096)
                un = rtz(u[p.name] * (4095 - int(q.du))) + a_in[p.name] * 64
                un = np.where(un > 2**23, un - 2**24, un)
                un = np.where(un <= -(2**23), un + 2**24, un)
                bias = int(q.bias_mant) * 2 ** int(q.bias_exp) if q.bias_exp >= 0 else \
                    int(q.bias_mant) // 2 ** int(-q.bias_exp)
                vn = np.clip(rtz(v[p.name] * (4096 - int(q.dv))) + un + bias, -(2**23 - 1), 2**23 - 1)
                s = vn > int(q.vth) * 64
            else:
                un = u[p.name] * (1 - q.du) + a_in[p.name]
                vn = v[p.name] * (1 - q.dv) + un + q.bias_mant
                s = vn > q.vth
            vn = np.where(s, 0, vn)
            u[p.name], v[p.name] = un, vn
            spikes[p.name][t] = s
            vrec[p.name][t] = vn
    out = {f"{k}.spikes": s for k, s in spikes.items()}
    out.update({f"{k}.v": x for k, x in vrec.items()})
    return out


def two_layer(precision: str = "fixed", seed: int = 3) -> NetworkIR:
    """inp(6) -> hid(8) mixed-sign all-to-all with delays, hid -> hid recurrent, bias."""
    rng = np.random.default_rng(seed)
    fixed = precision == "fixed"
    pops = {"inp": source_pop("inp", 6, 0.4),
            "hid": lif_pop("hid", 8, du=300 if fixed else 0.1, dv=200 if fixed else 0.05,
                           vth=40 if fixed else 300.0, bias_mant=3 if fixed else 1.0,
                           bias_exp=2 if fixed else 0)}
    pre, post = np.meshgrid(np.arange(6), np.arange(8), indexing="ij")
    w1 = rng.integers(-80, 200, pre.size)
    d1 = rng.integers(0, 4, pre.size)
    rp, rq = np.nonzero(rng.random((8, 8)) < 0.3)
    w2 = rng.integers(-120, 60, rp.size)
    projs = {
        "inp_hid": projection("inp_hid", "inp", "hid", pre.ravel(), post.ravel(), w1, d1,
                              weight_exp=1, num_weight_bits=7, fixed=fixed),
        "hid_hid": projection("hid_hid", "hid", "hid", rp, rq, w2, weight_exp=0,
                              num_weight_bits=6, fixed=fixed),
    }
    return NetworkIR("two_layer", precision=precision, seed=seed, populations=pops,
                     projections=projs, probes=[Probe("hid", "v")])
