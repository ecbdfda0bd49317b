"""Hand freed memory back to the system, so a long batch's peak is what it holds, not held.

Arrow's allocator and C malloc keep freed memory for reuse. glibc keeps it in the middle of
its heaps (one per thread), where it is never returned by itself: numpy arrays freed by the
card-history groups or between an inbox file's passes stay resident until trimmed. Arrow's
jemalloc (the allocator ``import fraudops`` picks) gives back by itself what stayed unused
for ``POOL_DECAY_MS``: with its own, longer default, a 1M-row inbox file once peaked above
1 GiB (``make bench ARGS=inbox`` prints the peak; the runs are in bench/HISTORY.md).
"""

from __future__ import annotations

import ctypes
import sys

import pyarrow as pa

POOL_DECAY_MS = 300
if pa.default_memory_pool().backend_name == "jemalloc":
    pa.jemalloc_set_decay_ms(POOL_DECAY_MS)

_LIBC = ctypes.CDLL("libc.so.6") if sys.platform == "linux" else None


def release() -> None:
    """Return freed memory of Arrow's pool and of C malloc's heaps to the system."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
