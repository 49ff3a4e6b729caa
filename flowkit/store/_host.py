"""This machine's name, without importing :mod:`socket` (a few ms of a first run)."""

from __future__ import annotations

import os

__all__ = ["host_name"]


def host_name() -> str:
    """``socket.gethostname()``: on POSIX the same value, read from ``uname``."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()
