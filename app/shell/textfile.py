"""Reading a small text file a person wrote (a program, a simulation script), safely.

Such a path can name anything: a folder, a FIFO (opening it for reading blocks until a writer comes,
so ``programs check`` would hang), a device, or a file far bigger than any program. Here the file is
opened without blocking, must be a regular file, and is read only up to a size bound, so a read
takes bounded time and memory whatever the path names. Every failure is one line naming the file
and what to do (:class:`TextFileError`), never a traceback.
"""

from __future__ import annotations

import os
import stat


class TextFileError(Exception):
    """The file cannot be used; ``str()`` is a one-line reason (without the file name), and
    :attr:`line` the line of a decoding problem, when there is one."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def read_text_file(path: str | os.PathLike, max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text of the regular file *path*, at most *max_bytes* long, without a leading
    byte-order mark.

    :raises TextFileError: missing, unreadable, not a regular file, too large, or not UTF-8.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores the flag.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise TextFileError("not found; check the path") from None
    except IsADirectoryError:
        raise TextFileError(f"is a folder; give a {what}") from None
    except PermissionError:
        raise TextFileError("cannot be read (permission denied); check the file's permissions") from None
    except OSError as exc:
        raise TextFileError(f"cannot be read ({exc.strerror or exc}); check the file") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise TextFileError(f"is a folder; give a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise TextFileError(f"is not a regular file (a pipe, socket or device); give a {what}")
        if info.st_size > max_bytes:
            raise TextFileError(f"is {info.st_size:,} bytes; a {what} may be at most {max_bytes:,} bytes")
        chunks = []
        left = max_bytes + 1  # one byte more than allowed tells a file that grew after fstat
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise TextFileError(f"cannot be read ({exc.strerror or exc}); check the file") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise TextFileError(f"is more than {max_bytes:,} bytes; a {what} may be at most {max_bytes:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Editors on other systems save Latin-1 or UTF-16; name the byte so it can be found.
        line = data[: exc.start].count(b"\n") + 1
        raise TextFileError(f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8", line) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark from Windows editors is harmless; tomllib rejects it
    return text
