"""CPU backend versus Lava itself (fixed_pt), bit for bit, on small random networks.

The Lava side is built by hand here (RingBuffer -> DelayDense/Dense -> LIF, sinks and
Monitors), independent of snnc's Lava backend, and runs in a subprocess under a timeout
(Lava hangs when a process model raises). Run as a script it is that subprocess.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from repo import ROOT

STEPS = 30


def make_spec(seed: int) -> dict:
    """Random matrices and parameters shared by the Lava script and the CPU network."""
    rng = np.random.default_rng(seed)
    ns, na, nb = (int(x) for x in rng.integers(8, 31, 3))

    def mat(npost, npre, lo, hi, p):
        w = rng.integers(lo, hi, (npost, npre))
        return np.where(rng.random((npost, npre)) < p, w, 0)

    return {
        "data": rng.random((STEPS, ns)) < 0.15,
        "lif": {
            "a": dict(du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 800)),
                      vth=int(rng.integers(8, 20)), bias_mant=rng.integers(-20, 40, na),
                      bias_exp=int(rng.integers(0, 3))),
            "b": dict(du=4095, dv=int(rng.integers(0, 4096)), vth=int(rng.integers(8, 20)),
                      bias_mant=rng.integers(0, 15, nb), bias_exp=1),
        },
        # name: (pre, post, weights (post, pre), delays or None (plain Dense), weight_exp,
        #        num_weight_bits)
        "proj": {
            "sa": ("s", "a", mat(na, ns, -120, 200, 0.5), rng.integers(0, 6, (na, ns)), -1, 6),
            "aa": ("a", "a", mat(na, na, -150, 100, 0.3), None, 1, 6),
            "ab": ("a", "b", mat(nb, na, -60, 120, 0.6), rng.integers(0, 6, (nb, na)), -1, 6),
        },
    }


def extreme_spec() -> dict:
    """Inputs that overflow: a_in << 6 beyond int32, u at exactly +-2**23, u past 2**23."""
    ns, steps = 1100, 6
    data = np.zeros((steps, ns), bool)
    data[[0, 3]] = True
    wa = np.zeros((2, ns), int)
    wa[0] = 255          # 1100 x (255 << 7) << 6 wraps int32
    wa[1, :8] = 128      # 8 x (128 << 7) << 6 = 2**23 exactly
    wb = np.zeros((2, ns), int)
    wb[0, :8] = -128     # -2**23 -> +2**23 in Lava's wrap
    wb[1, :5] = -255     # -5 x 32640 << 6 < -2**23 -> + 2**24
    big = dict(du=4095, dv=0, vth=131072, bias_exp=0)
    return {"data": data,
            "lif": {"a": dict(big, bias_mant=np.zeros(2, int)),
                    "b": dict(big, du=2000, bias_mant=np.array([5, -7]))},
            "proj": {"sa": ("s", "a", wa, None, 7, 8), "sb": ("s", "b", wb, None, 7, 8)}}


def float_spec(seed: int) -> dict:
    """make_spec's network in float precision: dyadic weights and decays keep sums exact."""
    spec = make_spec(seed)
    rng = np.random.default_rng(seed + 100)
    spec["precision"] = "float"
    spec["lif"] = {name: dict(du=float(rng.choice([0.0, 0.25, 0.5])),
                              dv=float(rng.choice([0.0, 0.125, 0.5])), vth=float(rng.integers(8, 20)),
                              bias_mant=prm["bias_mant"] / 4.0, bias_exp=0)
                   for name, prm in spec["lif"].items()}
    spec["proj"] = {name: (pre, post, w / 8.0, d, e, bits)
                    for name, (pre, post, w, d, e, bits) in spec["proj"].items()}
    return spec


def lava_main(spec_path: str, out_path: str) -> None:
    """Build and run the spec in Lava (fixed_pt or floating_pt); pickle spikes, v and u per step."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    spec = pickle.loads(Path(spec_path).read_bytes())
    data = spec["data"]
    steps = data.shape[0]
    fixed = spec.get("precision", "fixed") == "fixed"
    procs = {"s": Source(data=data.T.astype(np.int32 if fixed else np.float64))}
    for name, prm in spec["lif"].items():
        procs[name] = LIF(shape=(len(prm["bias_mant"]),), **prm)
    for pre, post, w, d, e, bits in spec["proj"].values():
        if d is None:
            conn = Dense(weights=w, weight_exp=e, num_weight_bits=bits)
        else:
            conn = DelayDense(weights=w, delays=d, weight_exp=e, num_weight_bits=bits)
        procs[pre].s_out.connect(conn.s_in)
        conn.a_out.connect(procs[post].a_in)
    sinks, monitors = {}, {}
    for name in spec["lif"]:
        sinks[name] = Sink(shape=procs[name].s_out.shape, buffer=steps)
        procs[name].s_out.connect(sinks[name].a_in)
        for var in ("v", "u"):
            mon = Monitor()
            mon.probe(getattr(procs[name], var), steps)
            monitors[name, var] = mon
    lif_a = procs["a"]
    out = {}
    try:
        tag = "fixed_pt" if fixed else "floating_pt"
        lif_a.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag=tag))
        for name, sink in sinks.items():
            out[f"{name}.spikes"] = sink.data.get().T.astype(bool)
        for (name, var), mon in monitors.items():
            rec = mon.get_data()[procs[name].name][var]
            out[f"{name}.{var}"] = np.asarray(rec).reshape(steps, -1).astype(
                np.int64 if fixed else np.float64)
    finally:
        lif_a.stop()
    Path(out_path).write_bytes(pickle.dumps(out))


def run_lava(spec: dict, tmp_path: Path, timeout: float = 300) -> dict:
    """Run lava_main in a subprocess (own process group, killed whole on timeout)."""
    spec_path, out_path = tmp_path / "spec.pkl", tmp_path / "out.pkl"
    spec_path.write_bytes(pickle.dumps(spec))
    root = ROOT
    proc = subprocess.Popen([sys.executable, __file__, str(spec_path), str(out_path)],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])})
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"Lava did not finish within {timeout} s")
    assert proc.returncode == 0 and out_path.exists(), log.decode(errors="replace")[-3000:]
    return pickle.loads(out_path.read_bytes())


def cpu_network(spec: dict):
    from netfactory import dense_proj, lif, network, source

    pops = [source("s", spec["data"].shape[1], data=spec["data"])]
    pops += [lif(name, len(prm["bias_mant"]), **prm) for name, prm in spec["lif"].items()]
    fixed = spec.get("precision", "fixed") == "fixed"
    projs = [dense_proj(name, pre, post, w, 0 if d is None else d, weight_exp=e,
                        num_weight_bits=bits, fixed=fixed)
             for name, (pre, post, w, d, e, bits) in spec["proj"].items()]
    return network(pops, projs, spec.get("precision", "fixed"), [f"{n}.{v}" for n in spec["lif"] for v in ("v", "u")])


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cpu_matches_lava_bit_for_bit(seed, tmp_path):
    pytest.importorskip("lava")
    from netfactory import program

    import backends.cpu as cpu

    spec = make_spec(seed)
    result = cpu.run(program(cpu_network(spec)), STEPS)
    lava = run_lava(spec, tmp_path)
    for name in spec["lif"]:
        assert result.spikes[name].any(), "test network too quiet to compare"
        assert not result.spikes[name].all()
    assert_same(result, lava, spec)


@pytest.mark.lava
@pytest.mark.slow
def test_cpu_matches_lava_float(tmp_path):
    pytest.importorskip("lava")
    from netfactory import program

    import backends.cpu as cpu

    spec = float_spec(0)
    result = cpu.run(program(cpu_network(spec)), STEPS)
    lava = run_lava(spec, tmp_path)
    assert result.spikes["a"].any() and result.spikes["b"].any()
    assert_same(result, lava, spec)


@pytest.mark.lava
@pytest.mark.slow
def test_cpu_matches_lava_on_overflows(tmp_path):
    """Lava's a_in InPort is declared int16 but sums int32 channel data: no int16 wrap."""
    pytest.importorskip("lava")
    from netfactory import program

    import backends.cpu as cpu

    spec = extreme_spec()
    steps = spec["data"].shape[0]
    result = cpu.run(program(cpu_network(spec)), steps)
    lava = run_lava(spec, tmp_path)
    # hand-derived values at step 1 (see test_cpu_equations): int32 wrap then one 2**24
    assert lava["a.u"][1].tolist() == [2297856000 - 2**32 + 2**24, 2**23]
    assert lava["b.u"][1].tolist() == [2**23, -5 * 32640 * 64 + 2**24]
    assert_same(result, lava, spec)


def assert_same(result, lava: dict, spec: dict) -> None:
    for name in spec["lif"]:
        np.testing.assert_array_equal(result.spikes[name], lava[f"{name}.spikes"], err_msg=name)
        for var in ("v", "u"):
            np.testing.assert_array_equal(result.values[f"{name}.{var}"], lava[f"{name}.{var}"],
                                          err_msg=f"{name}.{var}")


if __name__ == "__main__":
    lava_main(sys.argv[1], sys.argv[2])
