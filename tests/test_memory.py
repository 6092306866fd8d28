"""Long-running workers hand freed heap memory back to the OS."""

from __future__ import annotations

import ctypes.util
import platform

import lxml.html
import pytest

from worker.memory import trim_heap


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(
    platform.system() != "Linux"
    or platform.libc_ver()[0] != "glibc"
    or not ctypes.util.find_library("c"),
    reason="malloc_trim is a glibc function",
)
def test_trim_heap_returns_freed_parser_memory():
    page = "<html><body>" + "<div class='x'><p>word " * 20000 + "</body></html>"
    trees = [lxml.html.fromstring(page) for _ in range(20)]
    del trees
    before = _rss_kib()
    assert trim_heap() is True
    assert _rss_kib() <= before
