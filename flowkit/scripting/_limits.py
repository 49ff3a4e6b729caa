"""The limits every script engine (QuickJS, V8, jq) enforces on one evaluation."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ScriptLimits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptLimits:
    """Time and memory limits for one script evaluation.

    Attributes:
        timeout_ms: Wall-clock limit; Conductor's default script limit is 4 s.
        max_memory_bytes: Limit on the V8 heap in use after a garbage collection.

    """

    timeout_ms: int = 4000
    max_memory_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.timeout_ms <= 0 or self.max_memory_bytes <= 0:
            raise ValueError("ScriptLimits values must be positive")
