"""Target descriptions: built-ins with sourced figures, user files, overrides, errors with lines."""

from __future__ import annotations

import textwrap

import pytest

from compiler.errors import InputError
from compiler.target import Target
from compiler.targets import COST_KEYS, TIME_KEYS, builtin_path, load_target

FIGURES = (["chips", "cores_per_chip", "mesh"]
           + [f"core.{k}" for k in ("neurons", "in_axons", "out_axons", "synapse_bits",
                                    "weight_bits", "max_delay")]
           + [f"energy_pj.{k}" for k in COST_KEYS] + [f"time_ns.{k}" for k in TIME_KEYS])


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_loihi1_limits_from_davies_2018():
    t = load_target("loihi1")
    assert (t.name, t.chips, t.cores_per_chip, t.total_cores) == ("loihi1", 1, 128, 128)
    c = t.core
    assert (c.neurons, c.in_axons, c.out_axons) == (1024, 4096, 4096)
    assert c.synapse_bits == 128 * 1024 * 8  # 128 KiB
    assert (c.weight_bits, c.max_delay) == (8, 63)
    assert t.mesh[0] * t.mesh[1] >= t.cores_per_chip


def test_loihi1_costs_are_sana_fe_figures():
    t = load_target("loihi1")
    assert set(t.energy_pj) == set(COST_KEYS)
    assert set(t.time_ns) == set(TIME_KEYS)
    # SANA-FE 2.2.9 loihi.yaml: dense synapse 35.5 pJ / 3.8 ns, access neuron 51.2 pJ / 6 ns,
    # spike out 69.3 pJ / 30 ns, message out 111 pJ / 5.1 ns, hops (3.0 + 4.2) / 2 pJ
    assert t.energy_pj["synop"] == 35.5 and t.time_ns["synop"] == 3.8
    assert t.energy_pj["neuron_update"] == 51.2 and t.time_ns["neuron_update"] == 6.0
    assert t.energy_pj["spike_out"] == 69.3 and t.time_ns["spike_out"] == 30.0
    assert t.energy_pj["message"] == 111.0 and t.time_ns["message"] == 5.1
    assert t.energy_pj["spike_hop"] == pytest.approx((3.0 + 4.2) / 2)
    assert t.time_ns["spike_hop"] == pytest.approx((4.1 + 6.5) / 2)
    assert t.time_ns["barrier"] == 600.0


@pytest.mark.parametrize("name", ["loihi1", "loihi2"])
def test_every_builtin_figure_names_its_source(name):
    t = load_target(name)
    assert t.source
    for key in FIGURES:
        assert t.sources.get(key), f"{name}: {key} has no source"
    text = builtin_path(name).read_text()
    assert text.count("#") > 20  # commented figures
    if name == "loihi1":
        assert "Davies" in t.sources["core.neurons"]
        assert "SANA-FE" in t.sources["energy_pj.synop"]
    assert "not published" in t.sources["energy_pj.chip_hop"]


def test_loihi2_marks_unpublished_figures_as_assumed():
    t = load_target("loihi2")
    assert t.cores_per_chip == 120
    assert t.core.synapse_bits == 192 * 1024 * 8
    assert t.core.neurons == 2**13  # "up to 1M neurons" / 128 cores = 8192 (2^20 / 2^7)
    for key in ("core.in_axons", "core.out_axons", "energy_pj.synop", "time_ns.barrier"):
        assert "assumed" in t.sources[key]


def test_user_file_overrides_base_and_records_line(tmp_path):
    path = write(tmp_path, "chip.yaml", """
        base: loihi2
        name: tiny
        chips: 2
        core:
          neurons: 64
        energy_pj: {synop: 10.0}
    """)
    t = load_target(path)
    assert (t.name, t.chips, t.core.neurons) == ("tiny", 2, 64)
    assert t.core.in_axons == load_target("loihi2").core.in_axons  # inherited
    assert t.energy_pj["synop"] == 10.0 and t.energy_pj["message"] == 111.0
    assert t.sources["core.neurons"] == f"{path}:5"
    assert t.sources["energy_pj.synop"] == f"{path}:6"
    assert "Loihi 2 brief" in t.sources["cores_per_chip"]
    assert t.file == str(path)


def test_base_defaults_to_loihi1_and_name_to_file_stem(tmp_path):
    t = load_target(write(tmp_path, "mine.yaml", "cores_per_chip: 4\nmesh: [2, 2]\n"))
    assert t.name == "mine" and t.cores_per_chip == 4 and t.core.neurons == 1024
    assert t.time_ns["synop"] == 3.8


def test_base_may_be_a_relative_file(tmp_path):
    write(tmp_path, "a.yaml", "core: {neurons: 100}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    write(sub, "b.yaml", "base: ../a.yaml\nchips: 3\n")
    t = load_target(sub / "b.yaml")
    assert (t.core.neurons, t.chips) == (100, 3)


def test_relative_path_resolves_against_base_dir(tmp_path, monkeypatch):
    write(tmp_path, "c.yaml", "chips: 5\n")
    monkeypatch.chdir("/")
    assert load_target("c.yaml", base_dir=tmp_path).chips == 5


def test_overrides_nested_and_dotted():
    t = load_target("loihi1", {"core": {"neurons": 256}, "time_ns.barrier": 1800, "chips": 4})
    assert (t.core.neurons, t.time_ns["barrier"], t.chips) == (256, 1800.0, 4)
    assert t.core.in_axons == 4096
    assert t.sources["core.neurons"] == "override"
    assert load_target("loihi1").core.neurons == 1024  # built-in not mutated


def test_load_target_accepts_a_target_and_copies_it():
    base = Target("x")
    t = load_target(base, {"chips": 2})
    assert t.chips == 2 and base.chips == 1


def test_unknown_key_names_line_and_suggests(tmp_path):
    path = write(tmp_path, "bad.yaml", """
        name: bad
        core:
          nuerons: 64
        energy_pj: {synops: 1.0}
    """)
    with pytest.raises(InputError) as exc:
        load_target(path)
    text = str(exc.value)
    assert f"{path}:3: core.nuerons: unknown key 'nuerons' (did you mean 'neurons'?)" in text
    assert f"{path}:4: energy_pj.synops" in text and "did you mean 'synop'" in text


@pytest.mark.parametrize("body, line, field, allowed", [
    ("chips: 0\n", 1, "chips", "an integer >= 1"),
    ("core:\n  weight_bits: 9\n", 2, "core.weight_bits", "[1, 8]"),
    ("core:\n  max_delay: 64\n", 2, "core.max_delay", "[0, 63]"),
    ("x: 1\nchips: two\n", 2, "chips", "an integer"),
    ("energy_pj:\n  synop: -1\n", 2, "energy_pj.synop", "a number >= 0"),
    ("mesh: [4]\n", 1, "mesh", "[x, y]"),
    ("cores_per_chip: 10\nmesh: [3, 3]\n", 2, "mesh", "x * y >= cores_per_chip"),
    ("sources: {core.neuron: x}\n", 1, "sources.core.neuron", "core.neurons"),
])
def test_bad_values_are_reported_with_line(tmp_path, body, line, field, allowed):
    path = write(tmp_path, "t.yaml", body)
    with pytest.raises(InputError) as exc:
        load_target(path)
    text = str(exc.value)
    assert f"{path}:{line}: {field}:" in text
    assert allowed in text


def test_yaml_syntax_error_and_duplicate_key(tmp_path):
    path = write(tmp_path, "syn.yaml", "chips: 1\ncore: [1, 2\n")
    with pytest.raises(InputError, match=r"syn\.yaml:\d+: YAML syntax error"):
        load_target(path)
    path = write(tmp_path, "dup.yaml", "chips: 1\nchips: 2\n")
    with pytest.raises(InputError, match=r"dup\.yaml:2: chips: duplicate key"):
        load_target(path)


def test_base_loop_and_unknown_names(tmp_path):
    write(tmp_path, "a.yaml", "base: b.yaml\n")
    write(tmp_path, "b.yaml", "base: a.yaml\n")
    with pytest.raises(InputError, match="loops back"):
        load_target(tmp_path / "a.yaml")
    with pytest.raises(InputError, match="did you mean 'loihi1'"):
        load_target("loihi_1")
    with pytest.raises(InputError, match="neither a built-in target nor a file"):
        load_target(tmp_path / "missing.yaml")


def test_bad_override_is_an_input_error():
    with pytest.raises(InputError, match="overrides: core.neurons"):
        load_target("loihi1", {"core.neurons": -1})
    with pytest.raises(InputError, match="did you mean 'chips'"):
        load_target("loihi1", {"chipz": 2})
