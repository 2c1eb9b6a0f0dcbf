"""NIR graph (https://neuroir.org, package `nir`) -> validated `NetworkIR`.

NIR nodes are continuous-time ODEs; snnc discretizes them with forward Euler at step
`dt`, updating the synaptic current first and then the voltage with the new current,
the order of Lava's LIF. A spike is 1 for one step (as in NIR's reference Lava mapping,
NIR paper/nir_to_lava.py). Mapping of the spiking nodes onto Lava's LIF
(`u = u (1 - du) + a_in;  v = v (1 - dv) + u + bias;  spike: v > vth, then v = 0`):

- CubaLIF:  du = dt / tau_syn,  dv = dt / tau_mem,  vth = v_threshold,
  bias = (dt / tau_mem) v_leak,  and every incoming weight is multiplied by the
  per-neuron gain g = w_in (dt / tau_syn) r (dt / tau_mem);
- LIF:      du = 1 (no synaptic memory),  dv = dt / tau,  g = r dt / tau,
  bias = (dt / tau) v_leak;
- IF:       du = 1,  dv = 0,  g = r dt,  bias = 0;
- LI, CubaLI, I (non-spiking readouts): as LIF, CubaLIF, IF with the unreachable threshold
  READOUT_VTH; an Output node fed by one probes its `<population>.v`;
- Threshold (z = H(x - threshold), no state): du = 1, dv = 1 (v = x each step), g = 1,
  vth = threshold: a spike iff the step's input exceeds the threshold.
Scalar (shape ()) neuron parameters are broadcast to the size of the Linear/Affine node
feeding (or fed by) the neuron.
v_reset must be 0 (Lava resets v to 0), tau >= dt (Lava decays lie in [0, 1]), and the
per-neuron parameters du, dv, vth and bias must be equal within a node (snnc LIF
parameters are per population; r and w_in may differ: they go into the weights).

Edges sum signals. Chains of linear nodes between two spiking nodes are composed into
one weight matrix: Linear / Affine (W, shape (out, in)), Scale (diagonal), Flatten and
Identity (no-ops on flat vectors: snnc flattens every shape in C order) and Delay
(per-element delay tau: a synaptic delay of tau / dt steps, an integer in 0..63; on top
of it every projection has Lava's one step of synaptic latency). An Affine bias b adds a
constant to the post neuron's input current: when the post neuron has no synaptic memory
(LIF, IF, or CubaLIF with tau_syn == dt) and g b is equal for all its neurons, it is the
Lava bias (g b per step, from step 0); otherwise (a constant into the decaying current u)
an always-on source `<population>_bias` (periodic, period 1) with a one-to-one projection
of weight g b feeds it exactly, reaching u from step 1 on like any input. Conv1d, Conv2d,
SumPool2d and AvgPool2d are linear nodes too (nir_conv.py: PyTorch's NCHW
cross-correlation, unrolled into sparse synapses; a projection that is one convolution
keeps its `ConvSpec`; a conv bias is an Affine bias per output channel). Input nodes
become `spike_source` populations whose spikes the user gives with `inputs=` (default:
silent, Poisson rate 0; an Input marked `snnc_role: always_on` by snnc's export spikes
every step); Output nodes fed by a spiking node (or an Input) become
`<population>.spikes` probes. Nested NIRGraph nodes are inlined (ids joined with '.',
e.g. `block.lif1`), edges rewired through their Input/Output nodes or naming inner nodes
(`lif1.lif`). A file that nir.read refuses for its strict type check alone is read without
it, with a warning; one it refuses outright is read field by field (nir_read.py). What
exporters write (docs/nir.md, Exporters) is read as they mean it: batch dimensions of size
1 ignored, per-channel parameters broadcast, Spyx's (in, out) weights transposed when only
that fits. Everything else (MaxPool, a readout feeding another node, IF/LIF with
v_reset != 0, ...) is rejected with one InputError naming every such node, its type and why.

`precision="fixed"` imports in float and converts with the compile pipeline's quantize
pass (its per-population power-of-two scale, see compiler/passes/quantize.py).

Modules: nir_graph (reading, nested graphs, names), nir_read (files nir.read refuses),
nir_split (nodes with per-neuron time constants), nir_nodes (neurons), nir_conv (conv and pool geometry), nir_signal (sparse linear chains),
nir_walk (shapes and signals per node), nir_build (the network spec), nir_fixed (fixed
point); this one is the entry point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import Diagnostic, InputError
from ..ir import NetworkIR
from .network import FORMAT_VERSION, network_from_dict
from .nir_build import SpecBuilder
from .nir_fixed import quantized, to_fixed
from .nir_graph import flatten, load_graph, meta_str, nir_module, node_names
from .nir_split import split_nodes


def import_nir(graph_or_path: Any, *, name: str = "nir", precision: str = "float",
               dt: float = 1.0, inputs: Mapping[str, Any] | None = None, seed: int = 0,
               steps: int = 100, target: str = "loihi2", scale: float | None = None
               ) -> NetworkIR:
    """A NetworkIR from a `nir.NIRGraph` or a NIR (HDF5) file; see the module doc for the mapping.

    `inputs` maps Input node ids to spikes (bool array (steps, size) or a spikes
    mapping); inputs not given are silent. `precision="fixed"` quantizes like
    `compile_network` does (compiler.passes.quantize: a power-of-two scale per
    population), or with one given `scale` k (vth_fixed = k * v_threshold, see
    `to_fixed`); graphs exported by snnc from fixed precision default to k = 1, which
    gives back the very same integers. All unmappable nodes are reported at once as
    one InputError.
    """
    nir = nir_module()
    graph, file = load_graph(graph_or_path, nir)
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise InputError(Diagnostic(f"found dt={dt!r}", field="dt", allowed="a number > 0"))
    if precision not in ("float", "fixed"):
        raise InputError(Diagnostic(f"unknown precision {precision!r}", field="precision",
                                    allowed="float | fixed"))
    nodes, edges, _ = split_nodes(*flatten(graph, nir), nir)
    builder = SpecBuilder(nodes, edges, float(dt), file, nir)
    spec = builder.spec(inputs or {})
    spec.update(snnc=FORMAT_VERSION, name=name, precision="float", seed=seed, steps=steps,
                target=target)
    meta = getattr(graph, "metadata", None) or {}
    if precision == "fixed" and scale is None and meta_str(meta.get("snnc_precision")) == "fixed":
        scale = 1.0  # written by snnc's export from fixed precision: v_NIR = v_Lava / 64
    if precision == "fixed" and scale is not None:
        if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
            raise InputError(Diagnostic(f"found scale={scale!r}", field="scale",
                                        allowed="a number > 0, or None (automatic)"))
        net = network_from_dict(to_fixed(spec, float(scale)), source_file=file)
    elif precision == "fixed":
        net = quantized(spec, file)
    else:
        net = network_from_dict(spec, source_file=file)
    for proj_name, conv in builder.convs.items():
        net.projections[proj_name].conv = conv
    return net


def read_graph(graph_or_path: Any) -> tuple[Any, str | None]:
    """The `nir.NIRGraph` of a graph or NIR file, and the file name (None for a graph)."""
    return load_graph(graph_or_path, nir_module())


def population_names(graph_or_path: Any) -> dict[str, str]:
    """NIR node id -> snnc population name for every Input and spiking node of a graph
    (a node split by its time constants: one id `<id>#<k>` per part, see nir_split.py)."""
    nir = nir_module()
    graph, _ = load_graph(graph_or_path, nir)
    nodes, _, _ = split_nodes(*flatten(graph, nir), nir)
    return dict(node_names(nodes, nir))


def population_parts(graph_or_path: Any) -> dict[str, tuple[str, np.ndarray]]:
    """Part id `<id>#<k>` -> (node id, the node's neuron indices it holds) for the nodes
    split by their time constants."""
    nir = nir_module()
    graph, _ = load_graph(graph_or_path, nir)
    return split_nodes(*flatten(graph, nir), nir)[2]
