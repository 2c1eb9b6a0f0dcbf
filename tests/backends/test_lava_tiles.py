"""A positioned sheet with local connectivity, cut into tiles, runs on Lava exactly as on cpu."""

from __future__ import annotations

import numpy as np
import pytest

from compiler import compile_network
from compiler.frontend import Network
from compiler.ir import Probe
from compiler.target import CoreLimits, Target

pytest.importorskip("lava")
import backends.cpu as cpu  # noqa: E402
import backends.lava as bl  # noqa: E402

pytestmark = pytest.mark.lava


def test_tiled_local_sheet_matches_cpu_per_core_process():
    net = (Network("tiles", seed=3, steps=25)
           .population("inp", 36, spikes={"kind": "poisson", "rate": 0.3})
           .population("s", 36, params={"du": 600, "dv": 300, "vth": 3},
                       positions={"grid": [6, 6]})
           .projection("inp_s", "inp", "s", "one_to_one", weight=220)
           .projection("s_s", "s", "s", {"kind": "local", "radius": 1.5},
                       weight={"dist": "uniform", "low": -40, "high": 90}, delay=2)
           .build())
    net.probes = [Probe("s", "v")]
    target = Target(name="nine", chips=1, cores_per_chip=16, mesh=(4, 4),
                    core=CoreLimits(neurons=9))
    with pytest.warns(UserWarning, match="weight rounding"):  # mixed signs: 7 + sign bits
        prog = compile_network(net, target, partitioner="tile")
    assert prog.partitioner == "tile" and len(prog.cores) == 4  # four 3 x 3 tiles
    tiles = sorted(sorted(c.neurons["s"].tolist()) for c in prog.cores)
    assert [0, 1, 2, 6, 7, 8, 12, 13, 14] in tiles
    ref = cpu.run(prog, 25)
    assert ref.spikes["s"].sum() > 0
    res = bl.run(prog, 25, granularity="core")
    assert res.meta["processes"] >= 4
    np.testing.assert_array_equal(res.spikes["s"], ref.spikes["s"])
    np.testing.assert_array_equal(res.values["s.v"], ref.values["s.v"])
