"""Every file in tests/bad_inputs/ must fail with InputError naming file:line, field and problem.

Convention: each file starts with `# expect: <line>: <field.path>: <message substring>`
lines (field may be empty for file-level problems), one per error the file contains;
the loader must report exactly these errors, each at its line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from repo import ROOT

from compiler.errors import InputError
from compiler.frontend import load_network

BAD_DIR = ROOT / "tests" / "bad_inputs"
BAD_FILES = sorted(BAD_DIR.glob("*.yaml"))
EXPECT_RE = re.compile(r"^# expect: (\d+): ([^:]*): (.+)$")


def expectations(path: Path) -> list[tuple[int, str, str]]:
    out = []
    for line in path.read_text().splitlines():
        m = EXPECT_RE.match(line)
        if m:
            out.append((int(m.group(1)), m.group(2).strip(), m.group(3).strip()))
    return out


def matches(text: str, name: str, line: int, field: str, sub: str) -> bool:
    prefix = f"{name}:{line}: {field}: " if field else f"{name}:{line}: "
    return prefix in text and sub in text


def test_corpus_is_large_and_annotated() -> None:
    assert len(BAD_FILES) >= 30
    for path in BAD_FILES:
        assert expectations(path), f"{path.name} has no '# expect:' header"


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_input_reports_location_field_and_reason(path: Path) -> None:
    expected = expectations(path)
    with pytest.raises(InputError) as info:
        load_network(path)
    diags = [d.format() for d in info.value.diagnostics]
    for line, field, sub in expected:
        assert any(matches(d, path.name, line, field, sub) for d in diags), (
            f"expected '{path.name}:{line}: {field}: ...{sub}...' in:\n" + "\n".join(diags))
    assert len(diags) == len(expected), "unexpected extra diagnostics:\n" + "\n".join(diags)
    # every diagnostic says what is allowed (or is a YAML syntax error with a hint)
    assert all("allowed:" in d for d in diags), "\n".join(diags)


def test_multi_error_file_reports_all_errors_in_one_exception() -> None:
    path = BAD_DIR / "multi_error.yaml"
    with pytest.raises(InputError) as info:
        load_network(path)
    text = str(info.value)
    assert text.startswith("7 errors:")
    for field in ("steps", "populations.hid.size", "populations.out.params.du",
                  "populations.out.params.dv", "projections.inp_out.pre",
                  "projections.inp_out.weight", "probes[1]"):
        assert f": {field}: " in text


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_cli_exits_2_without_traceback(path: Path, tmp_path: Path, capsys) -> None:
    cli = pytest.importorskip("runtime.cli")
    rc = cli.main(["run", str(path), "--backend", "cpu", "-o", str(tmp_path / "r.npz")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    line, _, _ = expectations(path)[0]
    assert f"{path.name}:{line}" in err
    assert not (tmp_path / "r.npz").exists()
