"""First-party test helpers: a virtual clock for time-skipping tests."""

from flowkit.testing._clock import SystemClock, VirtualClock

__all__ = ["SystemClock", "VirtualClock"]
