"""Resource model of a Loihi-style neuro-core: what an assignment of neurons to cores uses.

Only `lif` populations occupy cores. `spike_source` populations are host inputs: they are
not placed, but every source neuron with a synapse onto a core costs one input axon on
that core, exactly like an on-chip presynaptic neuron. Every count is vectorized (sorts,
bincounts) for networks of 1M neurons / 100M synapses.

- `encoding`: the bits a synapse list takes in synapse memory.
- `usage`: per-core neurons, synapses, synapse bits, input and output axons.
- `traffic`: core-to-core messages and packets per spike.
- `fit`: lower bound on cores, fail-fast checks, assignment checks.
- `ids`, `sorting`: global neuron ids, projection groups, sort-based counting.
"""

from .encoding import BLOCK_SYNAPSES, SynapseFormat, projection_format, synapse_list_bits
from .fit import check_assignment, check_fit, lower_bound, too_many_cores
from .ids import all_offsets, lif_offsets, on_chip_projections
from .sorting import runs
from .traffic import CoreTraffic, core_traffic, core_traffic_wide, traffic_stats
from .usage import (
    LIMITS,
    Usage,
    core_usage,
    incoming_usage,
    usage_with_destinations,
    usage_with_traffic,
)

__all__ = [
    "BLOCK_SYNAPSES", "LIMITS", "CoreTraffic", "SynapseFormat", "Usage", "all_offsets",
    "check_assignment", "check_fit", "core_traffic", "core_traffic_wide", "core_usage",
    "incoming_usage", "lif_offsets", "lower_bound", "on_chip_projections",
    "projection_format", "runs", "synapse_list_bits", "too_many_cores", "traffic_stats",
    "usage_with_destinations", "usage_with_traffic",
]
