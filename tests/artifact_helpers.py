"""Tampering with `.snnc` files in tests: a rewritten copy, and the refusal it must get."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.artifact import MANIFEST, load_program
from compiler.errors import InputError


def rezip(src: Path, dst: Path, manifest_edit: Callable[[dict], None] | None = None,
          drop: tuple[str, ...] = ()) -> Path:
    """A copy of the archive `src` without the members in `drop`, its manifest passed
    through `manifest_edit` (which edits it in place)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            data = zin.read(name)
            if name == MANIFEST and manifest_edit is not None:
                m = json.loads(data)
                manifest_edit(m)
                data = json.dumps(m).encode()
            zout.writestr(name, data)
    return dst


def expect_bad(path: Path, *fragments: str) -> str:
    """Loading `path` fails with an InputError (exit status 2) naming the file and every
    fragment; returns the message."""
    with pytest.raises(InputError) as exc:
        load_program(path)
    text = str(exc.value)
    assert str(path) in text
    for f in fragments:
        assert f in text, text
    assert exc.value.exit_code == 2
    return text
