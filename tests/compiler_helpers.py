"""Small hand-built networks and plain usage/placement records for the compiler tests
(quantize, pipeline, artifact)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler.errors import Location
from compiler.ir import LIFParams, NetworkIR, Population, Probe, Projection, SpikeSource


def all_to_all(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    pre = np.repeat(np.arange(n_pre), n_post).astype(np.int32)
    post = np.tile(np.arange(n_post), n_pre).astype(np.int32)
    return pre, post


def proj(name: str, pre: str, post: str, n_pre: int, n_post: int, weight, delay=0,
         **kw) -> Projection:
    """An all-to-all projection with weights `weight` (scalar or array of n_pre * n_post)."""
    p, q = all_to_all(n_pre, n_post)
    w = np.broadcast_to(np.asarray(weight), p.shape).copy()
    d = np.broadcast_to(np.asarray(delay, dtype=np.int16), p.shape).copy()
    return Projection(name, pre, post, p, q, w, d, **kw)


def two_layer(precision: str = "fixed", n_in: int = 6, n_hid: int = 10, n_out: int = 4,
              seed: int = 3, source_file: str | None = None) -> NetworkIR:
    """inp (poisson) -> hid (lif) -> out (lif), mixed weights, some delays."""
    rng = np.random.default_rng(seed)
    net = NetworkIR("two_layer", precision=precision, seed=seed, steps=50, target="loihi1",
                    source_file=source_file)
    net.populations["inp"] = Population("inp", n_in, "spike_source",
                                        source=SpikeSource("poisson", rate=0.3))
    if precision == "fixed":
        lif = LIFParams(du=4095, dv=0, vth=10, bias_mant=0, bias_exp=0)
        w1 = rng.integers(-40, 200, n_in * n_hid).astype(np.int32)
        w2 = rng.integers(0, 120, n_hid * n_out).astype(np.int32)
    else:
        lif = LIFParams(du=1.0, dv=0.0, vth=10.0, bias_mant=0.0)
        w1 = rng.uniform(-0.6, 3.0, n_in * n_hid)
        w2 = rng.uniform(0.0, 2.0, n_hid * n_out)
    net.populations["hid"] = Population("hid", n_hid, "lif", lif=lif)
    net.populations["out"] = Population("out", n_out, "lif", lif=LIFParams(**vars(lif)))
    d1 = rng.integers(0, 3, n_in * n_hid)
    net.projections["inp_hid"] = proj("inp_hid", "inp", "hid", n_in, n_hid, w1, d1)
    net.projections["hid_out"] = proj("hid_out", "hid", "out", n_hid, n_out, w2)
    net.probes = [Probe("hid", "spikes"), Probe("hid", "v"), Probe("hid_out", "weights")]
    return net


def with_locations(net: NetworkIR, file: str, lines: dict[str, int]) -> NetworkIR:
    net.source_file = file
    net.locations = {k: Location(file, v, k) for k, v in lines.items()}
    return net


# ---------------------------------------------------------------- plain records

@dataclass
class FakeUsage:
    neurons: np.ndarray
    synapse_bits: np.ndarray
    in_axons: np.ndarray
    out_axons: np.ndarray
    synapses: np.ndarray


@dataclass
class FakePartition:
    core_of: dict
    n_cores: int
    usage: FakeUsage
    method: str = "fake"
    stats: dict = field(default_factory=dict)


@dataclass
class FakePlacement:
    chip: np.ndarray
    core: np.ndarray
    x: np.ndarray
    y: np.ndarray
    stats: dict = field(default_factory=dict)
