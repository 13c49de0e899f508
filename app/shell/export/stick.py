"""The stick side: folders opened by descriptor, files written under a temporary name.

Nothing on the stick is trusted. Folders are opened with ``O_NOFOLLOW`` and every file is created
relative to them, so a link planted on the stick can never redirect a write onto the station. The
only files ever read are our marker ``.backstep-export.json`` and the cumulative ``sessions.csv``,
and only as small regular files. A file is written to ``.<name>.partial``, flushed and fsynced;
:meth:`PendingFile.commit` renames it into place (the export commits all of them together).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor

from .. import export_formats as fmt
from .results import ExportError

#: The marker is a few hundred bytes; anything bigger is not ours and is not read.
MARKER_MAX_BYTES = 4096
#: Python-side write buffer: one checksum update and one write per 64 KiB, not per CSV row.
CHUNK = 64 * 1024
#: Finished files waiting for the fsync thread at most (each a session's TCX, about 70 KB).
QUEUED_FILES = 16

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def describe_os_error(exc: OSError, where: str) -> str:
    """One line a person can act on, for an OSError met while writing to *where* on a stick."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"the stick is full ({where}); nothing was left half-written. Free some space or use another stick"
    if code == errno.EROFS:
        return f"the stick is read-only ({where}); check its write-protect switch or use another stick"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write to {where}: permission denied; use a stick Backstep may write to"
    if code in (errno.EIO, errno.ENODEV, errno.ENXIO, errno.ESTALE, errno.ENOTCONN, errno.ENOENT, errno.EBADF):
        return (f"the stick was removed or stopped answering during the export ({where}); "
                "nothing was left half-written. Insert it and export again")
    if code == errno.ELOOP:
        return f"{where} is a link on the stick; Backstep never follows links on a stick. Remove it or use another stick"
    if code in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOTEMPTY):
        return f"{where} is in the way (something else has that name); rename it on a computer or use another stick"
    return f"cannot write the export to {where} ({exc.strerror or exc})"


class Folder:
    """A folder opened by descriptor. Children are opened relative to it with ``O_NOFOLLOW``."""

    def __init__(self, fd: int, path: str):
        self.fd = fd
        self.path = path

    @classmethod
    def open_target(cls, path: str | os.PathLike) -> "Folder":
        """The target the person named (the stick's mount point): the one path we resolve normally."""
        shown = str(path)
        try:
            fd = os.open(shown, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except FileNotFoundError:
            raise ExportError(f"{shown} does not exist; insert the stick (is it mounted?) or check the path") from None
        except NotADirectoryError:
            raise ExportError(f"{shown} is not a folder; give the stick's folder, e.g. /media/backstep/STICK") from None
        except OSError as exc:
            raise ExportError(describe_os_error(exc, shown)) from None
        return cls(fd, shown)

    def child(self, name: str, *, create: bool) -> "Folder | None":
        where = f"{self.path}/{name}"
        if create:
            try:
                os.mkdir(name, 0o755, dir_fd=self.fd)
            except FileExistsError:
                pass
        try:
            fd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            if create:
                raise
            return None
        except NotADirectoryError:
            # O_DIRECTORY|O_NOFOLLOW on a symlink gives ENOTDIR on some kernels, ELOOP on others.
            raise OSError(errno.ENOTDIR, "not a folder", where) from None
        return Folder(fd, where)

    def read_small(self, name: str, limit: int) -> bytes | None:
        """The bytes of *name* if it is a regular file of at most *limit* bytes, else None.

        Never follows a link, never blocks on a FIFO planted under the name."""
        try:
            info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        try:
            fd = os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0), dir_fd=self.fd)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between lstat and open
                return None
            chunks, size = [], 0
            while size <= limit:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        if size > limit:
            return None
        return b"".join(chunks)

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def read_marker(self) -> dict | None:
        """Our marker, if it is a small regular file holding JSON; anything else is ignored."""
        data = self.read_small(fmt.MARKER, MARKER_MAX_BYTES)
        if data is None:
            return None
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def new_child(self, name: str) -> tuple["Folder", str]:
        """A folder created now under *name* (``name-2``, ``name-3``... if taken): never one that
        was there before, so nothing already on the stick is written into."""
        for n in range(1, 1000):
            candidate = name if n == 1 else f"{name}-{n}"
            try:
                os.mkdir(candidate, 0o755, dir_fd=self.fd)
            except FileExistsError:
                continue
            folder = self.child(candidate, create=False)
            assert folder is not None
            return folder, candidate
        raise OSError(errno.EEXIST, "too many exports with the same time", f"{self.path}/{name}")

    def sweep_partials(self, keep: str) -> None:
        """Remove what killed exports left in the folders under this one (``.partial`` files only,
        by name; a folder left empty goes too). *keep* is the current export's folder."""
        for entry in os.scandir(self.fd):
            if entry.name == keep or not entry.is_dir(follow_symlinks=False):
                continue
            folder = self.child(entry.name, create=False)
            if folder is None:
                continue
            try:
                for inner in os.scandir(folder.fd):
                    if inner.name.startswith(".") and inner.name.endswith(fmt.PARTIAL):
                        folder.remove(inner.name)
            finally:
                folder.close()
            self.rmdir(entry.name)

    def rmdir(self, name: str) -> None:
        """Remove an empty folder we created (best effort: a folder with anything in it stays)."""
        try:
            os.rmdir(name, dir_fd=self.fd)
        except OSError:
            pass

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def remove(self, name: str) -> None:
        """Remove *name* if it is there (a link is removed itself, never followed)."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def fsync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # some file systems cannot fsync a folder; the files are
                raise                      # fsynced already, so that is not a failure

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class PendingFile:
    """A file being written as ``.<final>.partial``; :meth:`finish` fsyncs, :meth:`commit` renames.

    The SHA-256 and size are taken from the bytes as they are written, so the manifest never needs
    to read anything back from the stick.
    """

    def __init__(self, folder: Folder, final: str, relative: str, *, in_memory: bool = False):
        """*in_memory*: a small file (a session's TCX) is kept in memory and created only in
        :meth:`finish`, on the :class:`Finisher`'s thread: on ext4 creating a file waits for the
        journal while that thread fsyncs the previous one (about 0.6 ms a file, 1,000 files)."""
        self.folder = folder
        self.final = final
        self.relative = relative
        self.temp = fmt.partial_name(final)
        self.sha = hashlib.sha256()
        self.size = 0
        self.committed = False
        self.finished = False
        self._buffer: list[str] = []
        self._buffered = 0
        self._file = None
        self._in_memory = in_memory
        if not in_memory:
            self._open()

    def _open(self) -> None:
        # A leftover from a killed export, or anything planted under our temporary name: remove the
        # entry itself (unlink never follows a link), then create exclusively, never through a link.
        self.folder.remove(self.temp)
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o644,
                     dir_fd=self.folder.fd)
        self._file = os.fdopen(fd, "wb")

    def write(self, text: str) -> None:
        self._buffer.append(text)
        self._buffered += len(text)
        if self._buffered >= CHUNK and not self._in_memory:
            self._drain()

    def _drain(self) -> None:
        if not self._buffer:
            return
        if self._file is None:
            self._open()
        # "replace": a lone surrogate in a name must not stop the export.
        data = "".join(self._buffer).encode("utf-8", "replace")
        self._buffer.clear()
        self._buffered = 0
        self.sha.update(data)
        self.size += len(data)
        self._file.write(data)

    def write_bytes(self, data: bytes) -> None:
        """Binary content (a chart PNG), checksummed like text."""
        self._drain()
        if self._file is None:
            self._open()
        self.sha.update(data)
        self.size += len(data)
        self._file.write(data)

    def finish(self) -> None:
        if self.finished:
            return
        if self._file is None:
            self._open()
        self._drain()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.finished = True

    def commit(self) -> None:
        self.folder.replace(self.temp, self.final)
        self.committed = True

    def discard(self) -> None:
        """Best effort after a failure: close and remove the temporary file (the stick may be gone)."""
        if self._file is None:  # never created: nothing of ours on the stick
            return
        try:
            self._file.close()
        except (OSError, ValueError):
            pass
        if not self.committed:
            try:
                self.folder.remove(self.temp)
            except OSError:
                pass


def free_name(folder: Folder, stem: str, suffix: str) -> str:
    """``stem.suffix``, or ``stem-2.suffix``... : a name nothing on the stick has yet."""
    for n in range(1, 1000):
        name = f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
        if not folder.exists(name):
            return name
    raise OSError(errno.EEXIST, "no free name", f"{folder.path}/{stem}{suffix}")


def discard(pending: list[PendingFile], created: list[tuple[Folder, str]]) -> None:
    """After a failure: remove the temporary files and the folders this export made."""
    for item in pending:
        item.discard()
    for parent, name in created:
        parent.rmdir(name)


def find_stick_id(root: Folder, station_folder: str, opened: list[Folder]) -> str | None:
    """The id in this station's marker on the stick, or None for a stick we have not written.
    Looks without creating anything; folders it opens are appended to *opened* (the caller
    closes them)."""
    top = root.child(fmt.FOLDER, create=False)
    if top:
        opened.append(top)
    station = top.child(station_folder, create=False) if top else None
    if station:
        opened.append(station)
    marker = station.read_marker() if station else None
    stick_id = marker.get("stick_id") if marker else None
    if isinstance(stick_id, str) and len(stick_id) == 32 and all(c in "0123456789abcdef" for c in stick_id):
        return stick_id
    return None


class Finisher:
    """Flush, fsync and close finished files on one worker thread while the export formats the next
    session (fsync waits on the stick, not the CPU). A failure there (a full or pulled stick)
    comes back as the same ``OSError`` on the export's thread, at the next file or at :meth:`wait`."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-fsync")
        self._futures: list[Future] = []

    def submit(self, item: PendingFile) -> None:
        self.raise_failed()
        # Files kept in memory wait here: a slow stick must not let them pile up (memory stays flat).
        while len(self._futures) >= QUEUED_FILES:
            self._futures.pop(0).result()
        self._futures.append(self._pool.submit(item.finish))

    def raise_failed(self) -> None:
        while self._futures and self._futures[0].done():
            self._futures.pop(0).result()

    def wait(self) -> None:
        """Every submitted file finished (raises the first failure)."""
        while self._futures:
            self._futures.pop(0).result()

    def close(self) -> None:
        """Stop after the work in hand (before anything is discarded or renamed)."""
        self._pool.shutdown(wait=True)
        self._futures.clear()
