"""Hand freed memory back to the system, so a long batch's peak is what it holds, not held.

Arrow's allocator and C malloc keep freed memory for reuse. glibc keeps it in the middle of
its heaps (one per thread), where it is never returned by itself: numpy arrays freed by the
card-history groups or between an inbox file's passes stay resident until trimmed.
"""

from __future__ import annotations

import ctypes
import sys

import pyarrow as pa

_LIBC = ctypes.CDLL("libc.so.6") if sys.platform == "linux" else None


def release() -> None:
    """Return freed memory of Arrow's pool and of C malloc's heaps to the system."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
