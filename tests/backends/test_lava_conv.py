"""Convolutions lower to Lava's Conv process where it reproduces them exactly: Lava's own
conv arithmetic on the lowered kernel equals the unrolled synapse matrix, the plan picks Conv,
and spikes and v equal the cpu backend's; convs that do not map stay on Sparse, with the
reason, and are still equal."""

from __future__ import annotations

import numpy as np
import pytest
from lava_nets import lif_pop, program_of, source_pop

from compiler.frontend.nir_conv import unroll
from compiler.ir import ConvSpec, NetworkIR, Plasticity, Probe, Projection
from compiler.lava_weights import effective_weights

pytest.importorskip("lava")
import backends.cpu as cpu  # noqa: E402
import backends.lava as bl  # noqa: E402
from backends.lava.conv_plan import LavaConv, conv_lowering  # noqa: E402
from backends.lava.plan import make_plan  # noqa: E402

pytestmark = pytest.mark.lava

STEPS = 25
IN = (2, 6, 6)
CONV = ConvSpec(IN, (3, 6, 6), (3, 3), (1, 1), (1, 1), (1, 1), 1)  # k3 stride 1 padding 1
STRIDED = ConvSpec(IN, (4, 3, 3), (3, 3), (2, 2), (1, 1), (1, 1), 2)  # stride 2, 2 groups
POOL = ConvSpec((3, 6, 6), (3, 3, 3), (2, 2), (2, 2), (0, 0), (1, 1), 3)  # 2x2 sum pool


def conv_proj(name: str, pre: str, post: str, spec: ConvSpec, kernel: np.ndarray,
              fixed: bool = True, **kw) -> Projection:
    """The unrolled synapses of `spec` with the flat `kernel` (zero elements left out)."""
    post_i, pre_i, kidx = unroll(spec)
    w = kernel.ravel()[kidx]
    keep = w != 0
    return Projection(name, pre, post, pre_i[keep], post_i[keep],
                      w[keep].astype(np.int32 if fixed else np.float64),
                      np.zeros(int(keep.sum()), np.int16), conv=spec, **kw)


def cnn(precision: str = "fixed", seed: int = 5, **first_kw) -> NetworkIR:
    """src 2x6x6 -> conv k3 p1 -> a 3x6x6 -> 2x2 sum pool -> p 3x3x3, and src -> strided
    grouped conv -> b 4x3x3."""
    rng = np.random.default_rng(seed)
    fixed = precision == "fixed"
    k1 = rng.integers(-40, 90, CONV.kernel_size)
    k2 = rng.integers(-30, 100, STRIDED.kernel_size)
    kp = np.full(POOL.kernel_size, 24)
    if not fixed:  # multiples of 1/4: every order of summation gives the same float
        k1, k2, kp = k1 / 4.0, k2 / 4.0, kp / 4.0
    lif = dict(du=4095, dv=300, vth=60) if fixed else dict(du=1.0, dv=0.07, vth=15.0)
    pops = {"src": source_pop("src", 72, 0.3), "a": lif_pop("a", 108, **lif),
            "p": lif_pop("p", 27, **lif), "b": lif_pop("b", 36, **lif)}
    projs = [conv_proj("c1", "src", "a", CONV, k1, fixed, **first_kw),
             conv_proj("pool", "a", "p", POOL, kp, fixed),
             conv_proj("c2", "src", "b", STRIDED, k2, fixed, weight_exp=-1 if fixed else 0)]
    return NetworkIR("cnn", seed=seed, precision=precision, populations=pops,
                     projections={p.name: p for p in projs},
                     probes=[Probe(k, "v") for k in ("a", "p", "b")])


def dense_matrix(proj: Projection, n_post: int, n_pre: int) -> np.ndarray:
    """The Dense model's effective (post, pre) matrix, weight_exp applied exactly."""
    m = np.zeros((n_post, n_pre), np.float64)
    m[proj.post_idx, proj.pre_idx] = effective_weights(proj.weight, proj.num_weight_bits)
    return m * 2.0 ** proj.weight_exp


@pytest.mark.parametrize("spec", [
    CONV, STRIDED, POOL,
    ConvSpec((4, 7, 5), (2, 4, 2), (3, 2), (2, 3), (2, 1), (2, 1), 2),  # dilation, anisotropic
    ConvSpec((2, 9), (4, 5), (3,), (2,), (1,), (1,), 1),  # 1-D
])
def test_lava_conv_arithmetic_equals_the_unrolled_matrix(spec):
    """Lava's own conv function on the lowered kernel, fed NCHW spikes transposed to (W, H,
    C), gives the matrix product of the unrolled synapses, for random input."""
    from lava.proc.conv import utils

    rng = np.random.default_rng(1)
    proj = conv_proj("c", "x", "y", spec, rng.integers(-100, 120, spec.kernel_size),
                     weight_exp=1, num_weight_bits=7)
    n_in, n_out = int(np.prod(spec.in_shape)), int(np.prod(spec.out_shape))
    lc = conv_lowering(proj, "fixed")
    assert isinstance(lc, LavaConv)
    for _ in range(3):
        s = rng.random(n_in) < 0.4
        got = utils.conv(s.reshape(lc.in_chw).transpose(2, 1, 0), lc.weight,
                         np.array(lc.weight.shape[1:3]), lc.stride, lc.padding, lc.dilation,
                         lc.groups)
        assert got.shape == lc.output_shape
        want = dense_matrix(proj, n_out, n_in) @ s
        np.testing.assert_array_equal(got.transpose(2, 1, 0).ravel(), want)


def assert_same(lava_res, cpu_res, net: NetworkIR) -> None:
    for pop in net.populations:
        np.testing.assert_array_equal(lava_res.spikes[pop], cpu_res.spikes[pop], err_msg=pop)
    for key, value in cpu_res.values.items():
        if key.endswith(".v"):
            np.testing.assert_array_equal(lava_res.values[key], value, err_msg=key)


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_convs_run_as_lava_conv_equal_to_cpu(precision):
    net = cnn(precision)
    program = program_of(net)
    res = bl.run(program, STEPS)
    assert res.meta["synapse_kinds"] == {"c1": "conv", "pool": "conv", "c2": "conv"}
    assert res.meta["conv_lowering"] == {"c1": "conv", "pool": "conv", "c2": "conv"}
    assert res.meta["processes"] == 7  # 4 populations, 3 Conv processes
    for pop in ("a", "p", "b"):  # active layers: the comparison means something
        assert 0 < res.spikes[pop].mean() < 0.9, pop
    assert_same(res, cpu.run(program, STEPS), net)
    if precision == "fixed":  # the same network on Sparse matrices
        off = bl.run(program, STEPS, conv=False)
        assert off.meta["synapse_kinds"] == {"c1": "sparse", "pool": "sparse", "c2": "sparse"}
        assert set(off.meta["conv_lowering"].values()) == {"Conv turned off (option conv=False)"}
        assert_same(off, res, net)


def test_weight_exp_folds_into_kernel_weights_beyond_8_bits():
    """Conv has no shift: weight_exp 3 makes stored kernel weights up to 255 << 3 (Lava's
    8-bit clip and, for mixed signs, the dropped low bit applied first)."""
    net = cnn("fixed")
    kernel = np.random.default_rng(3).integers(-100, 300, CONV.kernel_size)
    net.projections["c1"] = conv_proj("c1", "src", "a", CONV, kernel, weight_exp=3)
    program = program_of(net)
    res = bl.run(program, STEPS)
    assert res.meta["synapse_kinds"]["c1"] == "conv"
    assert 0 < res.spikes["a"].mean() < 0.95
    assert_same(res, cpu.run(program, STEPS), net)


def test_delayed_conv_falls_back_to_sparse_and_stays_equal():
    net = cnn("fixed")
    c1 = net.projections["c1"]
    c1.delay[:] = np.random.default_rng(0).integers(0, 4, c1.delay.size)
    program = program_of(net)
    res = bl.run(program, STEPS)
    assert res.meta["synapse_kinds"]["c1"] == "delay_sparse"
    assert res.meta["conv_lowering"]["c1"] == "synaptic delays (Conv has none)"
    assert res.meta["synapse_kinds"]["pool"] == "conv"
    assert res.spikes["a"].any()
    assert_same(res, cpu.run(program, STEPS), net)


def fallback_of(net: NetworkIR, name: str, granularity: str = "grouped",
                dense: frozenset[str] = frozenset()) -> tuple[str, str]:
    plan = make_plan(program_of(net), granularity, dense_projections=dense)
    kinds = {b.proj: b.kind for b in plan.blocks.values()}
    return kinds.get(name, ""), plan.conv_lowering[name]


def test_plastic_conv_stays_sparse():
    net = cnn("fixed")
    net.projections["c1"].plasticity = Plasticity("stdp")
    kind, why = fallback_of(net, "c1")
    assert kind == "sparse" and why == "plastic (Conv has no learning rule)"


def test_convs_that_conv_cannot_reproduce_stay_sparse_with_the_reason():
    net = cnn("fixed")
    net.projections["c1"].weight[0] += 4  # one position differs from the shared kernel
    assert fallback_of(net, "c1") == ("sparse", "weights differ between positions of one "
                                      "kernel element")
    net = cnn("fixed")
    c1 = net.projections["c1"]
    keep = np.arange(c1.weight.size) != 3  # one synapse of a non-zero element missing
    net.projections["c1"] = Projection("c1", "src", "a", c1.pre_idx[keep], c1.post_idx[keep],
                                       c1.weight[keep], c1.delay[keep], conv=CONV)
    assert fallback_of(net, "c1")[1].startswith("synapses missing")
    net = cnn("fixed", weight_exp=-2)  # odd weights: Dense shifts the sum, Conv cannot
    assert fallback_of(net, "c1")[1].startswith("weight_exp < 0")
    net = cnn("fixed", weight_exp=14)  # 25 * 255 << 14 passes 2**23
    assert fallback_of(net, "c1")[1].startswith("inputs could reach 2**23")


def test_asymmetric_padding_stays_sparse():
    spec = ConvSpec(IN, (3, 4, 4), (3, 3), (2, 2), (1, 1), (1, 1), 1)  # pads 1 low, 2 high
    net = NetworkIR("asym", populations={"src": source_pop("src", 72), "a": lif_pop("a", 48)},
                    projections={"c1": conv_proj("c1", "src", "a", spec,
                                                 np.ones(spec.kernel_size))})
    assert fallback_of(net, "c1") == ("sparse", "asymmetric padding (Lava's Conv pads both "
                                      "sides by the same amount)")


def test_probed_weights_keep_a_dense_matrix():
    net = cnn("fixed")
    assert fallback_of(net, "c1", dense=frozenset({"c1"})) == (
        "dense", "weights probed or scaled by a phase (they need a Dense matrix)")


@pytest.mark.parametrize("granularity,cores", [("chip", None), ("core", {"a": 2})])
def test_sliced_granularities_use_conv_where_a_layer_is_one_process(granularity, cores):
    """At 'chip' (one chip) every layer is one process: all convs map. At 'core' with 'a'
    on two cores, the convs into and out of 'a' stay on the spike bus; src -> b maps."""
    net = cnn("fixed")
    program = program_of(net, cores)
    res = bl.run(program, STEPS, granularity=granularity)
    lowered = res.meta["conv_lowering"]
    if granularity == "chip":
        assert lowered == {"c1": "conv", "pool": "conv", "c2": "conv"}
        assert sorted(res.meta["synapse_kinds"].values()) == ["conv"] * 3
    else:
        why = "granularity 'core' splits 'a' over 2 processes (Conv needs a whole layer in " \
              "one process on each side)"
        assert lowered == {"c1": why, "pool": why, "c2": "conv"}
        assert sorted(res.meta["synapse_kinds"].values()).count("conv") == 1
    assert res.spikes["a"].any() and res.spikes["p"].any()
    assert_same(res, cpu.run(program, STEPS), net)
