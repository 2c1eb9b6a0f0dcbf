"""Line-aware YAML loading: plain data plus the 1-based line of every dotted field path.

PyYAML's SafeLoader composes the node tree (which keeps marks); we walk it once to
record `path -> line` and to reject duplicate mapping keys (PyYAML silently keeps the
last one), then construct the plain Python data from the same tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import Collector, Diagnostic, InputError, Location


def join_path(parent: str, key: Any) -> str:
    """`parent.key` (or just `key` at the top level)."""
    return f"{parent}.{key}" if parent else str(key)


def _walk(node: yaml.Node, path: str, file: str | None, locs: dict[str, Location],
          errors: Collector, seen: set[int]) -> None:
    """Record the line of every field below `node` and report duplicate keys."""
    if id(node) in seen:  # an alias of a node already walked
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`
                _walk(value_node, path, file, locs, errors, seen)
                continue
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            child = join_path(path, key)
            if key in first_line:
                errors.add(Location(file, line, child),
                           f"duplicate key '{key}' (first given on line {first_line[key]})",
                           "each key once per mapping")
                continue
            first_line[key] = line
            locs[child] = Location(file, line, child)
            _walk(value_node, child, file, locs, errors, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = f"{path}[{i}]"
            locs[child] = Location(file, item.start_mark.line + 1, child)
            if not isinstance(item, yaml.SequenceNode):  # rows of inline matrices: no per-entry lines
                _walk(item, child, file, locs, errors, seen)


def parse_yaml(text: str, file: str | None = None) -> tuple[Any, dict[str, Location]]:
    """Parse YAML text into (data, {dotted path: Location}); syntax errors raise InputError."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:  # empty document
            return None, {"": Location(file, 1, "")}
        locs: dict[str, Location] = {"": Location(file, node.start_mark.line + 1, "")}
        errors = Collector()
        _walk(node, "", file, locs, errors, set())
        errors.raise_if_any()
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        raise InputError(Diagnostic(f"YAML syntax error: {what}", file=file, line=line,
                                    allowed="valid YAML (check indentation, colons, quotes)")
                         ) from None
    except yaml.YAMLError as exc:
        raise InputError(Diagnostic(f"YAML error: {exc}", file=file)) from None
    finally:
        loader.dispose()
    return data, locs


def load_yaml(path: str | Path) -> tuple[Any, dict[str, Location]]:
    """Read and parse a YAML file; a missing/unreadable file raises InputError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Diagnostic(f"file not found: {p.resolve()}", file=str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Diagnostic(f"cannot read file {p.resolve()}: {exc}",
                                    file=str(path))) from None
    return parse_yaml(text, str(path))
