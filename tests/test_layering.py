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


def _module_graph() -> dict[str, set[str]]:
    """module -> modules it imports (lazy imports included, `if TYPE_CHECKING:` blocks not),
    over compiler/, backends/ and runtime/; `from pkg import sub` points at the submodule."""
    files = {}
    for package in ("compiler", "backends", "runtime"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            files[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)

    def owner(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        deps = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                mod = node.module or ""
                if node.level:
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in files else mod
                           for a in node.names]
            else:
                continue
            deps.update(t for t in map(owner, targets) if t and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    import networkx as nx

    return list(nx.simple_cycles(nx.DiGraph([(a, b) for a, bs in graph.items() for b in bs])))


def test_no_import_cycles():
    assert _cycles(_module_graph()) == []


def test_cycle_finder_sees_lazy_and_relative_imports():
    graph = _module_graph()
    assert "compiler.datasets" in graph["compiler.sources"]  # relative, module level
    assert "compiler.plasticity.registry" in graph["compiler.plasticity.rules"]
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]] or _cycles(
        {"a": {"b"}, "b": {"a"}}) == [["b", "a"]]


def test_runtime_reaches_backends_only_through_the_contract():
    """runtime/ imports `backends` (get_backend, the contract) and `backends.result`, never a
    backend package: a new backend plugs in with a registry entry, not a runtime edit."""
    allowed = {"backends", "backends.contract", "backends.result"}
    found = [(f, m) for f, m in _imports("runtime", relative=True)
             if m.split(".")[0] == "backends"]
    assert found  # the check is not vacuous
    assert [(f, m) for f, m in found if m not in allowed] == []


def test_no_private_name_is_imported_from_another_module():
    """`from x import _name` across modules: what another module needs is public."""
    bad = []
    for package in ("backends", "runtime"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            bad += [(str(path.relative_to(ROOT)), a.name) for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
    assert bad == []
