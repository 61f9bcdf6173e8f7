"""`Archive`: the one way into the SQLite store and the Whoosh index."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .accounts import Accounts
from .config import Config, load_config
from .errors import ArticleNotFound, IndexBusy, InvalidCorrection
from .index import ArchiveIndex, article_to_document
from .models import Article, CheckReport, Correction, Hit, IngestOutcome, SearchQuery, SearchResult, Similar
from .search import SearchEngine
from .store import Store, utc_now
from .taxonomy import Taxonomy, load_taxonomy

LOGGER = logging.getLogger(__name__)


IMPORT_BATCH = 1000  # articles per store transaction in a bulk import
RETAG_BATCH = 500  # articles per store transaction when re-tagging
MAX_IMPORT_PROCS = 4  # index writer processes in a bulk import, at most one per core


def _batched(items: Iterable[Article], size: int) -> Iterator[list[Article]]:
    chunk: list[Article] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Archive:
    """An archive in one data directory: the store is the truth, the index is derived from it."""

    INDEX_BATCH = 200  # articles per index commit inside `batch()`

    def __init__(self, data_dir: str | Path | None = None, config: Config | None = None) -> None:
        self.config = config if config is not None else load_config(data_dir)
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.taxonomy: Taxonomy = load_taxonomy(self.config.taxonomy_path)
        self.store = Store(self.config.store_path)
        self.accounts = Accounts(self.store)
        self.index = ArchiveIndex(self.config.index_dir, writer_timeout=self.config.writer_timeout)
        self._engine = SearchEngine(self.index.schema)
        self._pending: list[Article] | None = None  # stored articles awaiting a batched index commit
        self.unindexed = 0  # stored articles whose indexing found the index busy (`check` indexes them)
        if self.index.created and self.store.count():
            LOGGER.warning("the search index was missing or unusable; rebuilding it from the store")
            self.reindex()

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    # -- writing -----------------------------------------------------------------------------

    def add(self, article: Article) -> IngestOutcome:
        """Store a tagged article (committed first), then index it.

        An article whose fingerprint is already stored is a duplicate; one whose canonical URL is
        stored with other text replaces that article's content and keeps its id and corrections.
        """
        if not article.fingerprint:
            raise ValueError("an article needs a fingerprint before it is added")
        source = article.origin or article.canonical_url or article.title
        existing = self.store.find_by_fingerprint(article.fingerprint)
        if existing:
            return self._outcome(source, "duplicate", self.store.get(existing), duplicate_of=existing)
        article.ingested_at = utc_now()
        same_url = self.store.find_by_url(article.canonical_url) if article.canonical_url else None
        if same_url:
            article.id = same_url
            self.store.replace(article)
            status = "updated"
        else:
            article.id = article.id or article.fingerprint[:16]
            try:
                self.store.insert(article)
            except sqlite3.IntegrityError:
                # Another process stored the same text between our check and our insert.
                existing = self.store.find_by_fingerprint(article.fingerprint)
                return self._outcome(source, "duplicate", self.store.get(existing), duplicate_of=existing)
            status = "added"
        stored = self.store.get(article.id)
        if self._pending is None:
            self._index_stored([stored])
        else:
            self._pending.append(stored)
            if len(self._pending) >= self.INDEX_BATCH:
                self._flush()
        return self._outcome(source, status, stored)

    def _index_stored(self, articles: list[Article]) -> None:
        """Index articles the store already holds. When the index stays locked past the timeout they
        are not lost: they are counted in `unindexed`, and `check` (or the web app's start) indexes them."""
        try:
            self.index.add(articles)
        except IndexBusy as exc:
            self.unindexed += len(articles)
            LOGGER.warning("%d stored articles not indexed yet: %s", len(articles), exc)

    def import_articles(
        self, articles: Iterable[Article], progress: Callable[[int], None] | None = None, procs: int | None = None
    ) -> Counter:
        """The bulk path for many extracted, tagged articles: store commits of IMPORT_BATCH articles,
        then one index writer for the whole import (a process per core). Duplicates are skipped.

        Memory stays bounded by the batch and the writers' buffers. The index lock is held throughout,
        so other writers wait; an import killed midway leaves stored articles that `check` indexes.
        Returns counts of "added" and "duplicate".
        """
        procs = procs or max(1, min(os.cpu_count() or 1, MAX_IMPORT_PROCS))
        counts: Counter = Counter(added=0, duplicate=0)
        with self.index.writer(procs=procs) as writer:
            for chunk in _batched(articles, IMPORT_BATCH):
                for article in chunk:
                    if not article.fingerprint:
                        raise ValueError("an article needs a fingerprint before it is imported")
                    article.id = article.id or article.fingerprint[:16]
                    article.ingested_at = article.ingested_at or utc_now()
                stored = self.store.insert_new(chunk)
                for article in stored:
                    writer.add_document(**article_to_document(article))
                counts["added"] += len(stored)
                counts["duplicate"] += len(chunk) - len(stored)
                if progress:
                    progress(len(chunk))
        return counts

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within this block, added articles are committed to the store at once and indexed together.

        One index commit per batch instead of one per article; the store stays the truth, and
        `check` indexes anything a killed batch left out.
        """
        if self._pending is not None:  # already batching
            yield
            return
        self._pending = []
        try:
            yield
        finally:
            try:
                self._flush()
            finally:
                self._pending = None

    def _flush(self) -> None:
        if self._pending:
            self._index_stored(list(self._pending))
            self._pending.clear()

    @staticmethod
    def _outcome(source: str, status, article: Article | None, duplicate_of: str | None = None) -> IngestOutcome:
        return IngestOutcome(
            source=source,
            status=status,
            id=article.id if article else None,
            title=article.title if article else None,
            topics=article.topics if article else [],
            duplicate_of=duplicate_of,
            off_topic=article.off_topic if article else False,
        )

    def correct(self, article_id: str, topic: str, action: str, user: str) -> Article:
        """Add or remove `topic` as `user`'s decision, which wins over the machine's; search sees it at once.

        The correction is stored (so it survives re-ingest and reindex) and audited; returns the
        article as it now is. InvalidCorrection for an unknown topic or action, ArticleNotFound for an
        unknown id.
        """
        if action not in ("add", "remove"):
            raise InvalidCorrection(f"A correction either adds or removes a topic, not {action!r}.")
        if topic not in self.taxonomy.names:
            raise InvalidCorrection(f"{topic!r} is not a topic; the topics are {', '.join(self.taxonomy.names)}.")
        if not user:
            raise InvalidCorrection("A correction needs the name of the person who made it.")
        self.get(article_id)
        try:
            self.store.add_correction(article_id, Correction(topic, action, user, utc_now()))
        except sqlite3.IntegrityError:  # deleted since we looked
            raise ArticleNotFound(f"No article has the id {article_id!r}.") from None
        self.accounts.record(user, "correct", article_id, f"{action} {topic}")
        article = self.get(article_id)
        self.index.add([article])
        return article

    def confirm(self, article_id: str, user: str) -> Article:
        """`user` looked at the article's topics and agrees with them: each topic becomes a person's
        decision (added or removed as it now stands), so re-tagging cannot change them and
        `archive train` learns from the article. Audited; returns the article."""
        if not user:
            raise InvalidCorrection("A confirmation needs the name of the person who made it.")
        article = self.get(article_id)
        now = utc_now()
        current = set(article.topics)
        decisions = [Correction(t, "add" if t in current else "remove", user, now) for t in self.taxonomy.names]
        try:
            self.store.add_corrections(article_id, decisions)
        except sqlite3.IntegrityError:  # deleted since we looked
            raise ArticleNotFound(f"No article has the id {article_id!r}.") from None
        self.accounts.record(user, "confirm", article_id, ", ".join(article.topics) or "no topic")
        article = self.get(article_id)
        self.index.add([article])
        return article

    def delete(self, article_id: str, user: str) -> None:
        """Remove an article, its scores and corrections from the store, then from the index; audited."""
        article = self.get(article_id)
        if not self.store.delete(article_id):
            raise ArticleNotFound(f"No article has the id {article_id!r}.")
        # Audited before the index is touched: a busy index leaves an orphan that `check` drops.
        self.accounts.record(user, "delete", article_id, article.title)
        self.index.delete([article_id])

    def retag(self, tag: Callable[[Article], Article], progress: Callable[[int], None] | None = None) -> Counter:
        """Recompute every article's machine tags with `tag` (after a taxonomy change): the store is
        updated a batch at a time, and the index for articles whose topics changed. People's
        corrections are never touched and still win. Returns counts of "articles" and "changed" (a
        topic gained or lost, or the off-topic verdict turned)."""
        counts: Counter = Counter(articles=0, changed=0)
        for chunk in _batched(self.store.iter_articles(), RETAG_BATCH):
            reindex = []
            for article in chunk:
                before = (article.topics, article.off_topic)
                tag(article)
                if (article.topics, article.off_topic) != before:  # the order too: the first is the primary
                    reindex.append(article)
                    counts["changed"] += set(article.topics) != set(before[0]) or article.off_topic != before[1]
            self.store.replace_tags(chunk)
            if reindex:
                self.index.add(reindex)
            counts["articles"] += len(chunk)
            if progress:
                progress(len(chunk))
        return counts

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the whole index from the store; returns the number of articles indexed."""
        return self.index.rebuild(lambda after: self.store.iter_articles(after=after), progress=progress)

    def check(self, repair: bool = True) -> CheckReport:
        """Compare store and index; with `repair`, index what is missing and drop orphans."""
        stored = self.store.ids()
        indexed = self.index.document_ids()
        report = CheckReport(
            stored=len(stored),
            indexed=len(indexed),
            missing_from_index=sorted(stored - indexed),
            orphans_in_index=sorted(indexed - stored),
        )
        if repair and not report.ok:
            if report.orphans_in_index:
                self.index.delete(report.orphans_in_index)
            if report.missing_from_index:
                articles = self.store.get_many(report.missing_from_index)
                self.index.add(articles.values())
            report.repaired = True
        return report

    # -- reading -----------------------------------------------------------------------------

    def get(self, article_id: str) -> Article:
        article = self.store.get(article_id)
        if article is None:
            raise ArticleNotFound(f"No article has the id {article_id!r}.")
        return article

    def search(self, query: SearchQuery) -> SearchResult:
        with self.index.searcher() as searcher:
            return self._engine.run(searcher, query)

    def search_all(self, query: SearchQuery) -> Iterator[Hit]:
        """Every match of `query` in its order, for exports: lazily, holding one searcher throughout."""
        with self.index.searcher() as searcher:
            yield from self._engine.iter_hits(searcher, query)

    def similar(self, article_id: str) -> Similar:
        """Other reports of the same event, and more articles on the same subject."""
        self.get(article_id)  # ArticleNotFound for an unknown id
        with self.index.searcher() as searcher:
            return self._engine.similar(searcher, article_id)

    def count(self) -> int:
        return self.store.count()

    def articles(self) -> Iterator[Article]:
        """Every stored article with its scores and corrections, in id order, in bounded memory."""
        return self.store.iter_articles()

    def close(self) -> None:
        self.index.close()
        self.store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
