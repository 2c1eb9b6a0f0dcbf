"""Bounded, line-aware YAML loading for every YAML file snnc reads (networks, targets).

Returns plain data plus the 1-based line of every dotted field path. Hostile YAML stays
cheap: while PyYAML composes the node tree, nesting deeper than MAX_DEPTH, aliases that
would repeat more than MAX_ALIAS_NODES nodes in all, and aliases to a node that contains
them are refused, before anything walks or constructs the tree. Control characters,
malformed text and unreadable values are reported with file, line (and column). Numbers
follow YAML 1.2 as well as 1.1: `5e-2`, `1E3` and `-.5` are floats.

The composed tree is walked once (iteratively) to record `path -> line` and to reject
duplicate mapping keys (PyYAML silently keeps the last one); then the plain data is
constructed from the same tree.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from .errors import Collector, Diagnostic, InputError, Location, brief, clip

MAX_DEPTH = 100  # nesting levels of sequences/mappings in one document
MAX_ALIAS_NODES = 1_000_000  # nodes that aliases may repeat, summed over all aliases of a file
MAX_PATH_CHARS = 200  # dotted paths longer than this (very long keys) get no line of their own

_FLOAT_TAG = "tag:yaml.org,2002:float"
# YAML 1.1 floats (PyYAML's, sign of the exponent optional) plus YAML 1.2 core floats:
# a float needs a dot or an exponent, so plain integers stay integers.
FLOAT_RE = re.compile(r"""^(?:
     [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)

_BREAK_RE = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 "
             "NAK SYN ETB CAN EM SUB ESC FS GS RS US").split()
_PRINTABLE = "printable characters, tab and line breaks; no other control characters"


def _resolvers() -> dict[Any, list[tuple[str, re.Pattern]]]:
    """A copy of SafeLoader's implicit resolvers with FLOAT_RE as the float pattern."""
    return {first: [(tag, FLOAT_RE if tag == _FLOAT_TAG else rx) for tag, rx in pairs]
            for first, pairs in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats, bounded nesting and bounded alias expansion."""

    yaml_implicit_resolvers = _resolvers()

    def __init__(self, text: str, file: str | None = None) -> None:
        super().__init__(text)
        self.file = file
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> node count with aliases expanded
        self._repeated = 0  # nodes repeated by the aliases read so far

    def _refuse(self, mark: yaml.Mark, message: str, allowed: str) -> InputError:
        return InputError(Diagnostic(f"{message} (column {mark.column + 1})", file=self.file,
                                     line=mark.line + 1, allowed=allowed))

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:  # an undefined alias is PyYAML's error
                self._count_alias(node, event)
            return super().compose_node(parent, index)
        event = self.peek_event()
        nests = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if nests:
            if self._depth >= MAX_DEPTH:
                raise self._refuse(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels",
                                   f"at most {MAX_DEPTH} levels of nested lists and mappings")
            self._depth += 1
        node = super().compose_node(parent, index)
        if nests:
            self._depth -= 1
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        self._sizes[id(node)] = size
        return node

    def _count_alias(self, node: yaml.Node, event: yaml.AliasEvent) -> None:
        size = self._sizes.get(id(node))
        if size is None:  # the anchored node is still open: the alias is inside it
            raise self._refuse(event.start_mark,
                               f"alias *{clip(event.anchor, 60)} refers to a node that "
                               "contains it (a cycle)",
                               "aliases to anchored nodes that do not contain the alias")
        self._repeated += size
        if self._repeated > MAX_ALIAS_NODES:
            raise self._refuse(event.start_mark,
                               f"alias *{clip(event.anchor, 60)} repeats {size:,} nodes; "
                               f"the aliases up to here repeat {self._repeated:,} nodes in all",
                               f"aliases that repeat at most {MAX_ALIAS_NODES:,} nodes in all; "
                               "anchors suit small shared blocks such as defaults")

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # e.g. 2001-13-45, !!int abc, 5000 digits
            what = brief(node.value) if isinstance(node, yaml.ScalarNode) else node.tag
            raise ConstructorError(None, None, f"cannot read the value {what}: "
                                   f"{clip(str(exc), 200)}", node.start_mark) from None


def join_path(parent: str, key: Any) -> str:
    """`parent.key` (or just `key` at the top level)."""
    return f"{parent}.{key}" if parent else str(key)


def _walk(root: yaml.Node, file: str | None, locs: dict[str, Location],
          errors: Collector) -> None:
    """Record the line of every field below `root` and report duplicate keys.

    Iterative, in document order; a node reached again through an alias is walked once
    (under the path where it was first reached).
    """
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str, bool]] = [(root, "", True)]
    while stack:
        node, path, record = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        todo: list[tuple[yaml.Node, str, bool]] = []
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`
                    todo.append((value_node, path, record))
                    continue
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                line = key_node.start_mark.line + 1
                child = join_path(path, key)
                keep = record and len(child) <= MAX_PATH_CHARS
                if key in first_line:
                    errors.add(Location(file, line, child if keep else path),
                               f"duplicate key {brief(key)} (first given on line "
                               f"{first_line[key]})", "each key once per mapping")
                    continue
                first_line[key] = line
                if keep:
                    locs[child] = Location(file, line, child)
                todo.append((value_node, child if keep else path, keep))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = f"{path}[{i}]"
                keep = record and len(child) <= MAX_PATH_CHARS
                if keep:
                    locs[child] = Location(file, item.start_mark.line + 1, child)
                if not isinstance(item, yaml.SequenceNode):  # rows of inline matrices: no lines
                    todo.append((item, child if keep else path, keep))
        stack.extend(reversed(todo))


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character `index` of `text`."""
    line, start = 1, 0
    for m in _BREAK_RE.finditer(text, 0, index):
        line, start = line + 1, m.end()
    return line, index - start + 1


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str | None) -> InputError:
    """A character YAML does not allow, with its line, column and code point."""
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    name = _C0_NAMES[code] if code < 32 else ("DEL" if code == 0x7F else "")
    what = f"U+{code:04X}" + (f" ({name})" if name else "")
    if isinstance(exc.position, int) and 0 <= exc.position <= len(text):
        line, col = _position(text, exc.position)
        return InputError(Diagnostic(f"character {what} at column {col} is not allowed in YAML",
                                     file=file, line=line, allowed=_PRINTABLE))
    return InputError(Diagnostic(f"character {what} is not allowed in YAML", file=file,
                                 allowed=_PRINTABLE))


def parse_yaml(text: str, file: str | None = None) -> tuple[Any, dict[str, Location]]:
    """Parse YAML text into (data, {dotted path: Location}); bad YAML raises InputError."""
    loader = None
    try:
        loader = BoundedLoader(text, file)
        node = loader.get_single_node()
        if node is None:  # empty document
            return None, {"": Location(file, 1, "")}
        locs: dict[str, Location] = {"": Location(file, node.start_mark.line + 1, "")}
        errors = Collector()
        _walk(node, file, locs, errors)
        errors.raise_if_any()
        data = loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        raise InputError(Diagnostic(f"YAML syntax error: {what}", file=file, line=line,
                                    allowed="valid YAML (check indentation, colons, quotes)")
                         ) from None
    except yaml.YAMLError as exc:
        raise InputError(Diagnostic(f"YAML error: {exc}", file=file,
                                    allowed="valid YAML")) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, locs


def load_yaml(path: str | Path) -> tuple[Any, dict[str, Location]]:
    """Read and parse a YAML file; a missing, unreadable or non-UTF-8 file raises InputError."""
    p = Path(path)
    try:
        special = not stat.S_ISREG(os.stat(p).st_mode)  # a folder, FIFO or device: may block
    except OSError:
        special = False  # reported by the read below
    if special:
        raise InputError(Diagnostic(f"{p} is not a regular file", file=str(path),
                                    allowed="a YAML file"))
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(Diagnostic(f"file not found: {p.resolve()}", file=str(path))) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read file {p.resolve()}: {exc}",
                                    file=str(path))) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(Diagnostic(
            f"byte 0x{raw[exc.start]:02x} at column {col} is not UTF-8 text", file=str(path),
            line=line, allowed="a UTF-8 text file")) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as reading in text mode does
    return parse_yaml(text, str(path))
