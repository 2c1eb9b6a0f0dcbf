"""Data flows one way: backends never import the frontend; the compiler never imports a backend."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def test_backends_do_not_import_frontend():
    bad = [(f, m) for f, m in _imports("backends") if m.startswith("compiler.frontend")
           or m.startswith("runtime")]
    assert bad == []


def test_compiler_does_not_import_backends_or_runtime():
    bad = [(f, m) for f, m in _imports("compiler")
           if m.split(".")[0] in ("backends", "runtime")]
    assert bad == []


def test_importing_a_backend_does_not_load_the_frontend():
    import subprocess
    import sys

    code = ("import sys, backends.cpu, backends.lava, compiler.program; "
            "print(any(m.startswith('compiler.frontend') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
