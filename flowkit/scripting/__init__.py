"""Sandboxed script evaluation: Conductor's JavaScript (INLINE, SWITCH, DO_WHILE, LAMBDA) and jq.

Importing this package is cheap: V8 (mini-racer) and jq load on first use.
"""

from __future__ import annotations

from flowkit.scripting._jq import Jq
from flowkit.scripting._js import JavaScript, ScriptLimits, to_case_string, truthy

__all__ = ["JavaScript", "Jq", "ScriptLimits", "to_case_string", "truthy"]
