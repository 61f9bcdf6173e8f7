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
from .index import ArchiveIndex, LoggedWriter, Replay
from .indexlog import IndexLog
from .models import Article, CheckReport, Correction, Hit, IngestOutcome, SearchQuery, SearchResult, Similar
from .search import SearchEngine
from .store import Store, utc_now
from .subscriptions import Sources
from .taxonomy import Taxonomy, load_taxonomy

LOGGER = logging.getLogger(__name__)


IMPORT_BATCH = 1000  # articles per store transaction in a bulk import
RETAG_BATCH = 500  # articles per store transaction when re-tagging
MAX_IMPORT_PROCS = 4  # index writer processes in a bulk import, at most one per core
OPEN_REPLAY_LIMIT = 10_000  # logged changes opening an archive replays; more are left to `check`
LOG_PRUNE_EVERY = 1000  # the index log is pruned when a catch-up passes a multiple of this seq


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

    def __init__(self, data_dir: str | Path | None = None, config: Config | None = None, replay: bool = True) -> None:
        """Open (or create) the archive. With `replay`, changes the store logged but the index lacks
        are indexed now; `check` opens with replay=False, so that it reports them itself."""
        self.config = config if config is not None else load_config(data_dir)
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.taxonomy: Taxonomy = load_taxonomy(self.config.taxonomy_path)
        self.store = Store(self.config.store_path)
        self.log = IndexLog(self.store)
        self.accounts = Accounts(self.store)
        self.sources = Sources(self.store)
        self.index = ArchiveIndex(self.config.index_dir, writer_timeout=self.config.writer_timeout)
        self._engine = SearchEngine(self.index.schema)
        self._pending: int | None = None  # articles stored in a `batch()` since its last index commit
        # Stored articles whose indexing found the index busy: the next catch-up (this process's or
        # another's), opening an archive, or `check` indexes them.
        self.unindexed = 0
        self._recovered = Replay()  # what opening replayed, for the next check's report
        if self.index.created and self.store.count():
            LOGGER.warning("the search index was missing or unusable; rebuilding it from the store")
            self.reindex()
        elif replay:
            self._replay_on_open()

    def _replay_on_open(self) -> None:
        """Index what the store logged beyond the index: an ingest killed between its store commit and
        its index commit, or one that found the index busy. Without any, this costs one lookup."""
        applied = self.index.applied_seq()  # read first: the log's seq cannot be below it then
        position = self.log.position()
        if applied > position:
            LOGGER.warning("the search index holds changes the store never logged (an older store?); rebuilding it")
            self.reindex()
        elif position - applied > OPEN_REPLAY_LIMIT:
            LOGGER.warning("%d logged changes are not indexed yet; `archive check` indexes them", position - applied)
        elif position > applied:
            try:
                self._recovered = self.index.catch_up(self.log, timeout=0, inspect=True)
            except IndexBusy:  # the writer holding the lock replays them when it commits
                LOGGER.debug("the index is busy; %d logged changes are left to its writer", position - applied)

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
            self._catch_up(1)
        else:
            self._pending += 1
            if self._pending >= self.INDEX_BATCH:
                self._flush()
        return self._outcome(source, status, stored)

    def _catch_up(self, own: int) -> None:
        """Index what the store logged beyond the index: the `own` articles this process just stored,
        and whatever another process stored but could not index. When the index stays locked past the
        timeout nothing is lost: the articles are counted in `unindexed`, and stay in the log."""
        try:
            self._index_logged()
        except IndexBusy as exc:
            self.unindexed += own
            LOGGER.warning("%d stored articles not indexed yet: %s", own, exc)
            return
        self.unindexed = 0  # the log was replayed up to now: earlier misses included

    def _index_logged(self) -> Replay:
        """Replay the index log into the index (IndexBusy when it stays locked), pruning it now and then."""
        replay = self.index.catch_up(self.log)
        if replay.upto // LOG_PRUNE_EVERY > replay.start // LOG_PRUNE_EVERY:
            self._prune_log()
        return replay

    def _prune_log(self) -> None:
        self.log.prune(self.index.log_floor())

    def import_articles(
        self, articles: Iterable[Article], progress: Callable[[int], None] | None = None, procs: int | None = None
    ) -> Counter:
        """The bulk path for many extracted, tagged articles: store commits of IMPORT_BATCH articles,
        then one index writer for the whole import (a process per core). Duplicates are skipped.

        Memory stays bounded by the batch and the writers' buffers. The index lock is held throughout,
        so other writers wait; what they store meanwhile is indexed in the import's commit. An import
        killed midway leaves stored articles in the index log, which the next catch-up indexes.
        Returns counts of "added" and "duplicate".
        """
        procs = procs or max(1, min(os.cpu_count() or 1, MAX_IMPORT_PROCS))
        counts: Counter = Counter(added=0, duplicate=0)
        spans: list[range] = []  # the seqs of this import's own index log entries
        with self.index.logged_writer(procs=procs) as writer:
            for chunk in _batched(articles, IMPORT_BATCH):
                for article in chunk:
                    if not article.fingerprint:
                        raise ValueError("an article needs a fingerprint before it is imported")
                    article.id = article.id or article.fingerprint[:16]
                    article.ingested_at = article.ingested_at or utc_now()
                stored, span = self.store.insert_new(chunk)
                for article in stored:
                    writer.add(article)
                if span:
                    spans.append(span)
                counts["added"] += len(stored)
                counts["duplicate"] += len(chunk) - len(stored)
                if progress:
                    progress(len(chunk))
            later, upto = self._replay_others(writer, spans)
        if later:
            try:
                with self.index.logged_writer() as writer:
                    if writer.applied < upto:  # else another process replayed them since
                        writer.apply(self.log, later)
                        writer.upto = upto
            except IndexBusy as exc:  # they stay in the log for the next catch-up
                LOGGER.warning("%d changed articles not indexed yet: %s", len(later), exc)
        self._prune_log()
        return counts

    def _replay_others(self, writer: LoggedWriter, spans: list[range]) -> tuple[list[str], int]:
        """Write into an import's commit what other processes logged before or during it, so that the
        index's recorded seq moves past the whole import. An article the import added and another
        process changed since can only be written after that commit (a writer finds committed
        documents only): returns those ids, and the seq the index holds once they are written."""
        others = self.log.since(writer.applied, skip=spans)
        ours = self.log.within(others.ids, spans)
        writer.apply(self.log, [i for i in others.ids if i not in ours])
        writer.upto = min((others.first[i] - 1 for i in ours), default=others.upto)
        return sorted(ours), others.upto

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within this block, added articles are committed to the store at once and indexed together.

        One index commit per batch instead of one per article; the store stays the truth, and
        `check` indexes anything a killed batch left out.
        """
        if self._pending is not None:  # already batching
            yield
            return
        self._pending = 0
        try:
            yield
        finally:
            try:
                self._flush()
            finally:
                self._pending = None

    def _flush(self) -> None:
        if self._pending:
            own, self._pending = self._pending, 0
            self._catch_up(own)

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
        self._index_logged()
        return self.get(article_id)

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
        self._index_logged()
        return self.get(article_id)

    def delete(self, article_id: str, user: str) -> None:
        """Remove an article, its scores and corrections from the store, then from the index; audited."""
        article = self.get(article_id)
        if not self.store.delete(article_id):
            raise ArticleNotFound(f"No article has the id {article_id!r}.")
        # Audited before the index is touched: a busy index leaves the logged deletion to a later catch-up.
        self.accounts.record(user, "delete", article_id, article.title)
        self._index_logged()

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
            self.store.replace_tags(chunk, changed=[a.id for a in reindex])
            if reindex:
                self._index_logged()
            counts["articles"] += len(chunk)
            if progress:
                progress(len(chunk))
        return counts

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the whole index from the store and swap it in; returns the number of articles
        indexed. What other processes store, change or delete meanwhile is in the new index too."""
        count = self.index.rebuild(lambda after: self.store.iter_articles(after=after), progress=progress, log=self.log)
        self._prune_log()
        return count

    def optimize(self) -> tuple[int, int]:
        """Merge the index's segments into one (see ArchiveIndex.optimize); segments before and after."""
        return self.index.optimize()

    def check(self, repair: bool = True) -> CheckReport:
        """Compare store and index; with `repair`, bring the index in line.

        First the index log: the changes it holds beyond the index are replayed (`replayed`). Then, the
        second line of defence, the ids of store and index are compared, and what differs with no
        logged change to explain it (`unlogged`) is indexed or dropped. The report says what was
        wrong when the check began, with what opening the archive replayed; a dry run changes nothing
        and reports the same.
        """
        recovered, self._recovered = self._recovered, Replay()
        pending = self.log.since(self.index.applied_seq())
        stored = self.store.ids()
        indexed = self.index.document_ids()
        missing, orphans = stored - indexed, indexed - stored
        report = CheckReport(
            stored=len(stored),
            indexed=len(indexed),
            missing_from_index=sorted(missing | set(recovered.indexed)),
            orphans_in_index=sorted(orphans | set(recovered.removed)),
            replayed=recovered.changes + pending.entries,
            unlogged=sorted((missing | orphans) - set(pending.first)),
        )
        if not repair or report.ok:
            return report
        report.replayed = recovered.changes + self.index.catch_up(self.log).changes
        if missing or orphans:
            stored, indexed = self.store.ids(), self.index.document_ids()
            missing, orphans = stored - indexed, indexed - stored
            report.unlogged = sorted(missing | orphans)
            if orphans:
                self.index.delete(sorted(orphans))
            if missing:
                self.index.add(self.store.get_many(sorted(missing)).values())
        report.repaired = True
        self._prune_log()
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
