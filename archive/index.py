"""The Whoosh index: schema, one long-lived searcher per process, writers that wait for the lock."""

from __future__ import annotations

import logging
import mmap
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from whoosh.analysis import STOP_WORDS, CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex, LockError
from whoosh.searching import Searcher
from whoosh.support.charset import accent_map
from whoosh.writing import IndexWriter

from .errors import IndexBusy
from .models import OFF_TOPIC, Article

LOGGER = logging.getLogger(__name__)

# Bump when the schema changes: an index built with another version is rebuilt from the store.
SCHEMA_VERSION = 7  # 7: compound segments again, read through SharedFileStorage
_VERSION_FILE = "schema-version"
_RESUME_FILE = "rebuilt-up-to"  # in a new index being built: the id of the last article committed
REBUILD_COMMIT = 5000  # articles per commit of a rebuild, the unit a resumed rebuild starts after
# Segments are compound files (Whoosh's default), opened whole when a reader is made. Separate
# files (schema 6) were opened lazily, and another process's merge could delete them first: a search
# then failed on a missing column. Whoosh (3.54) copied each compound file wholly into memory on
# opening (3 GB at 100,000 articles); SharedFileStorage reads it from a map instead.
BULK_WRITER_MB = 128  # memory for each bulk writer process's postings before it writes them out

# Accent folding before stemming, so "Europäische" and "Europaische" meet, and "arrests" finds "arrested".
SPELLING_ANALYZER = RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map) | StopFilter()
TEXT_ANALYZER = SPELLING_ANALYZER | StemFilter()
_WORD = re.compile(r"\w+(?:\.?\w+)*")  # RegexTokenizer's default pattern
_MIN_WORD = 2  # StopFilter's default minimum length
WORDS_FIELD = "words"
NO_TOPIC = "none"  # the timeline's stack for articles without a topic

NAME_ANALYZER = RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)


def distinct_words(text: str) -> set[str]:
    """The words of a text as SPELLING_ANALYZER reads them, without running it token by token."""
    folded = text.lower().translate(accent_map)
    return {w for w in _WORD.findall(folded) if len(w) >= _MIN_WORD and w not in STOP_WORDS}


def build_schema(text_analyzer=TEXT_ANALYZER) -> Schema:
    """The index schema; `text_analyzer` is swapped only to read queries for spelling correction."""
    return Schema(
        id=ID(stored=True, unique=True, sortable=True),  # a column too: `check` reads every id at once
        title=TEXT(analyzer=text_analyzer, stored=True, field_boost=3.0),
        body=TEXT(analyzer=text_analyzer, stored=True),
        # Each distinct word as written (lower case, accents folded, not stemmed): the word list of
        # did-you-mean and fuzzy terms. Whoosh's spelling=True does the same job at twice the indexing cost.
        words=KEYWORD(),  # WORDS_FIELD
        author=TEXT(analyzer=NAME_ANALYZER, stored=True),
        source=ID(stored=True, sortable=True),
        topics=KEYWORD(stored=True, commas=True, scorable=True, sortable=True),
        date=DATETIME(stored=True, sortable=True),
        year=ID(sortable=True),
        dated=ID(sortable=True),  # "1" or "0": undated articles sort after dated ones in either order
        language=ID(stored=True, sortable=True),
        month_topic=ID(sortable=True),  # "2021-03:policy": month and primary topic, for the timeline
        url=STORED,
    )


def article_to_document(article: Article) -> dict:
    """The index document for an article; topics include people's corrections."""
    doc = {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "words": " ".join(distinct_words(f"{article.title}\n{article.body}")),
        "topics": OFF_TOPIC if article.off_topic else ",".join(article.topics),
        "url": article.canonical_url or article.url or "",
        "dated": "1" if article.published else "0",
    }
    if article.author:
        doc["author"] = article.author
    if article.source:
        doc["source"] = article.source
    if article.language:
        doc["language"] = article.language
    if article.published:
        doc["date"] = datetime.strptime(article.published, "%Y-%m-%d")
        doc["year"] = article.published[:4]
        primary = article.topics[0] if article.topics else NO_TOPIC
        doc["month_topic"] = f"{article.published[:7]}:{primary}"
    return doc


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

    def subset(self, offset: int, length: int, name: str | None = None) -> StructFile:
        return SharedStructFile(self.file.window(offset, length), name=name or self._name)


class SharedFileStorage(FileStorage):
    """Whoosh's folder storage whose files, opened for reading, may be shared by searching threads."""

    def open_file(self, name, **kwargs) -> StructFile:
        return SharedStructFile(SharedReadFile.open(self._fpath(name)), name=name, **kwargs)


def open_index(path: Path) -> FileIndex:
    return SharedFileStorage(str(path)).open_index()


def create_index(path: Path) -> FileIndex:
    return SharedFileStorage(str(path)).create_index(build_schema())


class ArchiveIndex:
    """A Whoosh index folder with a shared, refreshed searcher and lock-waiting writers."""

    def __init__(self, path: Path, writer_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.writer_timeout = writer_timeout
        self._lock = threading.Lock()  # guards the searcher and its leases
        self._write_lock = threading.Lock()  # threads of this process queue here before the file lock
        self._searcher: Searcher | None = None
        self._leases: dict[int, int] = {}
        self.created = False
        self.ix = self._open_or_create()

    def _open_or_create(self):
        version_file = self.path / _VERSION_FILE
        if self.path.is_dir() and any(self.path.iterdir()):
            found = version_file.read_text().strip() if version_file.exists() else "?"
            if found == str(SCHEMA_VERSION):
                try:
                    ix = open_index(self.path)
                    ix.latest_generation()
                    return ix
                except Exception as exc:  # a damaged index is derived data: rebuild it
                    LOGGER.warning("index at %s cannot be opened (%s); creating a new one", self.path, exc)
            else:
                LOGGER.warning(
                    "index at %s has schema version %s, expected %s; rebuilding", self.path, found, SCHEMA_VERSION
                )
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        ix = create_index(self.path)
        version_file.write_text(str(SCHEMA_VERSION))
        self.created = True
        return ix

    @property
    def schema(self) -> Schema:
        return self.ix.schema

    # -- reading -----------------------------------------------------------------------------

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """Lease the process's current searcher, replaced (not refreshed) when the index changed.

        A fresh searcher is opened instead of `refresh()` because refreshed searchers return
        duplicate hits after a segment merge; the old one is closed once no lease holds it.
        """
        with self._lock:
            current = self._searcher
            if current is None or not current.up_to_date():
                self._searcher = self.ix.searcher()
                if current is not None and not self._leases.get(id(current)):
                    current.close()
                current = self._searcher
            self._leases[id(current)] = self._leases.get(id(current), 0) + 1
        try:
            yield current
        finally:
            with self._lock:
                self._leases[id(current)] -= 1
                if not self._leases[id(current)]:
                    del self._leases[id(current)]
                    if current is not self._searcher:
                        current.close()

    def document_ids(self) -> set[str]:
        """The ids of every live document, from the id column (stored fields would mean reading every body)."""
        ids: set[str] = set()
        with self.searcher() as s:
            for reader, _offset in s.reader().leaf_readers():
                if not reader.doc_count_all():
                    continue
                column = reader.column_reader("id")
                ids.update(column[n] for n in reader.all_doc_ids())
        return ids

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def writer(self, procs: int = 1, optimize: bool = False) -> Iterator[IndexWriter]:
        """A writer that waits up to `writer_timeout` for the lock, commits on success, cancels on error.

        With `procs` above 1 (bulk imports), that many processes analyse documents into segments of
        their own, which are added without a merge; `optimize` merges them later, off the ingest path.
        """
        if not self._write_lock.acquire(timeout=self.writer_timeout):
            raise IndexBusy(self._busy_message())
        try:
            try:
                options = {"procs": procs, "multisegment": True, "limitmb": BULK_WRITER_MB} if procs > 1 else {}
                writer = self.ix.writer(timeout=self.writer_timeout, **options)
            except LockError:
                raise IndexBusy(self._busy_message()) from None
            try:
                yield writer
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=optimize)
        finally:
            self._write_lock.release()

    def _busy_message(self) -> str:
        return (
            f"the search index is busy with another writer (waited {self.writer_timeout:g} s); "
            "try again when the other ingest or reindex has finished"
        )

    def add(self, articles: Iterable[Article]) -> None:
        with self.writer() as w:
            for article in articles:
                w.update_document(**article_to_document(article))

    def optimize(self) -> None:
        """Merge all segments into one: faster searches after a bulk import; slow, so never on the ingest path."""
        with self.writer(optimize=True):
            pass

    def delete(self, ids: Iterable[str]) -> None:
        with self.writer() as w:
            for article_id in ids:
                w.delete_by_term("id", article_id)

    def rebuild(
        self, articles_after: Callable[[str], Iterable[Article]], progress: Callable[[int], None] | None = None
    ) -> int:
        """Build a complete new index beside this one, then swap it in; returns the articles indexed.

        `articles_after(id)` gives the articles in id order after `id` ("" for all). The new index is
        committed every REBUILD_COMMIT articles and the last id committed is written beside it, so a
        rebuild that was interrupted resumes from there instead of starting again."""
        fresh = self.path.with_name(self.path.name + ".new")
        after = _resume_point(fresh)
        if after is None:
            if fresh.exists():
                shutil.rmtree(fresh)  # unusable leftovers: start again
            fresh.mkdir(parents=True)
            ix = create_index(fresh)
            (fresh / _VERSION_FILE).write_text(str(SCHEMA_VERSION))
            after, count = "", 0
        else:
            ix = open_index(fresh)
            count = ix.doc_count()
            LOGGER.warning("resuming an interrupted index rebuild after %d articles", count)
            if progress:
                progress(count)
        writer = ix.writer()
        try:
            pending = 0
            for article in articles_after(after):
                writer.add_document(**article_to_document(article))
                count += 1
                pending += 1
                after = article.id or after
                if progress:
                    progress(1)
                if pending >= REBUILD_COMMIT:
                    writer.commit()
                    (fresh / _RESUME_FILE).write_text(after)
                    writer, pending = ix.writer(), 0
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        (fresh / _RESUME_FILE).unlink(missing_ok=True)
        with self._write_lock, self._lock:
            old = self.path.with_name(self.path.name + ".old")
            if old.exists():
                shutil.rmtree(old)
            if self._searcher is not None and not self._leases.get(id(self._searcher)):
                self._searcher.close()
            self._searcher = None
            self.ix.close()
            self.path.rename(old)
            fresh.rename(self.path)
            self.ix = open_index(self.path)
            shutil.rmtree(old, ignore_errors=True)
        return count

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self.ix.close()


def _resume_point(fresh: Path) -> str | None:
    """The id a rebuild interrupted in `fresh` got to, when what it committed can be used; else None."""
    try:
        version = (fresh / _VERSION_FILE).read_text().strip()
        after = (fresh / _RESUME_FILE).read_text().strip()
        if version != str(SCHEMA_VERSION) or not after:
            return None
        open_index(fresh).close()
    except Exception:  # missing, half-written or damaged: derived data, built again
        return None
    return after
