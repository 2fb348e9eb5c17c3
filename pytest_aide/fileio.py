"""Files in and out: read without hanging on one that is not a file, JSON written strictly.

A named pipe where a scenario file or a baseline is expected blocks ``open``
until something writes to it; a device such as ``/dev/zero`` never ends. So a
file is opened without blocking and read only when it is a regular file; any
other kind is an ``OSError`` whose ``strerror`` says what was found.

JSON is written without ``NaN`` or ``Infinity``, which strict parsers reject: a
figure that is not finite is written as ``null`` (no figure).
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

__all__ = [
    "NotRegularFile",
    "absolute",
    "dumps",
    "file_kind",
    "finite",
    "read_bytes",
    "read_text",
]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotRegularFile(OSError):
    """The path names something other than a regular file (a pipe, a device, a directory)."""


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` is, in words (``a named pipe``)."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def read_bytes(path: Path) -> bytes:
    """The whole of ``path``, which must be a regular file (symlinks followed)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"not a regular file: {file_kind(mode)}", str(path))
        os.set_blocking(fd, True)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: Path) -> str:
    """:func:`read_bytes` decoded as UTF-8 (``UnicodeDecodeError`` when it is not)."""
    return read_bytes(path).decode("utf-8")


def finite(value: Any) -> Any:
    """``value`` with every float that is NaN or infinite, at any depth, made ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` of :func:`finite` ``value``: strict JSON, whatever the figures."""
    return json.dumps(finite(value), allow_nan=False, **options)


def absolute(path: Path) -> Path:
    """``path`` resolved, or only made absolute when a symlink loops or a parent is unreadable.

    The error then comes, named, from whatever uses the path.
    """
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))
