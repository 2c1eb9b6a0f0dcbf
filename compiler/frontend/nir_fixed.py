"""Fixed-point NIR imports: a float network spec converted to Lava's fixed point.

Two ways: the compile pipeline's quantize pass (`quantized`: a power-of-two scale per
population, compiler/passes/quantize.py), or one given scale k for the whole network
(`to_fixed`: graphs snnc exported from fixed precision come back as the same integers).
Non-spiking readouts (threshold READOUT_VTH) get a bound of their |v| as threshold while the
scale is chosen, then the largest fixed threshold.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from ..ir import LIF_FIXED_RANGES, NetworkIR
from ..passes.quantize import quantize
from .network import network_from_dict

READOUT_VTH = 1e30  # threshold of a non-spiking readout (LI, CubaLI, I): never reached


def quantized(spec: dict[str, Any], file: str | None) -> NetworkIR:
    """The float spec quantized by the compile pipeline's pass; readouts (LI, CubaLI, I) take
    part in the choice of scale with a bound of their |v| (so v stays far from Lava's clip)
    and then get the largest fixed threshold."""
    readouts = _readouts(spec)
    for name in readouts:
        spec["populations"][name]["params"]["vth"] = _v_bound(spec, name)
    net, _ = quantize(network_from_dict(spec, source_file=file))
    for name in readouts:
        lif = net.populations[name].lif
        net.populations[name].lif = replace(lif, vth=LIF_FIXED_RANGES["vth"][1])
    return net


def _v_bound(spec: dict[str, Any], name: str) -> float:
    """An upper bound of |v| of LIF population `name` over the run: every synapse delivers at
    most one spike a step, so |u| <= A / du and |v| <= (|u| + |bias|) / dv (times the steps
    when dv = 0), A the largest summed |weight| into one neuron."""
    pop = spec["populations"][name]
    p = pop["params"]
    a = np.zeros(pop["size"])
    for proj in spec["projections"].values():
        if proj["post"] == name:
            data = proj["connectivity"]["data"]
            a += np.bincount(data["post"], np.abs(data["weight"]), minlength=pop["size"])
    u = float(a.max(initial=0.0)) / max(float(p["du"]), 1e-12)
    total = u + abs(float(p["bias_mant"]))
    bound = total / float(p["dv"]) if p["dv"] > 0 else total * max(int(spec.get("steps", 1)), 1)
    return max(bound, 1e-9)


def _readouts(spec: dict[str, Any]) -> list[str]:
    """Names of the readout populations (threshold READOUT_VTH) of a float spec."""
    return [name for name, pop in spec["populations"].items()
            if pop.get("model") == "lif" and pop["params"]["vth"] == READOUT_VTH]


def to_fixed(spec: dict[str, Any], k: float) -> dict[str, Any]:
    """A float network spec converted to Lava fixed point with one scale `k`.

    As in compiler/passes/quantize.py: du = 4096 du - 1, dv = 4096 dv, vth = k vth,
    bias_mant << bias_exp = 64 k bias, weight << weight_exp = k w (weight_exp per
    projection: the smallest one whose mantissas fit 8 bits; mixed-sign mantissas are
    rounded to even, as Lava drops their lowest bit). Rounding errors over 1% warn.
    """
    out = dict(spec, precision="fixed")
    out["populations"] = pops = {}
    for name, pop in spec["populations"].items():
        pops[name] = dict(pop)
        if pop.get("model") != "lif":
            continue
        p = pop["params"]
        mant, exp = _bias_bits(64.0 * k * float(p["bias_mant"]))
        vth = int(round(k * float(p["vth"]))) if p["vth"] != READOUT_VTH else \
            131071  # readout: the largest fixed threshold
        pops[name]["params"] = {
            "du": int(np.clip(round(4096 * float(p["du"])) - 1, 0, 4095)),
            "dv": int(np.clip(round(4096 * float(p["dv"])), 0, 4095)),
            "vth": vth, "bias_mant": mant, "bias_exp": exp}
    out["projections"] = projs = {}
    for name, proj in spec["projections"].items():
        data = dict(proj["connectivity"]["data"])
        w, e = _weight_bits(k * np.asarray(data["weight"], dtype=np.float64))
        err = np.linalg.norm(w * 2.0**e - k * data["weight"])
        if err > 0.01 * np.linalg.norm(k * data["weight"]):
            warnings.warn(f"projection {name}: fixed-point weights (scale {k:g}) have relative "
                          f"error {err / np.linalg.norm(k * data['weight']):.1%}", stacklevel=3)
        data["weight"] = w
        projs[name] = dict(proj, connectivity={"kind": "list", "data": data}, weight_exp=e)
    return out


def _bias_bits(value: float) -> tuple[int, int]:
    """bias_mant (13-bit signed), bias_exp (0..7) with mant << exp nearest to value."""
    for exp in range(8):
        mant = round(value / 2**exp)
        if -4096 <= mant <= 4095:
            return int(mant), exp
    return int(np.clip(round(value / 2**7), -4096, 4095)), 7


def _weight_bits(t: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer mantissas and the smallest weight_exp (-8..7) that keeps them in 8 bits."""
    mixed = t.size and t.min() < 0 < t.max()
    big = float(np.abs(t).max()) if t.size else 0.0
    hi = 254 if mixed else 255
    first = 0 if np.all(t == np.round(t)) else -8  # integers stay integers (exact sums)
    for e in range(first, 8):
        if big / 2**e <= hi:
            break
    m = t / 2.0**e
    m = 2 * np.round(m / 2) if mixed else np.round(m)
    return np.clip(m, -256 if mixed else -255, hi).astype(np.int64), e
