"""Index files read through memory maps, with a read position per thread: Whoosh's folder storage
made safe for a searcher shared by a server's threads, and for merges by other processes."""

from __future__ import annotations

import io
import mmap
import os
import pickle
import threading

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

_PICKLE_SLICE = 4096  # bytes read for a pickle at first; most fit


class SharedReadFile:
    """A read-only window on an index file mapped into memory, with a read position per thread.

    Whoosh reads a file by seek() then read(), and the process's searcher is shared by the server's
    threads: over one plain file object one thread's seek moved another's read, and searches failed
    at random with zlib errors, "No term" or "Field 'title' is not stored" (tests/test_concurrency.py).
    Here each thread keeps its own position and every read is a slice of the map. A compound
    segment's parts are windows on its one map, so nothing is copied into memory, and the map stays
    readable after another process's merge deletes the file. The file descriptor is closed at once.
    """

    def __init__(self, data: mmap.mmap | bytes, start: int = 0, end: int | None = None, owner: bool = False) -> None:
        self._data = data
        self._owner = owner  # a window shares its file's map and leaves it open
        self._start = start
        self._end = len(data) if end is None else end
        self._local = threading.local()
        self.closed = False

    @classmethod
    def open(cls, path: str) -> SharedReadFile:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            return cls(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b"", owner=True)

    def window(self, offset: int, length: int) -> SharedReadFile:
        start = self._start + offset
        return SharedReadFile(self._data, start, min(start + length, self._end))

    def pread(self, position: int, length: int) -> bytes:
        start = self._start + position
        return self._data[start : min(start + length, self._end)]

    def read(self, size: int | None = -1) -> bytes:
        pos = self.tell()
        data = self.pread(pos, self._end if size is None or size < 0 else size)
        self._local.pos = pos + len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        pos = self.tell()
        newline = self._data.find(b"\n", self._start + pos, self._end)
        length = self._end - self._start - pos if newline < 0 else newline + 1 - self._start - pos
        return self.read(length if size is None or size < 0 else min(length, size))

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.tell(), os.SEEK_END: self._end - self._start}[whence]
        self._local.pos = base + offset
        return self._local.pos

    def tell(self) -> int:
        return getattr(self._local, "pos", 0)

    def close(self) -> None:
        if self._owner and isinstance(self._data, mmap.mmap):
            self._data.close()
        self.closed = True


class SharedStructFile(StructFile):
    """Whoosh's structured file over a SharedReadFile: positioned reads need no seek."""

    def get(self, position: int, length: int) -> bytes:
        return self.file.pread(position, length)

    def read_pickle(self, protocol: int = -1):
        """The pickle at the read position, parsed from a slice of the map: pickle.load would read
        the file a few bytes a call (about twenty calls for each of a posting list's block headers)."""
        start = self.file.tell()
        size = _PICKLE_SLICE
        while True:
            data = self.file.pread(start, size)
            buffer = io.BytesIO(data)
            try:
                value = pickle.Unpickler(buffer).load()
            except Exception:
                if len(data) < size:  # the whole rest of the file: not a pickle
                    raise
                size *= 8  # cut short by the slice: a larger one
                continue
            self.file.seek(start + buffer.tell())
            return value

    def subset(self, offset: int, length: int, name: str | None = None) -> StructFile:
        return SharedStructFile(self.file.window(offset, length), name=name or self._name)


class SharedFileStorage(FileStorage):
    """Whoosh's folder storage whose files, opened for reading, may be shared by searching threads."""

    def open_file(self, name, **kwargs) -> StructFile:
        return SharedStructFile(SharedReadFile.open(self._fpath(name)), name=name, **kwargs)
