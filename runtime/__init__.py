"""snnc runtime: compile, run and profile networks from Python or the `snnc` command."""

from .api import compile, parse_probes, profile, run

__version__ = "0.1.0"  # the fallback of `snnc --version` where package metadata is missing
__all__ = ["__version__", "compile", "parse_probes", "profile", "run"]
