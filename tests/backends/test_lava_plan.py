"""Lava backend lowering plan and input checks: pure numpy, no Lava needed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from lava_nets import lif_pop, program_of, projection, source_pop, two_layer

import backends.lava as bl
from backends.lava.job import default_learning
from backends.lava.plan import make_plan
from compiler.errors import BackendError
from compiler.ir import NetworkIR, Plasticity
from compiler.lava_weights import effective_weights, sign_mode


def test_import_does_not_load_lava():
    code = "import sys, backends.lava; print('lava' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_grouped_plan_one_process_per_population_and_projection():
    plan = make_plan(program_of(two_layer()), "grouped")
    assert sorted(plan.groups) == ["hid", "inp"]
    assert sorted(plan.blocks) == ["hid_hid", "inp_hid"]
    # inp_hid has delays 0..3 and is all-to-all: DelayDense; hid_hid density ~0.3 >= 0.2: Dense
    assert plan.blocks["inp_hid"].kind == "delay_dense"
    assert plan.blocks["hid_hid"].kind == "dense"
    assert plan.blocks["inp_hid"].shape == (8, 6)


def test_core_plan_has_one_synapse_process_per_destination_core():
    net = two_layer()
    program = program_of(net, {"hid": 2})
    plan = make_plan(program, "core")
    assert sorted(plan.groups) == ["hid@c0", "hid@c1", "inp"]
    assert plan.groups["hid@c0"].index.tolist() == [0, 1, 2, 3]
    # the spike bus: inp (6), then hid's two slices (4 + 4)
    assert plan.bus == ["inp", "hid@c0", "hid@c1"] and plan.bus_size == 14
    assert plan.bus_offsets() == {"inp": 0, "hid@c0": 6, "hid@c1": 10}
    # both projections (weight_exp 1 and 0) merge into one block per destination core
    assert sorted(plan.blocks) == ["in:hid@core0", "in:hid@core1"]
    assert plan.n_processes == 3 + 1 + 2
    b = plan.blocks["in:hid@core1"]
    assert b.on_bus and b.projs == ("inp_hid", "hid_hid") and b.shape == (4, 14)
    assert (b.sign_mode, b.num_weight_bits) == ("mixed", 9)
    # every synapse exactly once, at (post-local row, bus column), with its weight at the
    # block's weight_exp: Lava's effective weight << (projection weight_exp - block's)
    want = {}
    for proj, col0 in ((net.projections["inp_hid"], 0), (net.projections["hid_hid"], 6)):
        eff = effective_weights(proj.weight, proj.num_weight_bits, sign_mode(proj.weight))
        for pre, post, w in zip(proj.pre_idx, proj.post_idx, eff, strict=True):
            if post >= 4:
                scaled = int(w) * 2 ** proj.weight_exp
                want[(int(post) - 4, col0 + int(pre))] = scaled
    got = {(int(r), int(c)): int(w) * 2 ** b.weight_exp
           for r, c, w in zip(b.rows, b.cols, b.weight, strict=True)}
    assert got == want
    assert all(-256 <= int(w) <= 255 for w in b.weight)


def test_merged_blocks_split_where_lava_could_not_add_exactly():
    pops = {"a": lif_pop("a", 4), "b": lif_pop("b", 4)}
    projs = {"ab": projection("ab", "a", "b", [0, 3], [1, 1], [10, 20], weight_exp=-1),
             "ab2": projection("ab2", "a", "b", [0, 2], [1, 1], [100, 255]),
             "ab3": projection("ab3", "a", "b", [0], [1], [-255], weight_exp=3)}
    net = NetworkIR("n", populations=pops, projections=projs)
    plan = make_plan(program_of(net, {"a": 2, "b": 2}), "core")
    dst = {b.name: (b.projs, b.weight_exp) for b in plan.blocks.values()}
    # weight_exp < 0: a block of its own (Lava floors its sum), both source cores in it;
    # ab3 repeats ab2's (1, 0) pair and needs weight_exp 3: another block
    assert dst == {"in:b@core2[ab]": (("ab",), -1), "in:b@core2": (("ab2",), 0),
                   "in:b@core2#1": (("ab3",), 3)}
    assert plan.blocks["in:b@core2[ab]"].cols.tolist() == [0, 3]  # a's two slices on the bus


def test_chip_granularity_groups_by_chip():
    net = two_layer()
    program = program_of(net, {"hid": 3})
    for c in program.cores:
        c.chip = 0 if c.id < 2 else 1
    plan = make_plan(program, "chip")
    assert sorted(g.name for g in plan.groups.values()) == ["hid@chip0", "hid@chip1", "inp"]
    assert plan.groups["hid@chip0"].index.tolist() == [0, 1, 2, 3, 4, 5]
    assert sorted(b.name for b in plan.blocks.values()) == ["in:hid@chip0", "in:hid@chip1"]


def test_sparse_kind_for_low_density():
    pops = {"a": source_pop("a", 20), "b": lif_pop("b", 20)}
    net = NetworkIR("n", populations=pops, projections={
        "ab": projection("ab", "a", "b", [0, 5, 7], [1, 2, 3], [10, 20, 30]),
        "ba": projection("ba", "b", "b", [0, 5], [1, 2], [10, 20], delay=[2, 0])})
    plan = make_plan(program_of(net), "grouped")
    assert plan.blocks["ab"].kind == "sparse"
    assert plan.blocks["ba"].kind == "delay_sparse"
    forced = make_plan(program_of(net), "grouped", dense_projections=frozenset({"ab"}))
    assert forced.blocks["ab"].kind == "dense"


def test_sign_mode_and_effective_weights_follow_lava():
    # values worked out by hand from lava/utils/weightutils.py
    assert effective_weights(np.array([300, 255, 7, -13, -300]), 7, mode="mixed").tolist() == \
        [252, 252, 4, -16, -256]
    assert effective_weights(np.array([300, 7, 6]), 7, mode="excitatory").tolist() == [254, 6, 6]
    assert effective_weights(np.array([-300, -13, -2]), 6, mode="inhibitory").tolist() == [-252, -12, 0]
    # a (1, 2) matrix with absent synapses (zeros): the per-synapse weights give Lava's mode
    p = projection("p", "a", "b", [0, 1], [0, 0], [-5, -1])
    assert sign_mode(p.weight) == "inhibitory"
    p = projection("p", "a", "b", [0], [0], [5])
    assert sign_mode(p.weight) == "excitatory"


def test_negative_weight_exp_takes_all_source_cores_in_one_block():
    """Lava floors each block's shifted sum: a destination core's synapses of a projection
    with weight_exp < 0 stay in one block with all its source cores (static or plastic)."""
    pops = {"a": lif_pop("a", 4), "b": lif_pop("b", 4)}
    proj = projection("ab", "a", "b", [0, 3], [1, 1], [10, 20], weight_exp=-1)
    net = NetworkIR("n", populations=pops, projections={"ab": proj})
    for plastic in (None, Plasticity("stdp", {})):
        proj.plasticity = plastic
        plan = make_plan(program_of(net, {"a": 2}), "core")
        blocks = [b for b in plan.blocks.values() if "ab" in b.projs]
        assert len(blocks) == 1 and blocks[0].cols.tolist() == [0, 3]  # both a slices
        assert blocks[0].weight_exp == -1
    # plastic: the projection's own weights and sign mode (the learning process quantizes)
    assert blocks[0].weight.tolist() == [10, 20] and blocks[0].sign_mode == "excitatory"
    assert blocks[0].name == "in:b@core2[ab]"


def test_duplicate_synapses_and_bad_granularity_are_refused():
    pops = {"a": source_pop("a", 2), "b": lif_pop("b", 2)}
    net = NetworkIR("n", populations=pops, projections={
        "ab": projection("ab", "a", "b", [0, 0], [1, 1], [10, 20], delay=[0, 3])})
    with pytest.raises(BackendError, match="same \\(post, pre\\) pair"):
        make_plan(program_of(net), "grouped")
    net.projections["ab"].pre_idx = np.array([0, 1], dtype=np.int32)
    with pytest.raises(BackendError, match="unknown granularity 'cores'.*grouped, core, chip"):
        make_plan(program_of(net), "cores")


def test_plasticity_and_non_integer_params_fail_fast(monkeypatch):
    monkeypatch.setattr(bl, "lava_available", lambda: True)  # must fail before Lava is started
    net = two_layer()
    net.projections["inp_hid"].plasticity = Plasticity("stdp", {"a_plus": 4})
    options: dict = {}
    default_learning(program_of(net), options)  # plastic -> snnc's learning lowering
    assert type(options["learning_rule_factory"]).__name__ == "LearningFactory"
    assert callable(options["proc_model_map"])
    net = two_layer()
    net.populations["hid"].lif.du = 0.5
    with pytest.raises(BackendError, match="'hid': du = 0.5 is not an integer"):
        bl.run(program_of(net), 5)


def test_lower_projection_delegates_plastic_projections_to_the_factory():
    net = two_layer()
    proj = net.projections["inp_hid"]
    proj.plasticity = Plasticity("stdp", {})
    block = make_plan(program_of(net), "grouped").blocks["inp_hid"]
    with pytest.raises(BackendError, match="plasticity not yet supported on lava"):
        bl.lower_projection(block, proj, "fixed")
    seen = []

    def factory(b, p, precision):
        seen.append((b.key, p.name, precision))
        return "learning-dense"

    assert bl.lower_projection(block, proj, "fixed", learning_rule_factory=factory) == "learning-dense"
    assert seen == [("inp_hid", "inp_hid", "fixed")]


def test_missing_lava_says_how_to_install(monkeypatch):
    monkeypatch.setattr(bl, "lava_available", lambda: False)
    with pytest.raises(BackendError, match=r"pip install -e '\.\[lava\]'.*3\.10.*make test"):
        bl.run(program_of(two_layer()), 5)


def test_unconnected_parts_are_linked_once():
    pops = {"s": source_pop("s", 3), "a": lif_pop("a", 3), "b": lif_pop("b", 2),
            "t": source_pop("t", 1)}
    net = NetworkIR("n", populations=pops, projections={
        "sa": projection("sa", "s", "a", [0], [0], [1])})
    plan = make_plan(program_of(net), "grouped")
    # parts: {s, a}, {b}, {t}; only b holds a LIF outside the first part
    assert plan.links == [("s", "b")]  # from the smallest group of the first part (first on ties)
    assert plan.n_processes == 4 + 1 + 1
