"""The Whoosh index: schema, one long-lived searcher per process, writers that wait for the lock."""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import STOP_WORDS, CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.support.charset import accent_map
from whoosh.writing import IndexWriter

from .errors import IndexBusy
from .models import OFF_TOPIC, Article

LOGGER = logging.getLogger(__name__)

# Bump when the schema changes: an index built with another version is rebuilt from the store.
SCHEMA_VERSION = 6  # 6: segments written as separate files, never compound
_VERSION_FILE = "schema-version"
# Whoosh (3.54) copies a compound segment file wholly into memory when a searcher opens it (its
# BufferFile wraps the mmap in a BytesIO): at 100,000 articles that was 3 GB. Separate files are
# read on demand, so every writer here passes compound=False.
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
                    ix = whoosh_index.open_dir(str(self.path))
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
        ix = whoosh_index.create_in(str(self.path), build_schema())
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
                writer = self.ix.writer(timeout=self.writer_timeout, compound=False, **options)
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

    def rebuild(self, articles: Iterable[Article], progress: Callable[[int], None] | None = None) -> int:
        """Build a complete new index beside this one from `articles`, then swap it in."""
        fresh = self.path.with_name(self.path.name + ".new")
        if fresh.exists():
            shutil.rmtree(fresh)  # a rebuild that was interrupted: start it again
        fresh.mkdir(parents=True)
        ix = whoosh_index.create_in(str(fresh), build_schema())
        (fresh / _VERSION_FILE).write_text(str(SCHEMA_VERSION))
        count = 0
        writer = ix.writer(compound=False)
        try:
            for article in articles:
                writer.add_document(**article_to_document(article))
                count += 1
                if progress:
                    progress(1)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
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
            self.ix = whoosh_index.open_dir(str(self.path))
            shutil.rmtree(old, ignore_errors=True)
        return count

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self.ix.close()
