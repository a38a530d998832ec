"""Worker processes keep the memory they free for the next part they read, on glibc.

A worker reads a part of a large input into a buffer of about a megabyte, decodes and splits
it, and frees it all before the next part. glibc hands such a freed megabyte back to the
system at once, and the next part's buffer is then fresh memory that the kernel must fault
in page by page, about 500 times a part. Kept, the same pages serve every part.
"""

from __future__ import annotations

import os

# mallopt(3) parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap, not mmap: a part is at most 16 MB
# (tables.parts.MAX_PART_BYTES); glibc accepts up to 32 MB here.
MMAP_THRESHOLD = 16 << 20
# Free memory at the top of the heap is given back only beyond this much.
TRIM_THRESHOLD = 64 << 20


def keep_freed_memory() -> bool:
    """Whether the C library now keeps freed blocks of a part's size; False where not glibc.

    Meant for a worker process (a pool's initializer): it holds at most a few parts' worth of
    free memory, and gives it all back when it ends.
    """
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):  # the name is unknown, or not set: not glibc
        return False
    if not glibc:
        return False
    import ctypes  # in the worker, not in every command's start

    libc = ctypes.CDLL(None)
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
