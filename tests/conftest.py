"""Shared test set-up. The tests mirror the code's layers: frontend/ (YAML, builder, IR,
plasticity rules), passes/ (quantize, resources, partition, place, artifact), backends/
(cpu, lava), runtime/ (API, CLI, phases, profiling); whole-repository checks stay here.

Helper modules beside this file are importable from every test folder (pytest's
`pythonpath = ["tests"]`): `repo` (paths), `cli_runner` (the `snnc` command in a child
process, with its time and peak memory), `netfactory`, `compiler_helpers`, `lava_nets`
(small networks and an independent per-synapse reference)."""

from __future__ import annotations

import importlib.util


def pytest_report_header() -> list[str]:
    """Say up front whether the Lava tests can run and what memory budget snnc sees."""
    from compiler.budget import memory_limit

    lava = "installed" if importlib.util.find_spec("lava") else "NOT installed (lava tests skip)"
    limit, source = memory_limit()
    return [f"snnc: lava-nc {lava}; memory budget {limit / 2**30:.1f} GiB ({source})"]
