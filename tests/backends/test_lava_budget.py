"""Lava backend: plans too big for the machine are refused before Lava starts, and every Lava
process is named and mapped to the compiled core it stands for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lava_nets import program_of, two_layer

from backends.lava import cost
from backends.lava.capabilities import UnsupportedError, check_program
from backends.lava.plan import make_plan
from compiler.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("granularity,cores", [("grouped", 1), ("core", 1), ("core", 3),
                                                ("core", 5)])
def test_estimate_counts_the_plan_processes(granularity, cores):
    program = program_of(two_layer(), {"hid": cores})
    plan = make_plan(program, granularity)
    est = cost.estimate(program, granularity)
    assert est.processes == plan.n_processes - len(plan.links)
    assert est.neuron_processes == len(plan.groups)
    assert est.synapse_processes == len(plan.blocks)
    # weights: 8 bytes per dense element (x2 with delays), 12 per sparse synapse
    assert est.weight_bytes > 0
    assert est.memory_bytes >= (cost.BASE_MIB + cost.PROCESS_MIB * est.processes) * (1 << 20)


def test_process_limit_refuses_with_estimate_limit_and_remedy(monkeypatch):
    program = program_of(two_layer(), {"hid": 3})
    n = make_plan(program, "core").n_processes
    monkeypatch.setenv(cost.ENV_MAX, str(n - 1))
    with pytest.raises(UnsupportedError) as err:
        check_program(program, granularity="core")
    text = str(err.value)
    assert isinstance(err.value, InputError)
    assert f"has {n} Lava processes" in text
    assert f"limit of {n - 1} processes ({cost.ENV_MAX}={n - 1})" in text
    assert "--granularity grouped" in text and "fewer cores" in text
    # the same network at 'grouped' has 4 processes: accepted
    check_program(program, granularity="grouped")
    monkeypatch.setenv(cost.ENV_MAX, str(n))
    check_program(program, granularity="core")


def test_memory_budget_refuses(monkeypatch):
    program = program_of(two_layer(), {"hid": 2})
    monkeypatch.setenv("SNNC_MEMORY_LIMIT", "100M")  # less than the Lava runtime alone
    with pytest.raises(UnsupportedError) as err:
        check_program(program, granularity="core")
    text = str(err.value)
    assert "more than the memory limit of 100.0 MiB (SNNC_MEMORY_LIMIT=100M)" in text
    assert re.search(r"about \d+\.\d MiB", text)
    monkeypatch.setenv("SNNC_MEMORY_LIMIT", "8G")
    check_program(program, granularity="core")


def test_default_limit_never_exceeds_the_os_limits():
    limit, source = cost.process_limit()
    assert 0 < limit <= cost.MAX_PROCESSES
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    assert limit <= pid_max // cost.THREADS_PER_PROCESS
    assert source


def test_brunel_core_plan_is_two_processes_per_core():
    """brunel (83 cores, no core shared by two populations): a LIF slice and one merged
    synapse process per core, plus its 2 spike sources and the spike bus."""
    from runtime.api import compile as compile_net

    program = compile_net(ROOT / "examples" / "brunel.yaml")
    n_cores = len(program.cores)
    est = cost.estimate(program, "core")
    assert (est.neuron_processes, est.synapse_processes, est.bus_processes) == (
        n_cores + 2, n_cores, 1)
    assert est.processes <= 2 * n_cores + 3
    assert make_plan(program, "core").n_processes == est.processes
    check_program(program, granularity="core")  # within the default limits


def test_core_plan_over_the_limit_refused_in_seconds():
    """The refusal names the estimate, the limit and the remedies, before Lava starts."""
    cmd = [sys.executable, "-m", "runtime.cli", "run", "examples/two_layer.yaml", "--backend",
           "lava", "--granularity", "core", "--steps", "50"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SNNC_LAVA_MAX_PROCESSES": "2"})
    elapsed = time.perf_counter() - t0
    assert out.returncode == 2, out.stderr
    assert re.search(r"has \d+ Lava processes \(\d+ neuron, \d+ synapse, 1 spike bus\)",
                     out.stderr)
    assert "limit of 2 processes (SNNC_LAVA_MAX_PROCESSES=2)" in out.stderr
    assert "--granularity chip" in out.stderr and "--granularity grouped" in out.stderr
    assert "Traceback" not in out.stderr
    assert elapsed < 90


def test_process_names_and_cores_of_a_core_plan():
    program = program_of(two_layer(), {"hid": 3})
    plan = make_plan(program, "core")
    names = plan.process_names()
    cores = plan.process_cores(program)
    assert len(set(names.values())) == plan.n_processes
    assert set(cores) == set(names.values())
    assert sorted(g.name for g in plan.groups.values()) == [
        "hid@core0", "hid@core1", "hid@core2", "inp"]
    assert sorted(b.name for b in plan.blocks.values()) == [
        "in:hid@core0", "in:hid@core1", "in:hid@core2"]
    for name, where in cores.items():
        m = re.fullmatch(r"(in:)?hid@core(\d+)", name)
        if m:  # a neuron slice, and its synapse process, on its core
            c = program.cores[int(m.group(2))]
            assert where == (c.chip, c.core)
    assert cores["inp"] is None and cores["bus"] is None
    grouped = make_plan(program, "grouped")
    assert set(grouped.process_names().values()) == {"inp", "hid", "inp_hid", "hid_hid"}
    assert grouped.process_cores(program)["hid"] is None  # spans three cores


@pytest.mark.lava
@pytest.mark.slow
def test_lava_run_meta_maps_every_process_to_its_core():
    pytest.importorskip("lava")
    import backends.lava as bl
    from runtime.profiling import activity

    program = program_of(two_layer(), {"hid": 2})
    res = bl.run(program, 20, probes=[], granularity="core")
    plan = make_plan(program, "core")
    procs = res.meta["lava_processes"]
    assert set(procs) == set(plan.process_names().values())
    assert len(procs) == res.meta["processes"]
    assert procs["hid@core0"] == (program.cores[0].chip, program.cores[0].core)
    assert procs["hid@core1"] == (program.cores[1].chip, program.cores[1].core)
    assert procs["in:hid@core1"] == procs["hid@core1"]
    # the profiler's spikes per core are the Lava processes' own spike counts
    per_core = activity(program, res.spikes).spikes.sum(axis=0)
    fired = res.meta["lava_process_spikes"]
    assert sum(fired.values()) > 0
    assert fired == {f"hid@core{c.id}": int(per_core[c.id]) for c in program.cores}
