"""First-party test helpers: a virtual clock for time-skipping tests.

The production clock, ``SystemClock``, is :class:`flowkit.runtime.SystemClock`.
"""

from flowkit.testing._clock import VirtualClock

__all__ = ["VirtualClock"]
