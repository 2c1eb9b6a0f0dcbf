"""Data flows one way: backends never import the frontend; the compiler never imports a backend."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str, relative: bool = False) -> list[tuple[str, str]]:
    """(file, imported module) for every import under `package`; `relative` also resolves
    `from .x import y` / `from .. import x` to absolute module names."""
    found = []
    for path in (ROOT / package).rglob("*.py"):
        rel = path.relative_to(ROOT)
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        else:
            parts.pop()  # the module's own package
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(rel), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(rel), node.module))
            elif isinstance(node, ast.ImportFrom) and node.level and relative:
                base = parts[:len(parts) - (node.level - 1)]
                if node.module:
                    found.append((str(rel), ".".join(base + [node.module])))
                else:
                    found += [(str(rel), ".".join(base + [a.name])) for a in node.names]
    return found


def test_backends_do_not_import_frontend():
    bad = [(f, m) for f, m in _imports("backends") if m.startswith("compiler.frontend")
           or m.startswith("runtime")]
    assert bad == []


def test_compiler_does_not_import_backends_or_runtime():
    bad = [(f, m) for f, m in _imports("compiler")
           if m.split(".")[0] in ("backends", "runtime")]
    assert bad == []


def test_backends_do_not_import_each_other():
    """Neuron math and weight storage both backends need live in the compiler package."""
    lava = [(f, m) for f, m in _imports("backends/lava", relative=True)
            if m == "backends.cpu" or m.startswith("backends.cpu.")]
    cpu = [(f, m) for f, m in _imports("backends/cpu", relative=True)
           if m == "backends.lava" or m.startswith("backends.lava.")]
    assert lava == [] and cpu == []


def test_relative_imports_are_resolved():
    found = set(_imports("backends/cpu", relative=True))
    assert ("backends/cpu/simulator.py", "backends.cpu.neurons") in found
    assert ("backends/lava/procs/recording_lif.py", "compiler.neuron_math") in set(
        _imports("backends/lava", relative=True))


def test_importing_a_backend_does_not_load_the_frontend():
    import subprocess
    import sys

    code = ("import sys, backends.cpu, backends.lava, compiler.program; "
            "print(any(m.startswith('compiler.frontend') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
