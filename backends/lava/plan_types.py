"""The data of a Lava lowering plan: neuron groups, synapse blocks, the plan (no Lava).

Built by `plan.make_plan` (and `bus_blocks` for the merged blocks of granularity 'core' /
'chip'); read by the worker (`lowering`) and the parent (`job`, `phases`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from compiler.program import Program

from .conv_plan import LavaConv

GRANULARITIES = ("grouped", "core", "chip")
SYNAPSE_KINDS = ("dense", "sparse", "delay_dense", "delay_sparse", "conv")
MAX_DELAY = 63  # Lava 0.10's DelayDense / DelaySparse
SPARSE_BELOW = 0.2  # a block with fewer synapses than this fraction of its matrix is lowered to Sparse
BUS = "bus"  # plan key and Lava name of the spike bus (`procs/bus.py`)
# A bus block holds Lava's effective weights (`compiler.lava_weights.effective_weights`) of
# several projections, whatever their sign modes and bits: sign mode mixed with 9 weight
# bits drops 8 - 9 + 1 = 0 low bits and clips to [-256, 255], which holds every effective
# weight unchanged, so the merged process adds exactly what the separate ones would.
MERGED_MODE, MERGED_BITS = "mixed", 9


@dataclass
class NeuronGroup:
    """One Lava neuron process: a LIF slice of `pop` (or the RingBuffer of a spike source)."""

    key: str
    pop: str
    index: np.ndarray  # neuron indices of `pop` held by this process, ascending
    core: int | None = None  # global core id (core granularity), else None
    is_source: bool = False
    chip: int | None = None  # chip id (chip granularity), else None

    @property
    def name(self) -> str:
        """The Lava process name: `<pop>@core<id>` for a slice on one core, `<pop>@chip<id>`
        for a slice on one chip, else `<pop>`."""
        if self.core is not None:
            return f"{self.pop}@core{self.core}"
        return self.pop if self.chip is None else f"{self.pop}@chip{self.chip}"


@dataclass
class SynapseBlock:
    """One Lava synapse process: the synapses of `proj` from `pre_group` to `post_group`.

    rows/cols index the block matrix (post-local, pre-local), as Lava's (post, pre) weights
    (empty for a Conv block: `conv` holds its kernel).
    A bus block (`pre_group == BUS`) takes the spike bus as input: its cols are bus columns,
    and it may merge several projections (`projs`; `proj` then joins their names by '+').
    """

    key: str
    proj: str
    pre_group: str
    post_group: str
    shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    kind: str
    sign_mode: str  # projection-wide: "excitatory" | "inhibitory" | "mixed"
    weight_exp: int = 0
    num_weight_bits: int = 8
    name: str = ""  # the Lava process name (`<proj>@c<src>->c<dst>` per core); key if empty
    projs: tuple[str, ...] = ()  # the projections it holds; (proj,) if empty
    conv: LavaConv | None = None  # kind "conv": Lava Conv arguments (`conv_plan`)

    def __post_init__(self) -> None:
        self.name = self.name or self.key
        self.projs = self.projs or (self.proj,)

    @property
    def on_bus(self) -> bool:
        return self.pre_group == BUS

    @property
    def elements(self) -> int:
        """What Lava's cost grows with: the dense matrix size, or a bus block's or a Conv's
        synapses (a bus block's columns span the whole bus, most of them empty)."""
        if self.conv is not None:
            return int(max(self.conv.synapses, self.shape[0]))
        if self.on_bus and self.kind in ("sparse", "delay_sparse"):
            return int(max(self.rows.size, self.shape[0]))
        return int(self.shape[0] * self.shape[1])

    def dense(self, values: np.ndarray) -> np.ndarray:
        """A (post, pre) matrix of this block holding `values` at its synapses."""
        out = np.zeros(self.shape, dtype=values.dtype)
        out[self.rows, self.cols] = values
        return out

    def csr(self, values: np.ndarray) -> sp.csr_matrix:
        """The same as `dense` as a canonical scipy csr matrix."""
        m = sp.csr_matrix((values, (self.rows, self.cols)), shape=self.shape)
        m.sum_duplicates()
        m.sort_indices()
        return m


@dataclass
class LavaPlan:
    """Everything the worker needs to build the Lava network, as plain data."""

    precision: str
    granularity: str
    groups: dict[str, NeuronGroup] = field(default_factory=dict)
    blocks: dict[str, SynapseBlock] = field(default_factory=dict)
    # (pre group, post group) of zero-weight Dense links that join otherwise unconnected parts:
    # Lava only runs the processes connected to the one `run()` is called on
    links: list[tuple[str, str]] = field(default_factory=list)
    bus: list[str] = field(default_factory=list)  # group keys on the spike bus, in bus order
    # per projection with a ConvSpec: "conv" when lowered to Lava's Conv, else why not
    conv_lowering: dict[str, str] = field(default_factory=dict)

    def process_names(self) -> dict[str, str]:
        """Lava process name of every group, block and link key of the plan (and the bus)."""
        out = {k: g.name for k, g in self.groups.items()}
        out.update({k: b.name for k, b in self.blocks.items()})
        out.update({link_name(pre, post): link_name(pre, post) for pre, post in self.links})
        if self.bus:
            out[BUS] = BUS
        return out

    def bus_offsets(self) -> dict[str, int]:
        """First bus column of each group on the bus."""
        sizes = [self.groups[k].index.size for k in self.bus]
        starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        return {k: int(o) for k, o in zip(self.bus, starts[:-1], strict=True)}

    @property
    def bus_size(self) -> int:
        return int(sum(self.groups[k].index.size for k in self.bus))

    def pre_columns(self, block: SynapseBlock, pre_pop: str) -> tuple[np.ndarray, np.ndarray]:
        """(block columns, neuron indices of `pre_pop` they hold) of one block."""
        if not block.on_bus:
            return np.arange(block.shape[1]), self.groups[block.pre_group].index
        offsets = self.bus_offsets()
        cols, idx = [], []
        for key in self.bus:
            g = self.groups[key]
            if g.pop == pre_pop:
                cols.append(offsets[key] + np.arange(g.index.size))
                idx.append(g.index)
        if not cols:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(cols), np.concatenate(idx)

    def process_cores(self, program: Program) -> dict[str, tuple[int, int] | None]:
        """Lava process name -> (chip, core within the chip) of the compiled core it stands
        for: a neuron slice's core, a synapse block's destination core (synapses live with
        their post neurons), a link's post core; None where a process spans no single core
        (spike sources, a population over several cores at granularity 'grouped')."""
        def of(g: NeuronGroup) -> tuple[int, int] | None:
            core = g.core
            if core is None and not g.is_source and g.pop in program.core_of:
                ids = np.unique(np.asarray(program.core_of[g.pop])[g.index])
                core = int(ids[0]) if ids.size == 1 else None
            if core is None:
                return None
            c = program.cores[core]
            return int(c.chip), int(c.core)

        out = {g.name: of(g) for g in self.groups.values()}
        out.update({b.name: of(self.groups[b.post_group]) for b in self.blocks.values()})
        out.update({link_name(pre, post): of(self.groups[post]) for pre, post in self.links})
        if self.bus:
            out[BUS] = None  # the spike router between all cores
        return out

    def groups_of(self, pop: str) -> list[NeuronGroup]:
        return [g for g in self.groups.values() if g.pop == pop]

    @property
    def n_processes(self) -> int:
        return len(self.groups) + len(self.blocks) + len(self.links) + int(bool(self.bus))

    def matrix_elements(self) -> int:
        """Sum of the blocks' `elements` (Lava's cost grows with it)."""
        return int(sum(b.elements for b in self.blocks.values()))


def link_name(pre: str, post: str) -> str:
    """Name of the zero-weight link process from group `pre` to group `post`."""
    return f"link:{pre}->{post}"


def choose_kind(n_syn: int, shape: tuple[int, int], has_delay: bool, force_dense: bool = False) -> str:
    """Dense unless the block is sparse (fewer than SPARSE_BELOW of its matrix); Delay* if delayed."""
    sparse = not force_dense and n_syn < SPARSE_BELOW * shape[0] * shape[1]
    base = "sparse" if sparse else "dense"
    return f"delay_{base}" if has_delay else base


@dataclass
class Slices:
    """Per population: the plan's group keys, and each neuron's group number and local index."""

    keys: dict[str, list[str]] = field(default_factory=dict)
    gid: dict[str, np.ndarray] = field(default_factory=dict)
    lid: dict[str, np.ndarray] = field(default_factory=dict)


