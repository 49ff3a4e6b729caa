"""First-party test helpers: a virtual clock for time-skipping tests.

``SystemClock`` (the production clock, now in :mod:`flowkit.runtime`) is re-exported here for code
that imported it from this module before.
"""

from flowkit.runtime._clock import SystemClock
from flowkit.testing._clock import VirtualClock

__all__ = ["SystemClock", "VirtualClock"]
