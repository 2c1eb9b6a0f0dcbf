"""Winner-take-all LIF populations (`params.wta`): one spike per step, the neuron furthest
above its threshold; YAML validation, phase switch, cpu == Lava, native-notes flag."""

from __future__ import annotations

import numpy as np
import pytest
from repo import ROOT

import runtime.phases as rp
from compiler.errors import BackendError, InputError
from compiler.frontend import network_from_dict
from compiler.pipeline import compile_network
from compiler.plasticity import native_notes
from compiler.yamlio import parse_yaml
from runtime.api import run

# three neurons driven by bias alone (no decay): v grows by the bias every step
BIAS_NET = """\
snnc: 1
name: wta_bias
precision: {precision}
steps: 3
populations:
  a:
    size: 3
    params: {{du: {du}, dv: 0, vth: {vth}, wta: {wta}}}
probes: [a.spikes, a.v]
"""

RAND_NET = """\
snnc: 1
name: wta_rand
precision: fixed
seed: 3
steps: 80
populations:
  inp: {{size: 20, model: spike_source, spikes: {{kind: poisson, rate: 0.3}}}}
  exc:
    size: 12
    params: {{du: 4095, dv: 200, vth: 120, wta: {wta}, adapt: {{increment: 5, tau: 500}}}}
projections:
  ie: {{pre: inp, post: exc, weight: {{dist: uniform, low: 0, high: 90}}}}
  ee: {{pre: exc, post: exc, weight: -100}}
probes: [exc.spikes, exc.v]
"""


def _net(text: str, **kw):
    data, locs = parse_yaml(text.format(**kw), "net.yaml")
    return network_from_dict(data, source_file="net.yaml", locations=locs)


def _bias_net(**kw):
    net = _net(BIAS_NET, **kw)
    net.populations["a"].lif.bias_mant = np.array([70, 90, 80])  # per neuron (IR level)
    return net


def test_winner_is_the_neuron_furthest_above_threshold():
    precision, du, vth = "fixed", 4095, 1
    # by hand (threshold 64 in v units, bias 70/90/80 added each step, winner reset to 0):
    # step 1: v = 70, 90, 80 -> winner 1; step 2: 140, 90, 160 -> winner 2;
    # step 3: 210, 180, 80 -> winner 0. Without wta all three spike at step 1.
    res = run(_bias_net(precision=precision, du=du, vth=vth, wta="true"))
    spikes = np.asarray(res["a.spikes"], bool)
    assert spikes.tolist() == [[False, True, False], [False, False, True], [True, False, False]]
    assert np.asarray(res["a.v"]).tolist() == [[70, 0, 80], [140, 90, 0], [0, 180, 80]]
    plain = np.asarray(run(_bias_net(precision=precision, du=du, vth=vth, wta="false"))["a.spikes"])
    assert plain[0].tolist() == [True, True, True]


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_at_most_one_spike_per_step_and_not_vacuous(precision):
    text = RAND_NET.replace("precision: fixed", f"precision: {precision}")
    if precision == "float":  # the same neuron in float units (v not scaled by 2**6)
        text = text.replace("du: 4095, dv: 200, vth: 120", "du: 1.0, dv: 0.05, vth: 120")
    plain = np.asarray(run(_net(text, wta="false"))["exc.spikes"])
    assert (plain.sum(axis=1) > 1).any()  # without wta, several neurons fire together
    w = np.asarray(run(_net(text, wta="true"))["exc.spikes"])
    assert w.sum(axis=1).max() == 1 and w.sum() >= 10


def test_wta_is_flagged_non_native():
    notes = native_notes(_net(RAND_NET, wta="true"))
    assert any("winner-take-all" in n and "exc" in n and "not native" in n for n in notes)
    assert not any("winner-take-all" in n for n in native_notes(_net(RAND_NET, wta="false")))


def test_bad_wta_value_names_file_line_and_field():
    with pytest.raises(InputError) as e:
        _net(RAND_NET, wta="1")
    msg = str(e.value)
    assert "net.yaml:" in msg and "populations.exc.params.wta" in msg and "true | false" in msg


PHASED = RAND_NET.replace("steps: 80\n", "").replace("probes: [exc.spikes, exc.v]\n", """\
probes: [exc.spikes]
phases:
  - {{name: a, steps: 40}}
  - {{name: b, steps: 40, set: {{populations.exc.params.wta: {second}}}}}
""")


def test_phase_switches_wta():
    res = rp.run_phases(compile_network(_net(PHASED, wta="true", second="false")))
    a, b = np.asarray(res["a.exc.spikes"]), np.asarray(res["b.exc.spikes"])
    assert a.sum(axis=1).max() == 1 and b.sum(axis=1).max() > 1
    with pytest.raises(InputError) as e:
        _net(PHASED, wta="true", second="'no'")
    assert "phases[1].set" in str(e.value) and "true | false" in str(e.value)


@pytest.mark.lava
@pytest.mark.slow
def test_lava_equals_cpu_with_wta_and_phase_switch():
    pytest.importorskip("lava")
    net = _net(RAND_NET, wta="true")
    cpu = run(net)
    lava = run(net, backend="lava", timeout_s=120)
    for key in ("exc.spikes", "exc.v"):
        np.testing.assert_array_equal(np.asarray(cpu[key]), np.asarray(lava[key]), err_msg=key)
    prog = compile_network(_net(PHASED, wta="false", second="true"))
    c, g = rp.run_phases(prog), rp.run_phases(prog, backend="lava", timeout_s=120)
    for key in ("a.exc.spikes", "b.exc.spikes"):
        np.testing.assert_array_equal(c[key], g[key], err_msg=key)
    assert np.asarray(g["b.exc.spikes"]).sum(axis=1).max() == 1
    assert np.asarray(g["a.exc.spikes"]).sum(axis=1).max() > 1


def test_core_granularity_refuses_a_split_wta_population():
    pytest.importorskip("lava")
    from backends.lava.plan import make_plan
    from compiler.targets import load_target

    target = load_target("loihi1")
    target.core.neurons = 5  # exc (12 neurons) spans 3 cores
    prog = compile_network(_net(RAND_NET, wta="true"), target=target)
    with pytest.raises(BackendError, match="winner-take-all"):
        make_plan(prog, granularity="core")
    make_plan(prog, granularity="grouped")  # one process per population: fine


def test_compile_reports_what_is_not_native(capsys):
    from runtime.cli import main

    program = compile_network(_net(PHASED, wta="true", second="false"))
    notes = program.report["not_native"]
    assert any("winner-take-all" in n for n in notes)
    assert any("adaptive threshold" in n for n in notes)
    assert any(n.startswith("phases b:") and "host writes" in n for n in notes)
    example = ROOT / "examples" / "digits_stdp.yaml"
    assert main(["compile", str(example), "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert any("winner-take-all" in n and "'exc'" in n for n in out["not_native"])
