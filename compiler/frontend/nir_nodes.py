"""NIR neuron nodes -> Lava LIF parameters (float), one small function per node type.

Forward Euler at step dt, current first, then voltage (Lava's order):
  CubaLIF: du = dt / tau_syn, dv = dt / tau_mem, bias = dv v_leak, gain g = w_in du r dv;
  LIF:     du = 1, dv = dt / tau, bias = dv v_leak, g = r dv;      IF: du = 1, dv = 0, g = r dt;
  LI, CubaLI, I: as LIF, CubaLIF, IF with the unreachable threshold READOUT_VTH;
  Threshold: du = dv = 1 (v = input each step), g = 1, vth = threshold.
The gain multiplies every weight into the node; r and w_in may differ per neuron, the
other parameters must be equal within a node (snnc LIF parameters are per population).
Parameters broadcast to the node's shape: scalars (shape ()), per-channel (C, 1, 1) or
per-neuron arrays. Thresholds (all > 0) may differ: each neuron's v is scaled by
max(v_threshold) / v_threshold, exactly (linear dynamics, reset to 0). An infinite time constant is no decay (dt / tau = 0); lava-dl writes
w_in = tau_syn, so w_in dt / tau_syn is dt where both are infinite.
"""

from __future__ import annotations

import math
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
        self.table: dict[str, Callable[[str, Any, tuple[int, ...]], Neuron]] = {
            "Threshold": self._threshold, "IF": self._if, "LIF": self._lif,
            "CubaLIF": self._cuba_lif, "I": self._i, "LI": self._li, "CubaLI": self._cuba_li}

    def neuron(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        """The Lava parameters of node `nid` (NIR shape `shape`); Bad after reporting problems."""
        self.shape = shape
        return self.table[type(node).__name__](nid, node, shape)

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
        rate = np.minimum(self.dt / np.asarray(tau, dtype=np.float64), 1.0)
        return self.uniform(nid, pname, rate), self._per_neuron(nid, pname, rate)

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

    def _leak(self, nid: str, pname: str, tau: Any, v_leak: Any, scale: Any = 1.0
              ) -> tuple[float, np.ndarray, float]:
        """dv, the per-neuron dt / tau, and the bias dt / tau * v_leak (times `scale`)."""
        dv, rate = self.rate(nid, pname, tau)
        bias = self.uniform(nid, f"dt/{pname} * v_leak" + (" / v_threshold" if np.ndim(scale)
                                                            else ""),
                            rate * self._per_neuron(nid, "v_leak", v_leak) * scale)
        return dv, rate, bias

    def _vth(self, nid: str, pname: str, values: Any, out: dict[str, Any]) -> float:
        """The node's threshold; thresholds that differ between neurons (all > 0) become
        one by scaling each neuron's voltage by ref / v_threshold (exact: the dynamics are
        linear in v and reset to 0): `out["scale"]` multiplies its input gain and bias."""
        th = self._per_neuron(nid, pname, values)
        if th.size and (np.all(th == th[0]) or np.allclose(th, th[0], rtol=REL_TOL, atol=0)):
            return self.uniform(nid, pname, th)
        if not (np.all(np.isfinite(th)) and np.all(th > 0)):
            return self.uniform(nid, pname, th)  # reports the difference
        ref = float(th.max())
        out["scale"] = ref / th
        return ref

    def _per_neuron(self, nid: str, pname: str, value: Any) -> np.ndarray:
        """A parameter broadcast to the node's shape, flat (C order)."""
        arr = np.asarray(value, dtype=np.float64)
        try:
            return np.broadcast_to(arr, self.shape).ravel()
        except ValueError:
            if arr.size == math.prod(self.shape):  # same neurons, another layout
                return arr.ravel()
            raise self.rep.fail(nid, f"{pname} has shape {arr.shape}, which does not broadcast "
                                f"to the node's shape {self.shape}", "a scalar, per-channel "
                                "(C, 1, 1) or per-neuron array") from None

    def _syn_rate(self, nid: str, node: Any) -> np.ndarray:
        """w_in dt / tau_syn per neuron (dt where w_in and tau_syn are both infinite)."""
        w_in = self._per_neuron(nid, "w_in", node.w_in)
        tau = self._per_neuron(nid, "tau_syn", node.tau_syn)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(w_in == tau, 1.0, w_in / tau)
        if not np.all(np.isfinite(ratio)):
            raise self.rep.fail(nid, "w_in / tau_syn is not finite", "finite w_in, or w_in == "
                                "tau_syn")
        return ratio * self.dt

    def _gain(self, nid: str, gain: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(gain)):
            raise self.rep.fail(nid, "its input gain (r, w_in, dt / tau) is not finite",
                                "finite r and w_in")
        return gain

    # -- one function per node type ----------------------------------------------

    def _threshold(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        th: dict[str, Any] = {"scale": np.ones(math.prod(shape))}
        vth = self._vth(nid, "threshold", node.threshold, th)
        return Neuron(du=1.0, dv=1.0, vth=vth, bias=0.0, gain=th["scale"], exact_bias=True)

    def _if(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        th: dict[str, Any] = {"scale": 1.0}
        _, vth, r = self._all(lambda: self._reset_zero(nid, node),
                              lambda: self._vth(nid, "v_threshold", node.v_threshold, th),
                              lambda: self._per_neuron(nid, "r", node.r))
        return Neuron(du=1.0, dv=0.0, vth=vth, bias=0.0,
                      gain=self._gain(nid, r * self.dt * th["scale"]), exact_bias=True)

    def _lif(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        th: dict[str, Any] = {"scale": 1.0}
        _, vth, (dv, rate, bias), r = self._all(
            lambda: self._reset_zero(nid, node),
            lambda: self._vth(nid, "v_threshold", node.v_threshold, th),
            lambda: self._leak(nid, "tau", node.tau, node.v_leak, th["scale"]),
            lambda: self._per_neuron(nid, "r", node.r))
        return Neuron(du=1.0, dv=dv, vth=vth, bias=bias,
                      gain=self._gain(nid, r * rate * th["scale"]), exact_bias=True)

    def _cuba_lif(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        th: dict[str, Any] = {"scale": 1.0}
        _, vth, (du, _), (dv, rate_m, bias), syn, r = self._all(
            lambda: self._reset_zero(nid, node),
            lambda: self._vth(nid, "v_threshold", node.v_threshold, th),
            lambda: self.rate(nid, "tau_syn", node.tau_syn),
            lambda: self._leak(nid, "tau_mem", node.tau_mem, node.v_leak, th["scale"]),
            lambda: self._syn_rate(nid, node),
            lambda: self._per_neuron(nid, "r", node.r))
        return Neuron(du=du, dv=dv, vth=vth, bias=bias,
                      gain=self._gain(nid, syn * r * rate_m * th["scale"]),
                      exact_bias=bool(du == 1.0))

    def _i(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        gain = self._gain(nid, self._per_neuron(nid, "r", node.r) * self.dt)
        return Neuron(du=1.0, dv=0.0, vth=READOUT_VTH, bias=0.0, gain=gain, exact_bias=True,
                      readout=True)

    def _li(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        (dv, rate, bias), r = self._all(lambda: self._leak(nid, "tau", node.tau, node.v_leak),
                                        lambda: self._per_neuron(nid, "r", node.r))
        return Neuron(du=1.0, dv=dv, vth=READOUT_VTH, bias=bias, gain=self._gain(nid, r * rate),
                      exact_bias=True, readout=True)

    def _cuba_li(self, nid: str, node: Any, shape: tuple[int, ...]) -> Neuron:
        (du, _), (dv, rate_m, bias), syn, r = self._all(
            lambda: self.rate(nid, "tau_syn", node.tau_syn),
            lambda: self._leak(nid, "tau_mem", node.tau_mem, node.v_leak),
            lambda: self._syn_rate(nid, node),
            lambda: self._per_neuron(nid, "r", node.r))
        return Neuron(du=du, dv=dv, vth=READOUT_VTH, bias=bias,
                      gain=self._gain(nid, syn * r * rate_m), exact_bias=bool(du == 1.0),
                      readout=True)
