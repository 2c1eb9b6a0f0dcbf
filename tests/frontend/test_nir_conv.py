"""NIR Conv1d, Conv2d, SumPool2d and AvgPool2d import: the unrolled projection equals a plain
loop implementation of PyTorch's NCHW cross-correlation, for stride, padding, dilation and
groups; convolutions keep their ConvSpec and feature maps their positions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from compiler.conv_geometry import kernel_index  # noqa: E402
from compiler.errors import InputError  # noqa: E402
from compiler.frontend.nir_import import import_nir  # noqa: E402


def ref_conv2d(x, w, stride, pad, dil, groups):
    """out[o, i, j] = sum_{c in group(o), ky, kx} w[o, c', ky, kx] x[c, i s - p + ky d, ...]."""
    c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    ho = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((c_out, ho, wo))
    for o, i, j in itertools.product(range(c_out), range(ho), range(wo)):
        g = o // (c_out // groups)
        for cl, ky, kx in itertools.product(range(cg), range(kh), range(kw)):
            y = i * stride[0] - pad[0] + ky * dil[0]
            xx = j * stride[1] - pad[1] + kx * dil[1]
            if 0 <= y < h and 0 <= xx < wd:
                out[o, i, j] += w[o, cl, ky, kx] * x[g * cg + cl, y, xx]
    return out


def ref_pool(x, k, s, p, average):
    c, h, wd = x.shape
    xp = np.zeros((c, h + 2 * p[0], wd + 2 * p[1]))
    xp[:, p[0]:p[0] + h, p[1]:p[1] + wd] = x
    ho, wo = (h + 2 * p[0] - k[0]) // s[0] + 1, (wd + 2 * p[1] - k[1]) // s[1] + 1
    out = np.array([[[xp[ch, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].sum()
                      for j in range(wo)] for i in range(ho)] for ch in range(c)])
    return out / (k[0] * k[1]) if average else out


def if_node(n):
    """IF with r = 1: at dt = 1 its input gain is 1, so weights are the conv's own (n: a size,
    or a scalar array for parameters of shape ())."""
    if isinstance(n, np.ndarray):
        return nir.IF(r=np.array(1.0), v_threshold=np.array(1e9), v_reset=np.array(0.0))
    return nir.IF(r=np.ones(n), v_threshold=np.full(n, 1e9), v_reset=np.zeros(n))


def through(node, in_shape, out_size):
    """Input(in_shape) -> node -> IF: the imported projection and network."""
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array(in_shape)), "c": node,
                            "n": if_node(out_size)},
                     edges=[("in", "c"), ("c", "n")], type_check=False)
    net = import_nir(g, dt=1.0)
    (proj,) = [p for p in net.projections.values() if p.pre == "in"]
    return net, proj


def applied(net, proj, x):
    w = proj.dense_weights(net.populations[proj.post].size, net.populations[proj.pre].size)
    return w @ x.ravel()


CASES = [(s, p, d, g) for s in (1, 2) for p in (0, 1, 2) for d in (1, 2) for g in (1, 2)]


@pytest.mark.parametrize("stride,pad,dil,groups", CASES)
def test_conv2d_equals_the_loop_reference(stride, pad, dil, groups):
    rng = np.random.default_rng(stride * 100 + pad * 10 + dil + groups)
    w = rng.integers(-3, 4, size=(4, 4 // groups, 3, 2)).astype(float)
    x = rng.normal(size=(4, 9, 7))
    want = ref_conv2d(x, w, (stride, stride), (pad, pad), (dil, dil), groups)
    node = nir.Conv2d(input_shape=(9, 7), weight=w, stride=stride, padding=pad, dilation=dil,
                      groups=groups, bias=np.zeros(4))
    net, proj = through(node, [4, 9, 7], want.size)
    assert np.allclose(applied(net, proj, x), want.ravel())
    assert proj.conv is not None and proj.conv.out_shape == want.shape
    assert (proj.conv.stride, proj.conv.padding, proj.conv.dilation, proj.conv.groups) == \
        ((stride,) * 2, (pad,) * 2, (dil,) * 2, groups)
    k = kernel_index(proj.conv, proj.pre_idx, proj.post_idx)
    assert (k >= 0).all() and np.array_equal(w.ravel()[k], proj.weight)  # weights shared
    assert proj.pre_idx.dtype == np.int32 and proj.n_synapses == np.count_nonzero(
        proj.dense_weights(want.size, x.size))


def test_conv2d_anisotropic_and_same_padding_and_input_shape_from_the_graph():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 2, 3, 4))
    x = rng.normal(size=(2, 6, 8))
    want = ref_conv2d(x, w, (2, 1), (1, 0), (1, 2), 1)
    node = nir.Conv2d(input_shape=None, weight=w, stride=(2, 1), padding=(1, 0),
                      dilation=(1, 2), groups=1, bias=np.zeros(3))
    net, proj = through(node, [2, 6, 8], want.size)
    assert np.allclose(applied(net, proj, x), want.ravel())
    # 'same' (stride 1): total padding d (k - 1) = 3 along x, 1 before and 2 after
    same = nir.Conv2d(input_shape=(6, 8), weight=w, stride=1, padding="same", dilation=1,
                      groups=1, bias=np.zeros(3))
    padded = np.zeros((2, 8, 11))
    padded[:, 1:7, 1:9] = x
    want = ref_conv2d(padded, w, (1, 1), (0, 0), (1, 1), 1)
    net, proj = through(same, [2, 6, 8], want.size)
    assert want.shape == (3, 6, 8)
    assert np.allclose(applied(net, proj, x), want.ravel())


@pytest.mark.parametrize("stride,pad,dil,groups", [(1, 0, 1, 1), (2, 1, 1, 2), (1, 2, 3, 1)])
def test_conv1d_equals_the_loop_reference(stride, pad, dil, groups):
    rng = np.random.default_rng(7)
    w = rng.normal(size=(4, 4 // groups, 3))
    x = rng.normal(size=(4, 11))
    want = ref_conv2d(x[:, None, :], w[:, :, None, :], (1, stride), (0, pad), (1, dil),
                      groups)[:, 0, :]
    node = nir.Conv1d(input_shape=11, weight=w, stride=stride, padding=pad, dilation=dil,
                      groups=groups, bias=np.zeros(4))
    net, proj = through(node, [4, 11], want.size)
    assert np.allclose(applied(net, proj, x), want.ravel())
    assert proj.conv.kernel == (3,) and net.populations["n"].positions.shape == (want.size, 1)


@pytest.mark.parametrize("kind", ["SumPool2d", "AvgPool2d"])
@pytest.mark.parametrize("k,s,p", [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 0))])
def test_pools_equal_the_reference(kind, k, s, p):
    x = np.random.default_rng(3).normal(size=(3, 6, 7))
    want = ref_pool(x, k, s, p, kind == "AvgPool2d")
    node = getattr(nir, kind)(kernel_size=np.array(k), stride=np.array(s), padding=np.array(p))
    net, proj = through(node, [3, 6, 7], want.size)
    assert np.allclose(applied(net, proj, x), want.ravel())
    assert proj.conv.groups == 3 and proj.conv.kernel == k


def test_pool_then_conv_stays_one_convolution_and_feature_maps_get_positions():
    rng = np.random.default_rng(5)
    w = rng.integers(-2, 3, size=(2, 3, 3, 3)).astype(float)
    x = rng.normal(size=(3, 8, 6))
    pooled = ref_pool(x, (2, 2), (2, 2), (0, 0), False)
    want = ref_conv2d(pooled, w, (1, 1), (1, 1), (1, 1), 1)
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([3, 8, 6])),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "conv": nir.Conv2d(input_shape=None, weight=w, stride=1, padding=1, dilation=1,
                           groups=1, bias=np.zeros(2)),
        "n": nir.IF(r=np.array(1.0), v_threshold=np.array(1e9), v_reset=np.array(0.0))},
        edges=[("in", "pool"), ("pool", "conv"), ("conv", "n")], type_check=False)
    net = import_nir(g, dt=1.0)
    (proj,) = net.projections.values()
    assert np.allclose(applied(net, proj, x), want.ravel())
    c = proj.conv
    assert (c.in_shape, c.out_shape, c.kernel, c.stride, c.padding) == \
        ((3, 8, 6), (2, 4, 3), (6, 6), (2, 2), (2, 2))
    k = kernel_index(c, proj.pre_idx, proj.post_idx)
    assert (k >= 0).all()
    pos = net.populations["n"].positions  # scalar IF parameters: shape from the conv
    assert pos.shape == (24, 2) and pos[11:13].tolist() == [[3.0, 2.0], [0.0, 0.0]]  # (y, x), C order


def test_conv_bias_into_if_is_an_always_on_source_per_channel():
    w = np.ones((2, 1, 1, 1))
    node = nir.Conv2d(input_shape=(2, 2), weight=w, stride=1, padding=0, dilation=1, groups=1,
                      bias=np.array([0.5, -1.0]))
    net, _ = through(node, [1, 2, 2], 8)
    bias_in = net.projections["n_bias_in"]
    assert net.populations["n_bias"].source.kind == "periodic"
    assert np.allclose(bias_in.dense_weights(8, 8).diagonal(), [0.5] * 4 + [-1.0] * 4)
    uniform = nir.Conv2d(input_shape=(2, 2), weight=w, stride=1, padding=0, dilation=1,
                         groups=1, bias=np.array([0.5, 0.5]))
    net, _ = through(uniform, [1, 2, 2], 8)
    assert net.populations["n"].lif.bias_mant == 0.5 and "n_bias" not in net.populations


def test_bad_geometry_names_the_node_and_why():
    node = nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 5, 5)), stride=1, padding=0,
                      dilation=1, groups=1, bias=np.zeros(2))
    with pytest.raises(InputError) as err:
        through(node, [1, 4, 4], 2)
    assert "Conv2d node 'c'" in str(err.value) and "larger than the padded input" in str(err.value)
    strided_same = nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 3, 3)), stride=2,
                              padding="same", dilation=1, groups=1, bias=np.zeros(1))
    with pytest.raises(InputError, match="'same' with stride 1"):
        through(strided_same, [1, 4, 4], 4)
    flat_weight = nir.Conv2d(input_shape=None, weight=np.ones((1, 1, 3)), stride=1, padding=0,
                             dilation=1, groups=1, bias=np.zeros(1))
    with pytest.raises(InputError, match=r"weight has shape \(1, 1, 3\)"):
        through(flat_weight, [1, 4, 4], 4)
    big = nir.Conv2d(input_shape=(1500, 1500), weight=np.ones((64, 16, 3, 3)), stride=1,
                     padding=1, dilation=1, groups=1, bias=np.zeros(64))
    with pytest.raises(InputError, match="synapses between"):  # refused before allocating
        through(big, [16, 1500, 1500], np.array(0.0))
    huge = nir.Conv2d(input_shape=(100_000, 100_000), weight=np.ones((64, 64, 3, 3)), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(64))
    with pytest.raises(InputError, match="elements per node"):
        through(huge, [64, 100_000, 100_000], np.array(0.0))


def test_big_feature_maps_build_without_dense_matrices():
    """A 16 x 64 x 64 conv (1.2 M synapses): sparse all the way (a dense (65536, 65536)
    float matrix would need 32 GiB)."""
    w = np.random.default_rng(0).normal(size=(16, 2, 3, 3))
    node = nir.Conv2d(input_shape=(64, 64), weight=w, stride=1, padding=1, dilation=1,
                      groups=1, bias=np.zeros(16))
    net, proj = through(node, [2, 64, 64], 16 * 64 * 64)
    assert proj.n_synapses == 16 * 2 * (62 * 62 * 9 + 4 * 62 * 6 + 4 * 4)
    assert proj.conv.kernel_size == 16 * 2 * 9


@pytest.mark.parametrize("node,in_shape,kind", [
    (nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                   padding=np.array([0, 0])), [3, 4, 6], "SumPool2d"),
    (nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 2]),
                   padding=np.array([1, 0])), [3, 4, 6], "AvgPool2d"),
    (nir.Conv1d(input_shape=9, weight=np.arange(24.0).reshape(4, 2, 3) - 5, stride=2,
                padding=1, dilation=2, groups=1, bias=np.zeros(4)), [2, 9], "Conv1d"),
])
def test_export_writes_the_node_again_and_nir_read_reimports_it(node, in_shape, kind, tmp_path):
    from compiler.nir_export import export_nir

    probe = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array(in_shape)), "c": node},
                         edges=[("in", "c")], type_check=False)
    n = int(np.prod(importer_shape(probe)))
    net, proj = through(node, in_shape, n)
    g = export_nir(net)
    assert kind in {type(v).__name__ for v in g.nodes.values()}
    nir.write(tmp_path / "g.nir", g)
    back = import_nir(nir.read(tmp_path / "g.nir"), dt=1.0)
    (again,) = [p for p in back.projections.values() if p.pre == "in"]
    assert again.conv == proj.conv
    assert np.array_equal(again.dense_weights(n, proj.pre_idx.max() + 1),
                          proj.dense_weights(n, proj.pre_idx.max() + 1))


def importer_shape(graph):
    """The output shape of node 'c' as the importer computes it."""
    from compiler.frontend.nir_graph import Reporter
    from compiler.frontend.nir_walk import Walker

    return Walker(dict(graph.nodes), list(graph.edges), 1.0, Reporter(None, graph.nodes),
                  nir).shape("c")


def test_avgpool_in_fixed_precision_is_exact_for_a_power_of_two_window():
    """Fixed point: weight x 2**weight_exp = k / 4 with k = vth_fixed / v_threshold, the
    population's power-of-two scale: the 1/4 of a 2x2 average is kept exactly."""
    node = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    neuron = nir.IF(r=np.ones(4), v_threshold=np.full(4, 3.0), v_reset=np.zeros(4))
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([1, 4, 4])), "c": node,
                            "n": neuron}, edges=[("in", "c"), ("c", "n")], type_check=False)
    net = import_nir(g, dt=1.0, precision="fixed")
    (proj,) = net.projections.values()
    k = net.populations["n"].lif.vth / 3.0
    assert k == 2.0 ** round(np.log2(k)) and proj.n_synapses == 16
    assert np.all(proj.weight * 2.0 ** proj.weight_exp == k / 4)
    assert proj.conv.kernel == (2, 2)


def test_grouped_conv_exports_and_reads_back_without_nir_type_check(tmp_path):
    """nir's type inference takes a conv's input channels as weight.shape[1], ignoring
    groups, so nir.read's check refuses a grouped conv; the import reads it without."""
    from compiler.nir_export import save_nir

    node = nir.Conv2d(input_shape=(5, 5), weight=np.arange(36.0).reshape(4, 1, 3, 3) - 9,
                      stride=1, padding=1, dilation=1, groups=2, bias=np.zeros(4))
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2, 5, 5])), "c": node,
                            "n": if_node(100)}, edges=[("in", "c"), ("c", "n")], type_check=False)
    net = import_nir(g, dt=1.0)
    save_nir(net, tmp_path / "g.nir")
    with pytest.warns(UserWarning, match="type check"):
        back = import_nir(tmp_path / "g.nir", dt=1.0)
    assert back.projections["c"].conv == net.projections["c"].conv
    assert np.array_equal(back.projections["c"].weight, net.projections["c"].weight)
