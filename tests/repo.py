"""Paths of the repository that tests read (examples, bench scripts, bad inputs)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
