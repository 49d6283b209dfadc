"""Files only their owner may read: work directories, journals, history, locks, plans.

They describe the datacenter (and, before redaction existed, carried its secrets), so they
are created 0600 in directories created 0700, whatever the umask of the shell that ran
sdcadm (`umask 000` would otherwise make them world-writable).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """`mkdir -p -m 700`: every directory created on the way is 0700 (existing ones are
    left as they are: an operator's /var may be shared)."""
    path = Path(path)
    missing: list[Path] = []
    cur = path
    while not cur.exists():
        missing.append(cur)
        if cur.parent == cur:
            break
        cur = cur.parent
    for p in reversed(missing):
        try:
            os.mkdir(p, DIR_MODE)
        except FileExistsError:  # made by another run meanwhile
            continue
    if not path.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(path))
    return path


def make_dir(path: str | os.PathLike[str]) -> Path:
    """`mkdir -m 700` of one directory; FileExistsError if it is there already."""
    os.mkdir(path, DIR_MODE)
    return Path(path)


def open_private(path: str | os.PathLike[str], mode: str = "w", **kw: Any) -> IO[Any]:
    """`open(path, mode)` for "w", "a", "wb", "ab", "r+" ..., creating the file 0600."""
    flags = {"w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
             "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
             "r+": os.O_RDWR | os.O_CREAT}[mode.replace("b", "")]
    fd = os.open(path, flags, FILE_MODE)
    try:
        return os.fdopen(fd, mode, **kw)
    except BaseException:
        os.close(fd)
        raise


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`: a short write (the disk filling up) is followed
    by another, which raises the error (ENOSPC, EFBIG, EIO)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
