"""The merged synapse blocks of granularity 'core' / 'chip': one per destination slice.

Every static projection's synapses go to the block of their destination slice (a
population's part on one core or chip), fed by the spike bus (`procs/bus.py`: the
concatenation of all source slices' spikes), so the plan has one synapse process per
destination slice instead of one per (projection, source slice, destination slice).

Bit-exactness with the cpu backend (and with one process per projection) decides what
may share a block, by `merge_class`:
* fixed precision, weight_exp >= 0: Lava left-shifts each block's sum, which distributes
  over the projections, so they share one block; the weights are stored as Lava's
  effective weights in sign mode mixed with 9 bits (`MERGED_BITS`: no bits dropped),
  whatever each projection's own sign mode and bits, re-expressed at one weight_exp
  shared by the block (w << k, or w >> k where the k low bits are zero: exact); a
  projection whose weights cannot share it within [-256, 255] goes to another block;
* weight_exp < 0: Lava floors the shifted sum of each block (per delay), so such a
  projection keeps a block of its own per destination slice (all its source slices in
  it: the same sum as the whole projection, unlike a block per source slice);
* float precision and projections lowered to Dense (weight probes, weight_scale): one
  block per projection and destination slice (float sums stay in the cpu's order);
* plastic projections: one learning process per projection and destination slice (a
  learning rule is per connection process), with the projection's own weights, sign mode
  and bits; Lava's learning randoms are one number per step, whatever the matrix shape.
Two projections joining the same (post, pre) pair go to different blocks (a matrix holds
one synapse per pair).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler.ir import Projection
from compiler.lava_weights import effective_weights, sign_mode

from .plan_types import BUS, MERGED_BITS, MERGED_MODE, LavaPlan, Slices, SynapseBlock, choose_kind


def merge_class(proj: Projection, precision: str, dense: bool) -> tuple[str, int | str]:
    """The key of the projections that may share one block per destination slice."""
    if proj.plasticity is not None:
        return ("plastic", proj.name)
    if precision != "fixed" or dense or proj.weight_exp < 0:
        return ("proj", proj.name)
    return ("exp", 0)


@dataclass
class _Part:
    """One projection's synapses into one destination slice (bus columns)."""

    proj: str
    rows: np.ndarray
    cols: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    weight_exp: int
    mode: str  # the projection's sign mode
    bits: int  # the projection's num_weight_bits


def _trailing_zeros(w: np.ndarray) -> int:
    """How many low bits all of `w` have zero (16 when all are zero)."""
    nz = np.abs(w[w != 0]).astype(np.int64)
    return 16 if nz.size == 0 else int(np.log2(np.min(nz & -nz)))


def _fits(lo: int, hi: int, tz: int, exp: int, target: int) -> bool:
    """Whether values lo..hi (all with `tz` low zero bits) at weight_exp `exp` are exactly
    integers in [-256, 255] at weight_exp `target`."""
    if target >= exp:
        return tz >= target - exp and -256 <= lo >> (target - exp) and hi >> (target - exp) <= 255
    return -256 <= lo << (exp - target) and hi << (exp - target) <= 255


@dataclass
class _Layer:
    """The parts of one block; `keys` the (row, col) pairs taken (no pair twice), `exp` the
    block's weight_exp, `lo`, `hi`, `tz` its stored weights' range and zero low bits."""

    parts: list[_Part] = field(default_factory=list)
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exp: int = 0
    lo: int = 0
    hi: int = 0
    tz: int = 16

    def shared_exp(self, part: _Part) -> int | None:
        """The weight_exp (>= 0) at which this layer and `part` fit one block, or None."""
        p = (int(part.weight.min()), int(part.weight.max()), _trailing_zeros(part.weight),
             part.weight_exp)
        if not self.parts:
            return part.weight_exp
        mine = (self.lo, self.hi, self.tz, self.exp)
        for target in range(min(self.exp, p[3]), max(self.exp + self.tz, p[3] + p[2]) + 1):
            if _fits(*mine, target) and _fits(*p, target):
                return target
        return None

    def add(self, part: _Part, keys: np.ndarray, exp: int) -> None:
        """Add `part`, the block's weights now at weight_exp `exp` (from `shared_exp`)."""
        vals = [_at(part.weight, part.weight_exp, exp)]
        if self.parts:
            vals.append(_at(np.array([self.lo, self.hi]), self.exp, exp))
        both = np.concatenate(vals)
        self.lo, self.hi = int(both.min()), int(both.max())
        self.tz = min(_trailing_zeros(vals[0]), max(self.tz - (exp - self.exp), 0)
                      if self.parts else 16)
        self.exp = exp
        self.parts.append(part)
        self.keys = np.concatenate([self.keys, keys])


def _at(w: np.ndarray, exp: int, target: int) -> np.ndarray:
    """Weights `w` at weight_exp `exp` re-expressed at `target` (exact: see `_fits`)."""
    w = np.asarray(w, dtype=np.int64)
    return w >> (target - exp) if target >= exp else w << (exp - target)


def _bus_columns(plan: LavaPlan, slices: Slices, pop: str) -> np.ndarray:
    """Bus column of every neuron of `pop`."""
    offsets = plan.bus_offsets()
    starts = np.array([offsets[k] for k in slices.keys[pop]], dtype=np.int64)
    return starts[slices.gid[pop]] + slices.lid[pop]


def _by_destination(dg: np.ndarray):
    """(destination group number, synapse selection) per destination with synapses."""
    order = np.argsort(dg, kind="stable")
    cuts = np.flatnonzero(np.diff(dg[order])) + 1
    for sel in np.split(order, cuts):
        if sel.size:
            yield int(dg[sel[0]]), sel


def _stored_weights(proj: Projection, precision: str) -> np.ndarray:
    """What the block holds: Lava's effective weights (fixed, static), the weights (float,
    or plastic: the learning process quantizes them itself)."""
    if precision != "fixed" or proj.plasticity is not None:
        return np.asarray(proj.weight, dtype=np.float64)
    return effective_weights(proj.weight, proj.num_weight_bits, sign_mode(proj.weight))


def add_bus_blocks(plan: LavaPlan, projs: list[Projection], slices: Slices,
                   dense_projections: frozenset[str]) -> None:
    """Put the spike bus and the merged blocks of `projs` into `plan`."""
    pre_pops = {p.pre for p in projs}
    plan.bus = [k for k, g in plan.groups.items() if g.pop in pre_pops]
    width = plan.bus_size
    layers: dict[tuple[str, tuple], list[_Layer]] = {}
    for proj in projs:
        cls = merge_class(proj, plan.precision, proj.name in dense_projections)
        cols = _bus_columns(plan, slices, proj.pre)[proj.pre_idx]
        rows = slices.lid[proj.post][proj.post_idx]
        weight = _stored_weights(proj, plan.precision)
        for d, sel in _by_destination(slices.gid[proj.post][proj.post_idx]):
            part = _Part(proj.name, rows[sel], cols[sel], weight[sel], proj.delay[sel],
                         int(proj.weight_exp) if plan.precision == "fixed" else 0,
                         sign_mode(proj.weight), int(proj.num_weight_bits))
            _place(layers.setdefault((slices.keys[proj.post][d], cls), []), part, width)
    for (post_key, cls), stack in layers.items():
        for i, layer in enumerate(stack):
            block = _block(plan, post_key, cls, i, layer, width,
                           cls[0] == "proj" and cls[1] in dense_projections)
            plan.blocks[block.key] = block


def _place(stack: list[_Layer], part: _Part, width: int) -> None:
    """Add `part` to the first layer none of whose (post, pre) pairs it repeats."""
    keys = part.rows.astype(np.int64) * width + part.cols
    for layer in stack:
        exp = layer.shared_exp(part)
        if exp is not None and not np.isin(keys, layer.keys).any():
            break
    else:
        layer, exp = _Layer(), part.weight_exp
        stack.append(layer)
    layer.add(part, keys, exp)


def _block(plan: LavaPlan, post_key: str, cls: tuple, layer_no: int, layer: _Layer,
           width: int, dense: bool) -> SynapseBlock:
    """The SynapseBlock of one layer; named `in:<slice>` (plus the class where needed)."""
    parts = layer.parts
    cat = lambda attr: np.concatenate([getattr(p, attr) for p in parts])  # noqa: E731
    rows, cols, delay = cat("rows"), cat("cols"), cat("delay")
    if plan.precision == "fixed" and cls[0] == "exp":  # exact: the layer checked they fit
        weight = np.concatenate([_at(p.weight, p.weight_exp, layer.exp) for p in parts])
    else:
        weight = cat("weight")
    shape = (plan.groups[post_key].index.size, width)
    kind = choose_kind(rows.size, shape, bool(delay.size and delay.max() > 0), dense)
    name = f"in:{plan.groups[post_key].name}"
    if cls[0] != "exp":
        name += f"[{cls[1]}]"
    if layer_no:
        name += f"#{layer_no}"
    projs = tuple(dict.fromkeys(p.proj for p in parts))
    merged = plan.precision == "fixed" and cls[0] != "plastic"
    return SynapseBlock(
        key=name, proj="+".join(projs), pre_group=BUS, post_group=post_key, shape=shape,
        rows=rows, cols=cols, weight=weight, delay=delay, kind=kind,
        sign_mode=MERGED_MODE if merged else parts[0].mode, weight_exp=layer.exp,
        num_weight_bits=MERGED_BITS if merged else parts[0].bits, name=name, projs=projs)

