"""The Whoosh index: schema, one long-lived searcher per process, writers that wait for the lock."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.index import FileIndex, LockError
from whoosh.index import IndexError as WhooshIndexError
from whoosh.searching import Searcher
from whoosh.util.filelock import LockBase, try_for
from whoosh.writing import IndexWriter

from . import indexdir
from .analysis import NAME_ANALYZER, TEXT_ANALYZER, WORDS_FIELD, distinct_words
from .bulkwriter import ParallelWriter
from .errors import IndexBusy
from .mapped import SharedFileStorage
from .models import OFF_TOPIC, Article, LoggedChanges
from .termarrays import ArraysWriter

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

NO_TOPIC = "none"  # the timeline's stack for articles without a topic


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


def article_to_document(article: Article, words: bool = True) -> dict:
    """The index document for an article; topics include people's corrections. Without `words`,
    the words field is left for the writer to derive (the bulk writer does, as it reads the text)."""
    doc = {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "topics": OFF_TOPIC if article.off_topic else ",".join(article.topics),
        "url": article.canonical_url or article.url or "",
        "dated": "1" if article.published else "0",
    }
    if words:
        doc[WORDS_FIELD] = " ".join(distinct_words(f"{article.title}\n{article.body}"))
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


def open_index(path: Path) -> FileIndex:
    return SharedFileStorage(str(path)).open_index()


def create_index(path: Path) -> FileIndex:
    return SharedFileStorage(str(path)).create_index(build_schema())


SWAP_RETRIES = 5  # attempts at opening a searcher or writer while another process swaps generations
SWAP_PAUSE = 0.05  # seconds between those attempts
REPLAY_BATCH = 500  # articles read from the store at a time when replaying the index log


class LogReader(Protocol):
    """What the index reads of the store's index log (archive.indexlog.IndexLog)."""

    def position(self) -> int: ...

    def since(self, seq: int, skip: Sequence[range] = ()) -> LoggedChanges: ...

    def get_many(self, ids: list[str]) -> dict[str, Article]: ...


@dataclass
class Replay:
    """What replaying the index log did: entries applied, and when inspected, the articles the index
    lacked (now indexed) and those it held although the store had lost them (now removed)."""

    changes: int = 0
    indexed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    start: int = 0  # the log seq the index held before
    upto: int = 0  # and after


class LoggedWriter:
    """A writer holding the index lock, with the index log seq the index holds every change up to
    (`applied`, read under the lock) and the seq it will hold once this writer commits (`upto`)."""

    def __init__(self, writer: IndexWriter, applied: int) -> None:
        self.writer = writer
        self.applied = self.upto = applied
        self.written = False

    def add(self, article: Article) -> None:
        """A new article, in no committed document yet (a bulk import's own)."""
        derived = getattr(self.writer, "derives_words", False)
        self.writer.add_document(**article_to_document(article, words=not derived))
        self.written = True

    def apply(self, log: LogReader, ids: list[str], inspect: bool = False) -> Replay:
        """Write each article as the store now holds it, or delete it when the store no longer does.

        Each id at most once per writer: an update finds committed documents only, not those this
        writer added, so a second write of one id would index it twice.
        """
        replay = Replay()
        searcher = self.writer.searcher() if inspect and ids else None
        for first in range(0, len(ids), REPLAY_BATCH):
            chunk = ids[first : first + REPLAY_BATCH]
            articles = log.get_many(chunk)
            for article_id in chunk:
                held = searcher is not None and searcher.document_number(id=article_id) is not None
                article = articles.get(article_id)
                if article is None:
                    self.writer.delete_by_term("id", article_id)
                    if held:
                        replay.removed.append(article_id)
                else:
                    self.writer.update_document(**article_to_document(article))
                    if searcher is not None and not held:
                        replay.indexed.append(article_id)
        self.written = self.written or bool(ids)
        return replay

    def replay(self, log: LogReader, inspect: bool = False) -> Replay:
        """Apply every entry of the log after `applied`; `upto` moves to the last one."""
        logged = log.since(self.applied)
        replay = self.apply(log, logged.ids, inspect)
        replay.changes, replay.start, replay.upto = logged.entries, self.applied, logged.upto
        self.upto = logged.upto
        return replay

    def finish(self, folder: Path) -> None:
        """Commit (cancel when nothing was written: a commit would still make every searcher stale),
        then record `upto` in the generation `folder`."""
        if self.written:
            self.writer.commit()
        else:
            self.writer.cancel()
        if self.upto > self.applied:
            indexdir.advance_seq(folder, self.upto)


class ArchiveIndex:
    """A Whoosh index with a shared, refreshed searcher and lock-waiting writers.

    The index path is a link to a generation folder (`index` -> `index-<n>`); a rebuild swaps in a
    new generation by replacing the link, and every process follows the link on its next search or
    write. A plain `index` folder from an older version keeps working until the next rebuild.
    """

    def __init__(self, path: Path, writer_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.writer_timeout = writer_timeout
        self._lock = threading.RLock()  # guards the searcher, its leases and the generation in use
        self._write_lock = threading.Lock()  # threads of this process queue here before the file lock
        self._searcher: Searcher | None = None
        self._leases: dict[int, int] = {}
        self.created = False
        self.folder, self.ix = self._open_or_create()

    def _open_or_create(self) -> tuple[Path, FileIndex]:
        """The generation the index path leads to; when there is none, or it has another schema
        version or is damaged, an empty new one swapped in (and `created` set)."""
        try:
            folder: Path | None = indexdir.current_folder(self.path)
        except FileNotFoundError:
            folder = None
        if folder is not None and folder.is_dir() and any(folder.iterdir()):
            version_file = folder / _VERSION_FILE
            found = version_file.read_text().strip() if version_file.exists() else "?"
            if found == str(SCHEMA_VERSION):
                try:
                    ix = open_index(folder)
                    ix.latest_generation()
                    return folder, ix
                except Exception as exc:  # a damaged index is derived data: rebuild it
                    LOGGER.warning("index at %s cannot be opened (%s); creating a new one", self.path, exc)
            else:
                LOGGER.warning(
                    "index at %s has schema version %s, expected %s; rebuilding", self.path, found, SCHEMA_VERSION
                )
        fresh = indexdir.new_folder(self.path)
        ix = create_index(fresh)
        (fresh / _VERSION_FILE).write_text(str(SCHEMA_VERSION))
        moved = indexdir.point(self.path, fresh)
        for unusable in (folder, moved):
            if unusable not in (None, self.path, fresh) and unusable.is_dir():
                shutil.rmtree(unusable, ignore_errors=True)
        self.created = True
        return fresh, ix

    @property
    def schema(self) -> Schema:
        return self.ix.schema

    def _follow_swap(self) -> None:
        """Move to the generation the index path leads to, when another process or thread swapped in
        a new one (a readlink per call). The searcher of the old one is closed once no lease holds it."""
        try:
            folder = indexdir.current_folder(self.path)
        except FileNotFoundError:  # a plain folder being moved aside: keep the one open
            return
        if folder == self.folder:
            return
        with self._lock:
            if folder == self.folder:
                return
            try:
                ix = open_index(folder)
            except (OSError, WhooshIndexError):  # swapped again meanwhile: the next call follows
                return
            self._retire_searcher()
            old, self.ix, self.folder = self.ix, ix, folder
            old.close()

    def _in_use(self, folder: Path) -> bool:
        try:
            return indexdir.current_folder(self.path) == folder
        except FileNotFoundError:
            return False

    def _retire_searcher(self) -> None:
        if self._searcher is not None and not self._leases.get(id(self._searcher)):
            self._searcher.close()
        self._searcher = None

    # -- reading -----------------------------------------------------------------------------

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """Lease the process's current searcher, replaced (not refreshed) when the index changed.

        A fresh searcher is opened instead of `refresh()` because refreshed searchers return
        duplicate hits after a segment merge; the old one is closed once no lease holds it.
        """
        with self._lock:
            current = self._latest_searcher()
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

    def _latest_searcher(self) -> Searcher:
        """The searcher of the latest commit of the generation in use (the caller holds `_lock`)."""
        for attempt in range(SWAP_RETRIES):
            self._follow_swap()
            current = self._searcher
            try:
                if current is not None and current.up_to_date():
                    return current
                self._searcher = self.ix.searcher()
            except (OSError, WhooshIndexError):
                # The generation's files went while we read them: another process swapped in a new one.
                if attempt == SWAP_RETRIES - 1:
                    raise
                time.sleep(SWAP_PAUSE)
                continue
            if current is not None and not self._leases.get(id(current)):
                current.close()
            return self._searcher
        raise AssertionError("unreachable")  # pragma: no cover

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

    def applied_seq(self) -> int:
        """The index log seq the generation in use holds every change up to (0: none recorded)."""
        try:
            return indexdir.read_seq(indexdir.current_folder(self.path))
        except FileNotFoundError:
            return indexdir.read_seq(self.folder)

    def log_floor(self) -> int:
        """The seq up to which the store may prune its index log: what the index in use holds, and no
        more than a rebuild in progress still needs to replay (index.new says from where)."""
        floor = self.applied_seq()  # read before index.new: see rebuild
        fresh = self.path.with_name(self.path.name + ".new")
        if fresh.exists():
            floor = min(floor, indexdir.read_seq(fresh))
        return floor

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def _locked(self, procs: int = 1, timeout: float | None = None) -> Iterator[tuple[IndexWriter, Path]]:
        """A Whoosh writer holding the lock of the generation in use, and that generation's folder;
        the caller commits or cancels. IndexBusy after `timeout` seconds (default writer_timeout)."""
        wait = self.writer_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        if not self._write_lock.acquire(timeout=wait):
            raise IndexBusy(self._busy_message(wait))
        try:
            yield self._open_writer(procs, deadline, wait)
        finally:
            self._write_lock.release()

    def _open_writer(self, procs: int, deadline: float, wait: float) -> tuple[IndexWriter, Path]:
        # With `procs` above 1 (bulk imports), that many processes build segments of their own,
        # which are added without a merge.
        while True:
            self._follow_swap()
            with self._lock:
                folder, ix = self.folder, self.ix
            try:
                timeout = max(0.0, deadline - time.monotonic())
                writer = ParallelWriter(ix, procs, timeout=timeout) if procs > 1 else ArraysWriter(ix, timeout=timeout)
            except LockError:
                raise IndexBusy(self._busy_message(wait)) from None
            except (OSError, WhooshIndexError):
                if self._in_use(folder):  # not a swap: a real failure
                    raise
                if time.monotonic() >= deadline:  # swapped out and removed while we waited for its lock
                    raise IndexBusy(self._busy_message(wait)) from None
                time.sleep(SWAP_PAUSE)
                continue
            # Checked under the lock: a swap needs the lock of the generation it swaps out, so the
            # one in use now stays in use until this writer is done.
            if self._in_use(folder):
                return writer, folder
            _cancel_quietly(writer)

    @contextmanager
    def writer(self, procs: int = 1, optimize: bool = False) -> Iterator[IndexWriter]:
        """A writer that waits up to `writer_timeout` for the lock, commits on success, cancels on error.

        With `procs` above 1 (bulk imports), that many processes build segments of their own (see
        bulkwriter.ParallelWriter), added without a merge; `optimize` merges them later, off the ingest path.
        """
        with self._locked(procs) as (writer, _folder):
            try:
                yield writer
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=optimize)

    @contextmanager
    def logged_writer(self, procs: int = 1, timeout: float | None = None) -> Iterator[LoggedWriter]:
        """A writer that knows the index log seq the index holds, and records the seq it reaches after
        its commit: what `catch_up` and bulk imports write through."""
        with self._locked(procs, timeout) as (writer, folder):
            logged = LoggedWriter(writer, indexdir.read_seq(folder))
            try:
                yield logged
            except BaseException:
                writer.cancel()
                raise
            logged.finish(folder)

    def catch_up(self, log: LogReader, timeout: float | None = None, inspect: bool = False) -> Replay:
        """Replay the index log after the seq this index holds: each article changed is written as the
        store now holds it, or deleted when the store no longer does. Replaying twice does no harm.

        With `inspect`, the replay also says which articles the index lacked and which it held in vain.
        IndexBusy when the lock stays taken past `timeout` (default writer_timeout).
        """
        with self.logged_writer(timeout=timeout) as writer:
            return writer.replay(log, inspect)

    def _busy_message(self, wait: float | None = None) -> str:
        waited = self.writer_timeout if wait is None else wait
        return (
            f"the search index is busy with another writer (waited {waited:g} s); "
            "try again when the other ingest or reindex has finished"
        )

    def add(self, articles: Iterable[Article]) -> None:
        with self.writer() as w:
            for article in articles:
                w.update_document(**article_to_document(article))

    def optimize(self) -> tuple[int, int]:
        """Merge all segments into one: faster searches after a bulk import; slow, so never on the
        ingest path. Returns the number of segments before and after."""
        before = self.segment_count()
        with self.writer(optimize=True):
            pass
        return before, self.segment_count()

    def segment_count(self) -> int:
        with self.searcher() as searcher:
            return len(searcher.reader().leaf_readers())

    def delete(self, ids: Iterable[str]) -> None:
        with self.writer() as w:
            for article_id in ids:
                w.delete_by_term("id", article_id)

    def rebuild(
        self,
        articles_after: Callable[[str], Iterable[Article]],
        progress: Callable[[int], None] | None = None,
        log: LogReader | None = None,
    ) -> int:
        """Build a complete new index beside this one, then swap it in; returns the articles it holds.

        `articles_after(id)` gives the articles in id order after `id` ("" for all). The new index is
        committed every REBUILD_COMMIT articles and the last id committed is written beside it, so a
        rebuild that was interrupted resumes from there instead of starting again.

        With `log`, the new index starts from the index log's seq when the build began, and replays
        what was logged since (once, then again holding the lock of the index in use): what other
        processes stored, changed or deleted during the build is in it when it is swapped in.
        """
        fresh = self.path.with_name(self.path.name + ".new")
        after = _resume_point(fresh)
        if after is None:
            if fresh.exists():
                shutil.rmtree(fresh)  # unusable leftovers: start again
            fresh.mkdir(parents=True)
            # Written before the log's seq is read: while index.new holds 0, no process prunes log
            # entries this build will need (log_floor), however their reads and this one interleave.
            indexdir.write_seq(fresh, 0)
            indexdir.write_seq(fresh, log.position() if log else 0)
            ix = create_index(fresh)
            (fresh / _VERSION_FILE).write_text(str(SCHEMA_VERSION))
            after = ""
        else:
            ix = open_index(fresh)
            LOGGER.warning("resuming an interrupted index rebuild after %d articles", ix.doc_count())
            if progress:
                progress(ix.doc_count())
        # Resumed, the new index may hold articles after `after` already (replayed from the log before
        # an interrupted swap): they are updated, not added twice.
        resumed = bool(after)

        def new_writer() -> ParallelWriter:
            return ParallelWriter(ix, 1, segment_docs=REBUILD_COMMIT)

        try:
            writer = new_writer()
            try:
                pending = 0
                for article in articles_after(after):
                    write = writer.update_document if resumed else writer.add_document
                    write(**article_to_document(article, words=False))
                    pending += 1
                    after = article.id or after
                    if progress:
                        progress(1)
                    if pending >= REBUILD_COMMIT:
                        writer.commit()
                        (fresh / _RESUME_FILE).write_text(after)
                        writer, pending = new_writer(), 0
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            if after:  # resumable until it is swapped in
                (fresh / _RESUME_FILE).write_text(after)
            if log:
                _replay_into(ix, fresh, log)  # the bulk of the changes since the start, not holding the lock
        finally:
            ix.close()
        return self._swap_in(fresh, log)

    def _swap_in(self, fresh: Path, log: LogReader | None) -> int:
        """Holding the lock of the generation in use, replay the last logged changes into `fresh`, make
        it the generation in use (renamed to `index-<n>`, then the link replaced), and remove the old.
        Returns the number of articles it holds."""
        deadline = time.monotonic() + self.writer_timeout
        if not self._write_lock.acquire(timeout=self.writer_timeout):
            raise IndexBusy(self._busy_message())
        try:
            lock, old = self._lock_in_use(deadline)
            try:
                if log:
                    ix = open_index(fresh)
                    try:
                        _replay_into(ix, fresh, log)
                    finally:
                        ix.close()
                target = indexdir.new_folder(self.path)
                os.rename(fresh, target)  # onto the new empty folder
                (target / _RESUME_FILE).unlink(missing_ok=True)
                moved = indexdir.point(self.path, target)
                with self._lock:
                    self._retire_searcher()
                    self.ix.close()
                    self.ix, self.folder = open_index(target), target
                    count = self.ix.doc_count()
            finally:
                lock.release()
        finally:
            self._write_lock.release()
        # Processes still searching the old generation keep their open files; new searchers follow the link.
        # (index.old: what an interrupted swap of older versions, which renamed folders, left behind.)
        leftovers = {old, moved, self.path.with_name(self.path.name + ".old")}
        for gone in {*leftovers, *indexdir.older_folders(self.path, target)} - {None, self.path}:
            if gone.is_dir():
                shutil.rmtree(gone, ignore_errors=True)
        return count

    def _lock_in_use(self, deadline: float) -> tuple[LockBase, Path]:
        """The Whoosh lock of the generation in use, held, and its folder: no writer commits to it
        while the lock is held, and a writer waiting for it moves to the new generation afterwards."""
        while True:
            self._follow_swap()
            with self._lock:
                folder, ix = self.folder, self.ix
            lock = ix.lock("WRITELOCK")
            try:
                got = try_for(lock.acquire, timeout=max(0.0, deadline - time.monotonic()), delay=0.1)
            except OSError:  # its folder was removed by another swap meanwhile
                got = False
            if got and self._in_use(folder):
                return lock, folder
            if got:
                lock.release()
            if time.monotonic() >= deadline:
                raise IndexBusy(self._busy_message())
            time.sleep(SWAP_PAUSE)

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self.ix.close()


def _replay_into(ix: FileIndex, folder: Path, log: LogReader) -> Replay:
    """Replay the index log into the index being built in `folder` (no other writer uses it)."""
    writer = LoggedWriter(ArraysWriter(ix), indexdir.read_seq(folder))
    try:
        replay = writer.replay(log)
    except BaseException:
        writer.writer.cancel()
        raise
    writer.finish(folder)
    return replay


def _cancel_quietly(writer: IndexWriter) -> None:
    """Cancel a writer of a generation that was swapped out; its files may be gone already."""
    try:
        writer.cancel()
    except (OSError, WhooshIndexError):
        pass


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
