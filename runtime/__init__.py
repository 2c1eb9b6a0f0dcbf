"""snnc runtime: compile, run and profile networks from Python or the `snnc` command."""

from .api import compile, parse_probes, profile, run

__all__ = ["compile", "parse_probes", "profile", "run"]
