"""Giving freed memory back to the system.

glibc keeps the blocks a process frees for its own reuse, in every thread's heap: after a graph built
from scratch, 80 MB of 250 (benchmarks/RESULTS.md); after 2,000 streams of 100 long products each
have closed, about 220 MB. `malloc_trim` hands the free pages back. A no-op where the C library has
none (macOS, musl).
"""

from __future__ import annotations

import ctypes
import threading
import time

_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own C library
_last = 0.0
_lock = threading.Lock()


def release_freed_memory(at_most_every: float = 0.0) -> bool:
    """Give the system back the pages the C library holds free; whether it ran.

    Parameters:
        at_most_every: seconds that must have passed since the last call that ran (trimming a large
            heap holds the allocator's lock for a moment: callers on a busy path throttle it).
    """
    global _last
    if _trim is None:
        return False
    with _lock:
        now = time.monotonic()
        if now - _last < at_most_every:
            return False
        _last = now
    _trim(0)
    return True
