"""A small phased network whose counts are known by hand, shared by the phase tests."""

from __future__ import annotations

from compiler.frontend import network_from_dict
from compiler.ir import NetworkIR
from compiler.pipeline import compile_network
from compiler.program import Program
from compiler.yamlio import parse_yaml

RELAY_POPULATIONS = """\
snnc: 1
name: relay
seed: 2
populations:
  inp:
    size: 3
    model: spike_source
    spikes:
      kind: dataset
      dataset: {data: {x: [[1, 0, 0.5], [0, 1, 1], [1, 1, 0], [1, 0.5, 1]], y: [0, 1, 1, 0]}}
      split: {test: 1, shuffle_seed: null}
      max_rate: 0.5
      present: 6
      rest: 2
  out: {size: 3, params: {du: 4095, dv: 4095, vth: 10}}
"""
RELAY = RELAY_POPULATIONS + """\
projections:
  relay: {pre: inp, post: out, connectivity: one_to_one, weight: 20}
"""
# With du = dv = 4095 and weight 20 > vth 10, `out` fires exactly one step after each
# input spike and forgets everything else, so a sample's output counts are its input
# spike counts (the 1-step delay falls into the silent rest).


def _load(text: str) -> NetworkIR:
    """The network of a YAML text, as `snnc` would load it from net.yaml."""
    data, locs = parse_yaml(text, "net.yaml")
    return network_from_dict(data, source_file="net.yaml", locations=locs)


def _program(text: str) -> Program:
    return compile_network(_load(text))
