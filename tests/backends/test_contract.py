"""The backend contract: every registered backend implements `backends.contract.Backend`, its
capabilities are facts its checks agree with, and a new backend plugs into the runtime with
one registry entry."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from netfactory import dense_proj, lif, network, program, source
from phase_nets import RELAY, _program

import backends
from backends import REGISTRY, Backend, Capabilities, get_backend
from backends.cpu import phases as cpu_phases
from backends.result import RunResult
from compiler.errors import InputError
from compiler.ir import Plasticity
from runtime import api

FLAGS = {"phases", "plasticity", "plasticity_with_delay", "wta", "progress", "float_precision",
         "duplicate_synapses", "phases_in_chunks"}
PHASED = RELAY + """\
phases:
  - name: a
    samples: {split: train}
  - name: b
    steps: 4
  - name: d
    samples: {split: test}
readout: {population: out, assign: a, evaluate: d}
"""


@pytest.mark.parametrize("name", backends.BACKENDS)
def test_every_registered_backend_satisfies_the_protocol(name):
    backend = get_backend(name)
    assert isinstance(backend, Backend)
    assert backend.name == name
    caps = backend.capabilities
    assert isinstance(caps, Capabilities)
    assert {f.name for f in dataclasses.fields(caps)} == FLAGS
    assert all(isinstance(getattr(caps, f), bool) for f in FLAGS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        caps.phases = False


def test_registry_lists_the_backends_and_refuses_unknown_names():
    assert backends.BACKENDS == ("cpu", "lava", "mpi")
    with pytest.raises(InputError, match=r"unknown backend 'lavaa'.*allowed: cpu, lava, mpi"):
        get_backend("lavaa")


def _net(delay: int = 0, duplicate: bool = False, plastic: bool = False):
    w = np.array([[20, 0], [0, 20]])
    relay = dense_proj("relay", "inp", "out", w, delays=delay)
    if duplicate:
        relay = dataclasses.replace(relay, pre_idx=np.r_[relay.pre_idx, 0].astype(np.int32),
                                    post_idx=np.r_[relay.post_idx, 0].astype(np.int32),
                                    weight=np.r_[relay.weight, 5].astype(np.int32),
                                    delay=np.r_[relay.delay, delay].astype(np.int16))
    if plastic:
        relay.plasticity = Plasticity("stdp", {"a_plus": 1, "a_minus": 1, "learning_rate": 0.125,
                                              "tau_plus": 4, "tau_minus": 4})
    spikes = np.zeros((10, 2), bool)
    spikes[::3] = True
    return network([source("inp", 2, data=spikes), lif("out", 2, du=4095, dv=4095, vth=10)],
                   [relay], steps=10)


@pytest.mark.parametrize("flag, net", [
    ("duplicate_synapses", lambda: _net(duplicate=True)),
    ("plasticity_with_delay", lambda: _net(delay=2, plastic=True)),
])
def test_capability_flags_agree_with_each_backends_check(flag, net):
    for name in backends.BACKENDS:
        backend = get_backend(name)
        if getattr(backend.capabilities, flag):
            assert backend.check(program(net()), {}) is None
        else:
            with pytest.raises(InputError, match="projection 'relay'"):
                backend.check(program(net()), {})


def test_lava_check_refuses_a_bad_timeout_and_granularity_before_anything_starts():
    lava = get_backend("lava")
    with pytest.raises(InputError, match="timeout_s"):
        lava.check(program(_net()), {"timeout_s": 0})
    with pytest.raises(InputError, match="unknown granularity 'cores'"):
        lava.check(program(_net()), {"granularity": "cores"})
    assert lava.check(program(_net()), {"timeout_s": 5, "granularity": "core"}) is None


@dataclasses.dataclass
class FakeBackend:
    """A backend that is not cpu or lava: records its calls, runs phases through cpu's code."""

    name: str = "fake"
    capabilities: Capabilities = Capabilities(
        phases=True, plasticity=False, plasticity_with_delay=False, wta=False, progress=True,
        float_precision=False, duplicate_synapses=False, phases_in_chunks=True)
    options: tuple[str, ...] = ()
    calls: list[str] = dataclasses.field(default_factory=list)

    def check(self, program: Any, options: dict[str, Any], *, phases: bool = False) -> None:
        self.calls.append(f"check phases={phases} {sorted(options)}")
        if options.get("refuse"):
            raise InputError("fake cannot run this")

    def run(self, program: Any, steps: int, probes: Any = None, *, progress: Any = None,
            **options: Any) -> RunResult:
        self.calls.append(f"run {steps} {[p.key for p in probes]}")
        net = program.network
        if progress is not None:
            progress(steps, steps)
        spikes = {p: np.ones((steps, pop.size), bool) for p, pop in net.populations.items()}
        values = {p.key: np.full((2, 2), 7) for p in probes if p.var == "weights"}
        return RunResult(backend=self.name, steps=steps, spikes=spikes, values=values,
                         meta={"fake": True})

    def run_phases(self, program: Any, probes: Any = None, *, progress: Any = None,
                   **options: Any) -> RunResult:
        self.calls.append("run_phases")
        res = cpu_phases.run_phases(program, probes, progress=progress)
        res.meta["fake"] = True
        return res


@pytest.fixture
def fake(monkeypatch):
    backend = FakeBackend()
    monkeypatch.setitem(REGISTRY, "fake", backend)  # one entry plugs a backend in
    return backend


def test_a_new_backend_runs_through_the_api_with_one_registry_entry(fake):
    assert isinstance(fake, Backend) and get_backend("fake") is fake
    net = _net()
    done = []
    res = api.run(program(net), backend="fake", steps=6, probes=["out.spikes", "relay.weights"],
                  progress=lambda k, n: done.append((k, n)), color="blue")
    assert fake.calls == ["check phases=False ['color']", "run 6 ['out.spikes', 'relay.weights']"]
    assert done == [(6, 6)]
    assert res.backend == "fake" and res.meta["fake"] is True
    assert res["out.spikes"].shape == (6, 2) and res["out.spikes"].all()
    # the runtime adds the synapse lists of weight probes
    assert res["relay.pre"].tolist() == [0, 1] and res["relay.weight"].tolist() == [7, 7]
    with pytest.raises(InputError, match="fake cannot run this"):
        api.run(program(net), backend="fake", steps=6, refuse=True)
    assert fake.calls[-1].startswith("check")  # refused before it ran


def test_a_new_backend_runs_phases_and_the_runtime_adds_the_readout(fake):
    prog = _program(PHASED)
    ticks = []
    res = api.run(prog, backend="fake", progress=lambda k, n: ticks.append((k, n)))
    assert fake.calls == ["check phases=True []", "run_phases"]
    cpu = api.run(prog, backend="cpu")
    assert res.keys() == cpu.keys() and "readout.accuracy" in res.keys()
    assert all(np.array_equal(res[k], cpu[k]) for k in cpu.keys())
    assert res.meta["fake"] is True and res.meta["t_end"] == cpu.meta["t_end"] == 3 * 8 + 4 + 8
    assert list(res.meta["phases"]) == ["a", "b", "d"]
    assert ticks[-1] == (res.steps, res.steps)


def test_a_backend_without_phases_is_refused_by_name(fake):
    fake.capabilities = dataclasses.replace(fake.capabilities, phases=False)
    with pytest.raises(InputError, match="backend 'fake' cannot run phases"):
        api.run(_program(PHASED), backend="fake")
    assert fake.calls == []
