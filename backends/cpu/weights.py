"""Lava's fixed-point weight quantization, as the CPU backend uses it.

The definition lives in `compiler.lava_weights` (shared with the compiler and the Lava
lowering); this module re-exports it under the backend's names.
"""

from __future__ import annotations

from compiler.lava_weights import (
    EXCITATORY,
    INHIBITORY,
    MIXED,
    effective_weights,
    scaled_weights,
    sign_mode,
)

__all__ = ["EXCITATORY", "INHIBITORY", "MIXED", "effective_weights", "scaled_weights", "sign_mode"]
