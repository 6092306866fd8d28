"""Give freed heap memory back to the operating system.

lxml and trafilatura allocate and free many C-level blocks per page; glibc keeps
the freed ones in its arenas, so a long-running worker's resident memory creeps
up although Python holds no more objects. ``malloc_trim`` hands them back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None


def trim_heap() -> bool:
    """Return freed heap pages to the OS where the C library can; True if it did."""
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(0))
