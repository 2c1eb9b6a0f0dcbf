"""NIR neuron nodes -> Lava LIF parameters (float), one small function per node type.

Forward Euler at step dt, current first, then voltage (Lava's order):
  CubaLIF: du = dt / tau_syn, dv = dt / tau_mem, bias = dv v_leak, gain g = w_in du r dv;
  LIF:     du = 1, dv = dt / tau, bias = dv v_leak, g = r dv;      IF: du = 1, dv = 0, g = r dt;
  LI, CubaLI, I: as LIF, CubaLIF, IF with the unreachable threshold READOUT_VTH;
  Threshold: du = dv = 1 (v = input each step), g = 1, vth = threshold.
The gain multiplies every weight into the node; r and w_in may differ per neuron, the
other parameters must be equal within a node (snnc LIF parameters are per population).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .nir_fixed import READOUT_VTH
from .nir_graph import Bad, Reporter

REL_TOL = 1e-6  # per-neuron parameters this close count as equal (float32 round-off)


@dataclass
class Neuron:
    """Lava LIF parameters (float) and the per-neuron input gain of one spiking node."""

    du: float
    dv: float
    vth: float
    bias: float
    gain: np.ndarray
    exact_bias: bool  # an input bias maps exactly onto the Lava bias (no synaptic memory)
    readout: bool = False  # LI / CubaLI / I: never spikes, its `.v` is the output


class NeuronMapper:
    """Maps one neuron node at a time, reporting every problem of it to `rep`."""

    def __init__(self, rep: Reporter, dt: float) -> None:
        self.rep, self.dt = rep, dt
        self.table: dict[str, Callable[[str, Any, int], Neuron]] = {
            "Threshold": self._threshold, "IF": self._if, "LIF": self._lif,
            "CubaLIF": self._cuba_lif, "I": self._i, "LI": self._li, "CubaLI": self._cuba_li}

    def neuron(self, nid: str, node: Any, n: int) -> Neuron:
        """The Lava parameters of node `nid` (n neurons); Bad after reporting problems."""
        return self.table[type(node).__name__](nid, node, n)

    # -- parameter checks ----------------------------------------------------------

    def uniform(self, nid: str, pname: str, values: Any) -> float:
        """The one value of a per-neuron parameter (error when neurons differ)."""
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size == 0:
            raise Bad
        ref = float(arr[0])
        if np.any(np.isnan(arr)):
            raise self.rep.fail(nid, f"{pname} has NaN values", "numbers")
        if not np.all(arr == ref) and not np.allclose(arr, ref, rtol=REL_TOL, atol=0):
            raise self.rep.fail(nid, f"{pname} differs between neurons (range {arr.min():g} .. "
                                f"{arr.max():g}); snnc LIF parameters are per population",
                                "one value for all neurons of a node (split the node)")
        return float(arr.mean()) if np.all(np.isfinite(arr)) else ref

    def rate(self, nid: str, pname: str, tau: Any) -> tuple[float, np.ndarray]:
        """dt / tau: the uniform value and the per-neuron values, checked to lie in [0, 1]."""
        arr = np.asarray(tau, dtype=np.float64).ravel()
        if np.any(np.isnan(arr)) or np.any(arr <= 0):
            raise self.rep.fail(nid, f"{pname} must be > 0 (found min {np.nanmin(arr):g})",
                                f"{pname} >= dt = {self.dt:g}")
        if np.any(arr < self.dt * (1 - REL_TOL)):
            raise self.rep.fail(nid, f"{pname} = {arr.min():g} is shorter than dt = {self.dt:g}:"
                                " forward Euler would overshoot (Lava decays lie in [0, 1])",
                                f"{pname} >= dt (or import with a smaller dt)")
        rate = np.minimum(self.dt / arr, 1.0)
        return self.uniform(nid, pname, rate), rate

    def _all(self, *checks: Callable[[], Any]) -> list[Any]:
        """Run every check (each reports its own problem), then Bad if any failed."""
        out, failed = [], False
        for check in checks:
            try:
                out.append(check())
            except Bad:
                failed = True
        if failed:
            raise Bad
        return out

    def _reset_zero(self, nid: str, node: Any) -> None:
        v_reset = np.asarray(node.v_reset, dtype=np.float64).ravel()
        if np.any(v_reset != 0):
            raise self.rep.fail(nid, f"v_reset = {v_reset[v_reset != 0][0]:g}; Lava's LIF resets"
                                " v to 0", "v_reset 0")

    def _leak(self, nid: str, pname: str, tau: Any, v_leak: Any) -> tuple[float, np.ndarray, float]:
        """dv, the per-neuron dt / tau, and the bias dt / tau * v_leak."""
        dv, rate = self.rate(nid, pname, tau)
        bias = self.uniform(nid, f"dt/{pname} * v_leak", rate * np.asarray(v_leak, np.float64))
        return dv, rate, bias

    @staticmethod
    def _per_neuron(value: Any, n: int) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=np.float64).ravel(), (n,))

    # -- one function per node type ----------------------------------------------

    def _threshold(self, nid: str, node: Any, n: int) -> Neuron:
        vth = self.uniform(nid, "threshold", node.threshold)
        return Neuron(du=1.0, dv=1.0, vth=vth, bias=0.0, gain=np.ones(n), exact_bias=True)

    def _if(self, nid: str, node: Any, n: int) -> Neuron:
        _, vth = self._all(lambda: self._reset_zero(nid, node),
                           lambda: self.uniform(nid, "v_threshold", node.v_threshold))
        return Neuron(du=1.0, dv=0.0, vth=vth, bias=0.0,
                      gain=self._per_neuron(node.r, n) * self.dt, exact_bias=True)

    def _lif(self, nid: str, node: Any, n: int) -> Neuron:
        _, vth, (dv, rate, bias) = self._all(
            lambda: self._reset_zero(nid, node),
            lambda: self.uniform(nid, "v_threshold", node.v_threshold),
            lambda: self._leak(nid, "tau", node.tau, node.v_leak))
        return Neuron(du=1.0, dv=dv, vth=vth, bias=bias,
                      gain=self._per_neuron(node.r, n) * rate, exact_bias=True)

    def _cuba_lif(self, nid: str, node: Any, n: int) -> Neuron:
        _, vth, (du, rate_s), (dv, rate_m, bias) = self._all(
            lambda: self._reset_zero(nid, node),
            lambda: self.uniform(nid, "v_threshold", node.v_threshold),
            lambda: self.rate(nid, "tau_syn", node.tau_syn),
            lambda: self._leak(nid, "tau_mem", node.tau_mem, node.v_leak))
        gain = self._per_neuron(node.w_in, n) * rate_s * self._per_neuron(node.r, n) * rate_m
        return Neuron(du=du, dv=dv, vth=vth, bias=bias, gain=gain, exact_bias=bool(du == 1.0))

    def _i(self, nid: str, node: Any, n: int) -> Neuron:
        return Neuron(du=1.0, dv=0.0, vth=READOUT_VTH, bias=0.0,
                      gain=self._per_neuron(node.r, n) * self.dt, exact_bias=True, readout=True)

    def _li(self, nid: str, node: Any, n: int) -> Neuron:
        dv, rate, bias = self._leak(nid, "tau", node.tau, node.v_leak)
        return Neuron(du=1.0, dv=dv, vth=READOUT_VTH, bias=bias,
                      gain=self._per_neuron(node.r, n) * rate, exact_bias=True, readout=True)

    def _cuba_li(self, nid: str, node: Any, n: int) -> Neuron:
        du, rate_s = self.rate(nid, "tau_syn", node.tau_syn)
        dv, rate_m, bias = self._leak(nid, "tau_mem", node.tau_mem, node.v_leak)
        gain = self._per_neuron(node.w_in, n) * rate_s * self._per_neuron(node.r, n) * rate_m
        return Neuron(du=du, dv=dv, vth=READOUT_VTH, bias=bias, gain=gain,
                      exact_bias=bool(du == 1.0), readout=True)
