"""CompileReport: the typed compile report, its dict form, and artifacts that store it."""

from __future__ import annotations

import json
import zipfile

import pytest
from compiler_helpers import two_layer
from repo import ROOT

from compiler.artifact import load_program, save_program
from compiler.pipeline import compile_network
from compiler.program import CompileReport


def test_dict_form_round_trips_fields_and_extra_keys():
    d = {"lower_bound": 3, "warnings": ["w"], "tool_note": {"a": 1}}
    rep = CompileReport.from_dict(d)
    assert rep.lower_bound == 3 and rep.warnings == ["w"] and rep.extra == {"tool_note": {"a": 1}}
    assert rep["tool_note"] == {"a": 1} and rep.get("missing", 7) == 7 and "lower_bound" in rep
    rep["chips_used"] = 2
    rep["other"] = 5
    assert rep.chips_used == 2 and rep.extra["other"] == 5
    back = CompileReport.from_dict(rep.to_dict())
    assert back == rep
    with pytest.raises(KeyError):
        rep["missing"]


def test_compiled_program_reports_typed_fields(tmp_path):
    prog = compile_network(two_layer())
    rep = prog.report
    assert isinstance(rep, CompileReport)
    assert rep.cores_used == len(prog.cores) and rep.chips_used == 1
    assert rep.partitioner == prog.partitioner and rep.precision == "fixed"
    assert set(rep.timings_s) == {"target", "checks", "quantize", "partition", "place", "program"}
    assert rep.compile_time_s >= sum(rep.timings_s.values()) - 1e-9
    back = load_program(save_program(prog, tmp_path / "p.snnc"))
    assert isinstance(back.report, CompileReport)
    assert back.report.lower_bound == rep.lower_bound and back.report.extra == {}
    with zipfile.ZipFile(tmp_path / "p.snnc") as zf:  # stored flat, as a mapping of keys
        stored = json.loads(zf.read("manifest.json"))["report"]
    assert list(stored)[:3] == ["target", "precision", "quantized"] and "extra" not in stored


def test_program_given_a_dict_report_holds_a_compile_report():
    prog = compile_network(two_layer())
    prog.report = {"lower_bound": 4, "note": "x"}
    assert isinstance(prog.report, CompileReport)
    assert prog.report.lower_bound == 4 and prog.report["note"] == "x"


def test_artifact_written_with_a_dict_report_loads(tmp_path):
    """The report is stored as a plain mapping (as artifacts always stored it) and loads typed."""
    from compiler.frontend import load_network

    path = save_program(compile_network(load_network(ROOT / "examples" / "two_layer.yaml")),
                        tmp_path / "two_layer.snnc")
    with zipfile.ZipFile(path) as zf:
        stored = json.loads(zf.read("manifest.json"))["report"]
    assert isinstance(stored, dict) and "__dc__" not in stored and "cores_used" in stored
    prog = load_program(path)
    assert isinstance(prog.report, CompileReport)
    assert prog.report.cores_used == len(prog.cores) and prog.report.extra == {}
