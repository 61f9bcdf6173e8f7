"""SQLite store: the source of truth for articles, machine topic scores, people's corrections and accounts."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .models import Article, Correction, Evidence, TopicScore

LOGGER = logging.getLogger(__name__)

# Forward migrations: index i takes the schema from version i to i + 1. Never edit a shipped step.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE articles (
        id            TEXT PRIMARY KEY,
        url           TEXT,
        canonical_url TEXT,
        source        TEXT,
        title         TEXT NOT NULL,
        author        TEXT,
        published     TEXT,
        ingested_at   TEXT NOT NULL,
        language      TEXT,
        origin        TEXT,
        body          TEXT NOT NULL,
        fingerprint   TEXT NOT NULL
    );
    CREATE UNIQUE INDEX articles_fingerprint ON articles (fingerprint);
    CREATE INDEX articles_canonical_url ON articles (canonical_url);
    CREATE INDEX articles_published ON articles (published);
    CREATE TABLE topic_scores (
        article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        topic      TEXT NOT NULL,
        score      REAL NOT NULL,
        assigned   INTEGER NOT NULL,
        evidence   TEXT NOT NULL,
        sentence   TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (article_id, topic)
    );
    CREATE TABLE topic_corrections (
        id         INTEGER PRIMARY KEY,
        article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        topic      TEXT NOT NULL,
        action     TEXT NOT NULL CHECK (action IN ('add', 'remove')),
        user       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX topic_corrections_article ON topic_corrections (article_id);
    """,
    # 2: feed entries that carried only a summary are flagged as such.
    "ALTER TABLE articles ADD COLUMN summary_only INTEGER NOT NULL DEFAULT 0",
    # 3: sign-in accounts, API tokens (only their SHA-256 digests) and the audit log (see accounts.py).
    """
    CREATE TABLE users (
        name          TEXT PRIMARY KEY COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('reader', 'editor')),
        created_at    TEXT NOT NULL
    );
    CREATE TABLE api_tokens (
        name         TEXT PRIMARY KEY COLLATE NOCASE,
        digest       TEXT NOT NULL UNIQUE,
        created_at   TEXT NOT NULL,
        last_used_at TEXT
    );
    CREATE TABLE audit_log (
        id     INTEGER PRIMARY KEY,
        at     TEXT NOT NULL,
        user   TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    """,
    # 4: the tagger's verdict that an article is unrelated to child protection (see Article.unrelated).
    "ALTER TABLE articles ADD COLUMN unrelated INTEGER NOT NULL DEFAULT 0",
    # 5: the index log: one row per article a write changed, in the write's transaction, so the index
    # can replay what it has not applied (the index records the last seq it holds: indexlog.py, index.py).
    # AUTOINCREMENT: a seq is never reused, even after the rows the index holds are pruned.
    """
    CREATE TABLE index_log (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        article_id TEXT NOT NULL,
        op         TEXT NOT NULL CHECK (op IN ('insert', 'import', 'replace', 'retag', 'correct', 'delete'))
    )
    """,
    # 6: followed sources (feeds polled on a schedule) and the entries each has given (see subscriptions.py).
    """
    CREATE TABLE sources (
        id              INTEGER PRIMARY KEY,
        name            TEXT NOT NULL UNIQUE COLLATE NOCASE,
        url             TEXT NOT NULL UNIQUE,
        page_url        TEXT,
        every_seconds   INTEGER NOT NULL,
        on_topic_only   INTEGER NOT NULL DEFAULT 0,
        added_at        TEXT NOT NULL,
        etag            TEXT,
        last_modified   TEXT,
        status          TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'ok', 'failed', 'paused')),
        last_poll_at    TEXT,
        last_success_at TEXT,
        last_error      TEXT,
        failures        INTEGER NOT NULL DEFAULT 0,
        next_poll_at    TEXT,
        polls           INTEGER NOT NULL DEFAULT 0,
        added           INTEGER NOT NULL DEFAULT 0,
        skipped         INTEGER NOT NULL DEFAULT 0,
        last_added      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE source_entries (
        source_id  INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        entry_key  TEXT NOT NULL,
        article_id TEXT,
        outcome    TEXT NOT NULL CHECK (outcome IN ('added', 'updated', 'duplicate', 'off-topic')),
        seen_at    TEXT NOT NULL,
        PRIMARY KEY (source_id, entry_key)
    );
    CREATE INDEX source_entries_article ON source_entries (article_id);
    """,
    # 7: articles by source, for the article count of each followed source (subscriptions.py).
    "CREATE INDEX articles_source ON articles (source)",
)

_ARTICLE_COLUMNS = (
    "id, url, canonical_url, source, title, author, published, ingested_at, language, origin, body, fingerprint,"
    " summary_only, unrelated"
)


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class Store:
    """One SQLite database in WAL mode; each thread gets its own connection."""

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.migrate()

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, in autocommit mode: for reads; write inside `transaction()`."""
        return self._connect()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate write transaction: committed on success, rolled back on any error."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int:
        conn = self._connect()
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return row[0] or 0

    def migrate(self) -> None:
        """Bring the schema forward to the newest version, one transaction per step."""
        current = self.schema_version()
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {current}, newer than this program knows ({len(MIGRATIONS)})"
            )
        for version in range(current, len(MIGRATIONS)):
            with self.transaction() as conn:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
            LOGGER.info("store %s migrated to schema version %d", self.path, version + 1)

    # -- articles ----------------------------------------------------------------------------

    def insert(self, article: Article) -> None:
        """Insert a new article with its scores; raises sqlite3.IntegrityError on a duplicate fingerprint."""
        with self.transaction() as conn:
            _write_article(conn, article)
            _log(conn, [article.id], "insert")

    def insert_new(self, articles: list[Article]) -> tuple[list[Article], range]:
        """Insert many articles in one transaction; those whose id or fingerprint is stored are skipped.

        Returns the articles inserted, in order (the bulk import's store step), and the seqs of the
        index log entries written for them: consecutive, since SQLite has one writer at a time.
        """
        added = []
        with self.transaction() as conn:
            for article in articles:
                try:
                    _write_article(conn, article)
                except sqlite3.IntegrityError:  # only this statement is undone; the transaction goes on
                    continue
                for correction in article.corrections:  # an imported article brings people's decisions
                    _write_correction(conn, article.id, correction)
                added.append(article)
            _log(conn, [a.id for a in added], "import")
            last = log_position(conn)
        return added, range(last - len(added) + 1, last + 1)

    def backup(self, target: Path) -> None:
        """A consistent copy of the store at `target`, made while others read and write (SQLite's online
        backup, a thousand pages a step so that writers get in between)."""
        destination = sqlite3.connect(target)
        try:
            self._connect().backup(destination, pages=1000)
        finally:
            destination.close()

    def replace(self, article: Article) -> None:
        """Overwrite an existing article's content and machine scores; corrections are kept."""
        with self.transaction() as conn:
            row = _article_row(article)
            conn.execute(
                "UPDATE articles SET url=?, canonical_url=?, source=?, title=?, author=?, published=?,"
                " ingested_at=?, language=?, origin=?, body=?, fingerprint=?, summary_only=?, unrelated=? WHERE id=?",
                (*row[1:], row[0]),
            )
            _write_scores(conn, article.id, article.scores)
            _log(conn, [article.id], "replace")

    def delete(self, article_id: str) -> bool:
        with self.transaction() as conn:
            deleted = conn.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount > 0
            if deleted:
                _log(conn, [article_id], "delete")
            return deleted

    def get(self, article_id: str) -> Article | None:
        conn = self._connect()
        row = conn.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return self._hydrate(conn, [row])[0] if row else None

    def get_many(self, ids: list[str]) -> dict[str, Article]:
        if not ids:
            return {}
        conn = self._connect()
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", ids).fetchall()
        return {a.id: a for a in self._hydrate(conn, rows)}

    def find_by_fingerprint(self, fingerprint: str) -> str | None:
        row = self._connect().execute("SELECT id FROM articles WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return row[0] if row else None

    def find_by_url(self, canonical_url: str) -> str | None:
        row = (
            self._connect()
            .execute("SELECT id FROM articles WHERE canonical_url = ? ORDER BY ingested_at LIMIT 1", (canonical_url,))
            .fetchone()
        )
        return row[0] if row else None

    def count(self) -> int:
        return self._connect().execute("SELECT count(*) FROM articles").fetchone()[0]

    def ids(self) -> set[str]:
        return {row[0] for row in self._connect().execute("SELECT id FROM articles")}

    def iter_articles(self, batch: int = 500, after: str = "") -> Iterator[Article]:
        """Every article in id order (those with an id after `after`), read in batches so memory stays
        bounded."""
        conn = self._connect()
        last = after
        while True:
            rows = conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            yield from self._hydrate(conn, rows)
            last = rows[-1]["id"]

    def corrected(self) -> list[Article]:
        """Every article a person has corrected."""
        conn = self._connect()
        rows = conn.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN (SELECT article_id FROM topic_corrections)"
            " ORDER BY id"
        ).fetchall()
        return self._hydrate(conn, rows) if rows else []

    def replace_tags(self, articles: list[Article], changed: Iterable[str] | None = None) -> None:
        """Overwrite the machine's scores and verdict of stored articles in one transaction (re-tagging);
        content and people's corrections are untouched. `changed` names the articles whose index
        document changes (their topics or verdict), which the index log records; None: all of them."""
        with self.transaction() as conn:
            for article in articles:
                conn.execute("UPDATE articles SET unrelated = ? WHERE id = ?", (int(article.unrelated), article.id))
                _write_scores(conn, article.id, article.scores)
            _log(conn, [a.id for a in articles] if changed is None else list(changed), "retag")

    def add_correction(self, article_id: str, correction: Correction) -> None:
        self.add_corrections(article_id, [correction])

    def add_corrections(self, article_id: str, corrections: list[Correction]) -> None:
        """People's decisions on one article, all or none."""
        with self.transaction() as conn:
            for correction in corrections:
                _write_correction(conn, article_id, correction)
            _log(conn, [article_id], "correct")

    def _hydrate(self, conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Article]:
        articles = [
            Article(
                id=r["id"],
                url=r["url"],
                canonical_url=r["canonical_url"],
                source=r["source"],
                title=r["title"],
                author=r["author"],
                published=r["published"],
                ingested_at=r["ingested_at"],
                language=r["language"],
                origin=r["origin"],
                body=r["body"],
                fingerprint=r["fingerprint"],
                summary_only=bool(r["summary_only"]),
                unrelated=bool(r["unrelated"]),
            )
            for r in rows
        ]
        by_id = {a.id: a for a in articles}
        marks = ",".join("?" * len(by_id))
        for r in conn.execute(
            f"SELECT article_id, topic, score, assigned, evidence, sentence FROM topic_scores"
            f" WHERE article_id IN ({marks}) ORDER BY score DESC",
            list(by_id),
        ):
            evidence = [Evidence(term=e["term"], count=e["count"]) for e in json.loads(r["evidence"])]
            by_id[r["article_id"]].scores.append(
                TopicScore(r["topic"], r["score"], bool(r["assigned"]), evidence, r["sentence"])
            )
        for r in conn.execute(
            f"SELECT article_id, topic, action, user, created_at FROM topic_corrections"
            f" WHERE article_id IN ({marks}) ORDER BY id",
            list(by_id),
        ):
            by_id[r["article_id"]].corrections.append(Correction(r["topic"], r["action"], r["user"], r["created_at"]))
        return articles


def _article_row(a: Article) -> tuple:
    return (
        a.id,
        a.url,
        a.canonical_url,
        a.source,
        a.title,
        a.author,
        a.published,
        a.ingested_at,
        a.language,
        a.origin,
        a.body,
        a.fingerprint,
        int(a.summary_only),
        int(a.unrelated),
    )


def _write_article(conn: sqlite3.Connection, article: Article) -> None:
    """The article's row and machine scores; raises sqlite3.IntegrityError on a stored id or fingerprint."""
    conn.execute(f"INSERT INTO articles ({_ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 14)})", _article_row(article))
    _write_scores(conn, article.id, article.scores)


def _log(conn: sqlite3.Connection, ids: list[str], op: str) -> None:
    """Index log entries for articles whose index document this transaction changes."""
    conn.executemany("INSERT INTO index_log (article_id, op) VALUES (?, ?)", [(i, op) for i in ids])


def log_position(conn: sqlite3.Connection) -> int:
    """The seq of the newest index log entry ever written (0 for none); pruning does not lower it."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'index_log'").fetchone()
    return row[0] if row else 0


def _write_correction(conn: sqlite3.Connection, article_id: str | None, correction: Correction) -> None:
    conn.execute(
        "INSERT INTO topic_corrections (article_id, topic, action, user, created_at) VALUES (?, ?, ?, ?, ?)",
        (article_id, correction.topic, correction.action, correction.user, correction.created_at),
    )


def _write_scores(conn: sqlite3.Connection, article_id: str | None, scores: list[TopicScore]) -> None:
    conn.execute("DELETE FROM topic_scores WHERE article_id = ?", (article_id,))
    conn.executemany(
        "INSERT INTO topic_scores (article_id, topic, score, assigned, evidence, sentence) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                article_id,
                s.topic,
                s.score,
                int(s.assigned),
                json.dumps([{"term": e.term, "count": e.count} for e in s.evidence]),
                s.sentence,
            )
            for s in scores
        ],
    )
