"""Giving freed memory back to the system.

glibc keeps the blocks a process frees for its own reuse, in every thread's heap: after a graph built
from scratch, 80 MB of 250 (benchmarks/RESULTS.md); after 2,000 streams of 100 long products each
have closed, about 220 MB. `malloc_trim` hands the free pages back. A no-op where the C library has
none (macOS, musl).
"""

from __future__ import annotations

import ctypes

_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own C library


def release_freed_memory() -> None:
    """Give the system back the pages the C library holds free (a no-op without `malloc_trim`)."""
    if _trim is not None:
        _trim(0)
