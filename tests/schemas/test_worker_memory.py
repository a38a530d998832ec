"""A worker keeps the memory a part's buffers took, instead of faulting it in again."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from care_exchange_standard.worker_memory import keep_freed_memory

glibc_only = pytest.mark.skipif(
    not hasattr(os, "confstr") or "CS_GNU_LIBC_VERSION" not in os.confstr_names,
    reason="mallopt is glibc's; elsewhere keep_freed_memory does nothing",
)

# A part's work in a fresh process: a megabyte read, decoded, dropped; the page faults of
# twenty such parts after the first.
PARTS = """
import resource, sys
from care_exchange_standard.worker_memory import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
def part():
    data = bytes(1 << 20)
    return len(data.decode("ascii"))
part()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    part()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PARTS, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


@glibc_only
def test_kept_memory_serves_the_next_parts_without_faulting_it_in() -> None:
    default, kept = faults("default"), faults("kept")
    assert default > 20 * 256  # each part's two buffers, at least a megabyte of 4 KB pages
    assert kept * 10 < default


def unknown_name(name: str) -> str:
    raise ValueError(f"unrecognized configuration name: {name}")


def not_set(name: str) -> None:
    return None


@pytest.mark.parametrize("confstr", [unknown_name, not_set])
def test_a_c_library_that_is_not_glibc_is_left_as_it_is(
    monkeypatch: pytest.MonkeyPatch, confstr: Any
) -> None:
    monkeypatch.setattr(os, "confstr", confstr)
    assert keep_freed_memory() is False
