"""Hostile YAML (alias bombs, deep nesting, control characters, huge values) fails fast with
exit 2 and a short message naming file and line; YAML 1.2 numbers are read as floats."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest
from cli_runner import Measured, TooLong, snnc_measured
from repo import ROOT

from compiler.errors import MAX_DIAGNOSTICS, Diagnostic, InputError, brief
from compiler.frontend import load_network
from compiler.targets import load_target
from compiler.yamlio import MAX_ALIAS_NODES, MAX_DEPTH, load_yaml, parse_yaml

BASE = (ROOT / "examples" / "two_layer.yaml").read_text()
HID_OUT_WEIGHT = "weight: {dist: uniform, low: -30, high: 90}"


def run_cli(*args: str, timeout: float = 60) -> Measured:
    """`snnc ARGS` measured; a run past `timeout` fails the test."""
    try:
        return snnc_measured(*args, timeout=timeout)
    except TooLong as exc:
        pytest.fail(str(exc))


def compile_cli(path: Path, tmp_path: Path) -> Measured:
    return run_cli("compile", str(path), "-o", str(tmp_path / "out.snnc"))


def laughs(levels: int = 9, fold: int = 9, indent: str = "  ") -> list[str]:
    """Lines `a: &a [x, ...]`, `b: &b [*a, ...]`, ...: anchor number `levels` holds fold**levels x."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = [f"{indent}a: &a [" + ", ".join(["x"] * fold) + "]"]
    for prev, name in zip(names[:levels - 1], names[1:levels], strict=True):
        lines.append(f"{indent}{name}: &{name} [" + ", ".join([f"*{prev}"] * fold) + "]")
    return lines


def first_line_over_limit(levels: int, fold: int, first_line: int) -> int:
    """File line of the anchor definition (from laughs()) whose aliases pass MAX_ALIAS_NODES."""
    size, repeated = 1 + fold, 0  # anchor a: the list and its scalars
    for level in range(1, levels):
        repeated += fold * size
        if repeated > MAX_ALIAS_NODES:
            return first_line + level
        size = 1 + fold * size
    raise AssertionError("no definition passes the limit")


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# -- alias bombs ----------------------------------------------------------------


def test_billion_laughs_as_a_field_value_fails_fast_and_small(tmp_path: Path) -> None:
    text = "lol:\n" + "\n".join(laughs()) + "\n" + BASE.replace(HID_OUT_WEIGHT, "weight: *i")
    path = write(tmp_path, text)
    run = compile_cli(path, tmp_path)
    assert run.rc == 2, run.err
    assert run.cpu_seconds < 5 and run.seconds < 30 and run.peak_mb < 300, run
    line = first_line_over_limit(9, 9, first_line=2)
    assert f"{path}:{line}: alias *" in run.err
    assert f"at most {MAX_ALIAS_NODES:,} nodes" in run.err
    assert "Traceback" not in run.err and len(run.err) < 500


def test_alias_bomb_passing_the_limit_at_the_field_names_the_field_line(tmp_path: Path) -> None:
    defs = laughs(levels=5)  # anchor e: 9**5 scalars, about 66,000 nodes: allowed
    wide = "weight: [" + ", ".join(["*e"] * 20) + "]"
    text = "lol:\n" + "\n".join(defs) + "\n" + BASE.replace(HID_OUT_WEIGHT, wide)
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_network(path)
    (diag,) = info.value.diagnostics
    assert (diag.file, diag.line) == (str(path), line_of(text, "weight: [*e"))
    assert "alias *e repeats 66,430 nodes" in diag.message
    assert f"{MAX_ALIAS_NODES:,}" in diag.allowed


def test_billion_laughs_as_a_top_level_value_and_in_a_target_file(tmp_path: Path) -> None:
    text = "lol:\n" + "\n".join(laughs()) + "\n" + BASE.replace(
        "probes: [inp.spikes, hid.spikes, hid.v, out.spikes, out.v, hid_out.weights]",
        "probes: *i")
    path = write(tmp_path, text)
    run = compile_cli(path, tmp_path)
    assert run.rc == 2, run.err
    assert run.cpu_seconds < 5 and run.seconds < 30 and run.peak_mb < 300, run
    assert f"{path}:{first_line_over_limit(9, 9, 2)}: alias *" in run.err

    target = write(tmp_path, "base: loihi2\nsources:\n" + "\n".join(laughs()) + "\n"
                   "energy_pj: *i\n", "chip.yaml")
    with pytest.raises(InputError) as info:
        load_target(target)
    assert f"{target}:{first_line_over_limit(9, 9, 3)}: alias *" in str(info.value)


def test_alias_to_its_own_enclosing_node_is_refused(tmp_path: Path) -> None:
    text = BASE.replace(HID_OUT_WEIGHT, "weight: &w [1, [2, *w]]")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_network(path)
    text_err = str(info.value)
    assert f"{path}:{line_of(text, '&w')}:" in text_err and "cycle" in text_err


# -- nesting --------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["sequence", "mapping"])
def test_5000_deep_nesting_exits_2_with_the_line(tmp_path: Path, shape: str) -> None:
    deep = "[" * 5000 + "]" * 5000 if shape == "sequence" else "{a: " * 5000 + "1" + "}" * 5000
    text = BASE + f"deep: {deep}\n"
    path = write(tmp_path, text)
    run = compile_cli(path, tmp_path)
    assert run.rc == 2, run.err
    assert "internal error" not in run.err and "Traceback" not in run.err
    assert f"{path}:{line_of(text, 'deep:')}: nesting deeper than {MAX_DEPTH} levels" in run.err


def test_block_nesting_error_names_the_line_of_the_first_level_too_deep() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "x\n"
    with pytest.raises(InputError) as info:
        parse_yaml(text, "deep.yaml")
    (diag,) = info.value.diagnostics
    # the document mapping (level 1) starts on line 1; level 101 starts on line 101
    assert diag.line == MAX_DEPTH + 1
    data, _ = parse_yaml("".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH))
                         + "  " * MAX_DEPTH + "x\n")  # exactly MAX_DEPTH levels: fine
    for i in range(MAX_DEPTH - 1):
        data = data[f"k{i}"]
    assert data == {f"k{MAX_DEPTH - 1}": "x"}


# -- characters -----------------------------------------------------------------


@pytest.mark.parametrize("char,name", [("\x00", "U+0000 (NUL)"), ("\x07", "U+0007 (BEL)"),
                                       ("\x1b", "U+001B (ESC)")])
def test_control_character_exits_2_with_line_and_column(tmp_path: Path, char: str,
                                                        name: str) -> None:
    text = BASE.replace("name: two_layer", f"name: two{char}layer")
    path = write(tmp_path, text)
    run = compile_cli(path, tmp_path)
    assert run.rc == 2, run.err
    line = line_of(text, "name: two")
    assert f"{path}:{line}: character {name} at column 10 is not allowed" in run.err
    assert "allowed: printable characters" in run.err and "internal error" not in run.err


def test_bytes_that_are_not_utf8_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_bytes(BASE.replace("name: two_layer", "name: tw\xff").encode("latin-1"))
    with pytest.raises(InputError) as info:
        load_yaml(path)
    assert f"{path}:{line_of(BASE, 'name: two')}: byte 0xff at column 9 is not UTF-8" \
        in str(info.value)


# -- huge and unreadable values -------------------------------------------------


def test_long_strings_in_numeric_fields_give_short_messages(tmp_path: Path) -> None:
    long = "x" * 100_000
    text = BASE.replace("rate: 0.2", f"rate: {long}").replace("size: 32", f"size: {long}")
    with pytest.raises(InputError) as info:
        load_network(write(tmp_path, text))
    msg = str(info.value)
    assert len(msg) < 1000, msg[:300]
    assert f":{line_of(text, 'rate: x')}: populations.inp.spikes.rate: found 'xxx" in msg
    assert f":{line_of(text, 'size: x')}: populations.hid.size: found 'xxx" in msg


@pytest.mark.slow  # PyYAML's pure-Python scanner reads 5 MB in several seconds
def test_5mb_string_in_a_numeric_field_gives_a_short_message(tmp_path: Path) -> None:
    text = BASE.replace("rate: 0.2", "rate: " + "x" * 5_000_000)
    path = write(tmp_path, text)
    run = compile_cli(path, tmp_path)
    assert run.rc == 2, run.err[:300]
    assert len(run.err) < 500, len(run.err)
    assert f"{path}:{line_of(text, 'rate: x')}: populations.inp.spikes.rate: found 'xxx" in run.err


def test_unreadable_scalars_exit_2_with_their_line(tmp_path: Path) -> None:
    for bad in ("1" * 5000, "2001-13-45", "!!int twelve"):
        text = BASE.replace("seed: 7", f"seed: {bad}")
        with pytest.raises(InputError) as info:
            parse_yaml(text, "net.yaml")
        msg = str(info.value)
        assert f"net.yaml:{line_of(text, 'seed:')}: YAML syntax error: cannot read the value" in msg
        assert len(msg) < 500


def test_shared_structures_render_briefly_and_fast() -> None:
    x: list = ["x"] * 9
    for _ in range(12):  # 9**13 leaves, shared
        x = [x] * 9
    start = time.monotonic()
    text = brief(x)
    assert time.monotonic() - start < 0.1
    assert text.startswith("a list [[") and len(text) <= 60
    assert brief({f"k{i}": i for i in range(10**5)}) == "a mapping {k0, k1, k2, k3, ...}"
    assert brief(10**5000).startswith("an integer of ")
    assert len(Diagnostic("x" * 10**6, field="y" * 10**6).format()) < 2500


def test_a_flood_of_errors_stops_after_the_cap(tmp_path: Path) -> None:
    text = BASE.replace(
        "probes: [inp.spikes, hid.spikes, hid.v, out.spikes, out.v, hid_out.weights]",
        "probes: [" + ", ".join(f"nope{i}.spikes" for i in range(3 * MAX_DIAGNOSTICS)) + "]")
    with pytest.raises(InputError) as info:
        load_network(write(tmp_path, text))
    diags = info.value.diagnostics
    assert len(diags) == MAX_DIAGNOSTICS + 1
    assert "stopped after the first" in diags[-1].message


# -- YAML 1.2 numbers and ordinary YAML features -------------------------------


def test_yaml12_floats_are_numbers_in_networks() -> None:
    text = (BASE.replace("rate: 0.2", "rate: 5e-2")
            .replace("{kind: random, p: 0.5}", "{kind: random, p: 1e-1}")
            .replace("size: 32", "size: 3.2E1"))
    net = load_network_text(text)
    assert net.populations["inp"].source.rate == pytest.approx(0.05)
    assert net.populations["hid"].size == 32 and isinstance(net.populations["hid"].size, int)
    same = load_network_text(text.replace("p: 1e-1", "p: 0.1"))  # same seed, same draws
    assert net.projections["hid_out"].n_synapses == same.projections["hid_out"].n_synapses < 60
    assert (net.projections["hid_out"].pre_idx == same.projections["hid_out"].pre_idx).all()
    data, _ = parse_yaml("a: [5e-2, 1E3, -.5, +2e+2, 1.0e3, 7, 1_000, 08, 1.2.3, .inf]")
    assert data["a"][:7] == [0.05, 1000.0, -0.5, 200.0, 1000.0, 7, 1000]
    assert [type(v) for v in data["a"][:7]] == [float] * 5 + [int] * 2
    assert data["a"][7:9] == ["08", "1.2.3"] and data["a"][9] == float("inf")


def test_integer_field_given_a_fractional_exponent_float_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("size: 32", "size: 1.5e0")
    with pytest.raises(InputError) as info:
        load_network(write(tmp_path, text))
    assert f":{line_of(text, 'size: 1.5e0')}: populations.hid.size: found 1.5; expected a " \
        "positive integer" in str(info.value)


def test_yaml12_floats_in_target_files(tmp_path: Path) -> None:
    path = write(tmp_path, "base: loihi2\nenergy_pj: {synop: 2.36e1}\ntime_ns: {barrier: 1E2}\n"
                 "core: {neurons: 6.4e1}\n", "chip.yaml")
    target = load_target(path)
    assert target.energy_pj["synop"] == pytest.approx(23.6)
    assert target.time_ns["barrier"] == pytest.approx(100.0)
    assert target.core.neurons == 64 and isinstance(target.core.neurons, int)
    bad = write(tmp_path, "base: loihi2\ncore: {neurons: 6.5e0}\n", "bad.yaml")
    with pytest.raises(InputError) as info:
        load_target(bad)
    assert f"{bad}:2: core.neurons: found 6.5 (float)" in str(info.value)


def test_anchors_aliases_and_merge_keys_still_work() -> None:
    text = (BASE.replace("params: {du: 1024, dv: 256, vth: 1000, bias_mant: 0, bias_exp: 0}",
                         "params: &lif {du: 1024, dv: 256, vth: 1000, bias_mant: 0, bias_exp: 0}")
            .replace("params: {du: 1024, dv: 256, vth: 2000}", "params: {<<: *lif, vth: 2000}")
            .replace("delay: {dist: uniform_int, low: 0, high: 3}",
                     "delay: &d {dist: uniform_int, low: 0, high: 3}")
            .replace("delay: 1\n", "delay: *d\n"))
    net = load_network_text(text)
    out, hid = net.populations["out"].lif, net.populations["hid"].lif
    assert (out.du, out.dv, out.vth) == (1024, 256, 2000) and hid.vth == 1000
    assert set(net.projections["hid_out"].delay.tolist()) == {0, 1, 2, 3}


def test_duplicate_keys_still_reported_with_their_line() -> None:
    text = BASE.replace("params: {du: 1024, dv: 256, vth: 2000}",
                        "params: {du: 1024, dv: 256, vth: 2000, du: 5}")
    with pytest.raises(InputError) as info:
        parse_yaml(text, "net.yaml")
    (diag,) = info.value.diagnostics
    assert diag.line == line_of(text, "du: 5") and diag.field == "populations.out.params.du"
    assert "duplicate key 'du'" in diag.message


def test_very_long_keys_get_no_paths_of_their_own() -> None:
    key = "k" * 10_000
    data, locs = parse_yaml(f"? {key}\n:\n" + "".join(f"  c{i}: {i}\n" for i in range(1000)))
    assert len(data[key]) == 1000
    assert max(len(p) for p in locs) <= 200


def load_network_text(text: str):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.yaml"
        path.write_text(text)
        return load_network(path)


def test_message_mentions_no_internal_error_for_any_case() -> None:
    # every YAMLError subtype becomes InputError: a representative set of broken documents
    for text in ("a: [1, 2", "a: *nowhere", "--- 1\n--- 2\n", "a: !!python/object:os.system x",
                 "a: b: c", "\ta: 1"):
        with pytest.raises(InputError) as info:
            parse_yaml(text, "x.yaml")
        assert re.search(r"x\.yaml(:\d+)?: YAML", str(info.value)), str(info.value)
