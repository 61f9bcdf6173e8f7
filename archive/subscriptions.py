"""Followed sources: feeds the archive polls on a schedule, their state, and the entries each has given.

A source is polled when it is due (`next_poll_at`); each poll records its outcome, and repeated
failures push the next poll further out until the source is paused (see ingest/follow.py, which
polls; this module only keeps the records).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import SourceError
from .store import Store, utc_now

MIN_EVERY_SECONDS = 5 * 60  # a feed polled more often than this is impolite and rarely has news
MAX_EVERY_SECONDS = 7 * 24 * 3600
DEFAULT_EVERY = "30m"
_INTERVAL = re.compile(r"\s*(\d+)\s*([smhd]?)\s*", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 60}
_NAME = re.compile(r"\S(?:.{0,98}\S)?")  # 1-100 characters, no outer spaces


def parse_every(text: str) -> int:
    """Seconds from "30m", "2h", "1d", "900s" or "45" (minutes); SourceError outside 5 minutes to 7 days."""
    match = _INTERVAL.fullmatch(text or "")
    if not match:
        raise SourceError(f"{text!r} is not an interval: write 30m, 2h or 1d.")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if not MIN_EVERY_SECONDS <= seconds <= MAX_EVERY_SECONDS:
        raise SourceError(f"A source is polled at most every 5 minutes and at least every 7 days, not {text!r}.")
    return seconds


def describe_every(seconds: int) -> str:
    """30m, 2h, 1d: the shortest exact form of an interval."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Source:
    """A followed feed: where it is, how often it is polled, and how its polls went."""

    id: int
    name: str
    url: str  # the feed itself
    page_url: str | None  # the page the user named, when the feed was found through it
    every_seconds: int
    on_topic_only: bool  # keep only entries the tagger finds about child protection
    added_at: str
    etag: str | None
    last_modified: str | None
    status: str  # new (never polled), ok, failed (will retry later), paused (after repeated failures)
    last_poll_at: str | None
    last_success_at: str | None
    last_error: str | None
    failures: int  # consecutive failed polls
    next_poll_at: str | None
    polls: int
    added: int  # articles this source added, over all polls
    skipped: int  # entries left out as off-topic
    last_added: int  # articles the last successful poll added
    articles: int  # articles in the archive under this source's name

    @property
    def every(self) -> str:
        return describe_every(self.every_seconds)

    def due(self, now: datetime | None = None) -> bool:
        """Whether a scheduled poll should fetch this source now (a paused source never is)."""
        if self.status == "paused":
            return False
        due_at = parse_time(self.next_poll_at)
        return due_at is None or due_at <= (now or datetime.now(UTC))


_SELECT = """
    SELECT s.*, (SELECT COUNT(*) FROM articles a WHERE a.source = s.name) AS articles FROM sources s
"""


def _source(row: sqlite3.Row) -> Source:
    values = {key: row[key] for key in row.keys()}
    values["on_topic_only"] = bool(values["on_topic_only"])
    return Source(**values)


class Sources:
    """The followed sources of one archive, kept in its store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, name: str, url: str, every_seconds: int, on_topic_only: bool = False, page_url: str | None = None):
        """A new source; SourceError when the name or the feed is already followed, or the name is unusable."""
        name = " ".join((name or "").split())
        if not _NAME.fullmatch(name):
            raise SourceError("A source name must be 1 to 100 characters.")
        try:
            with self._store.transaction() as conn:
                cursor = conn.execute(
                    "INSERT INTO sources (name, url, page_url, every_seconds, on_topic_only, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (name, url, page_url, every_seconds, int(on_topic_only), utc_now()),
                )
        except sqlite3.IntegrityError:
            same = self.find(name) or next((s for s in self.list() if s.url == url), None)
            what = f"named {same.name!r}" if same else "like it"
            raise SourceError(f"A source {what} is already followed ({same.url if same else url}).") from None
        return self.get(cursor.lastrowid)

    def list(self) -> list[Source]:
        rows = self._store.connection().execute(_SELECT + " ORDER BY s.name")
        return [_source(row) for row in rows]

    def find(self, name_or_id: str | int) -> Source | None:
        """The source of this name (any case) or id, else None."""
        column = "s.id" if isinstance(name_or_id, int) else "s.name"
        row = self._store.connection().execute(_SELECT + f" WHERE {column} = ?", (name_or_id,)).fetchone()
        return _source(row) if row else None

    def get(self, name_or_id: str | int) -> Source:
        source = self.find(name_or_id)
        if source is None:
            raise SourceError(f"No source is named {name_or_id!r}; `archive sources list` shows them.")
        return source

    def remove(self, name_or_id: str | int) -> Source:
        """Stop following a source; the articles it brought stay in the archive."""
        source = self.get(name_or_id)
        with self._store.transaction() as conn:
            conn.execute("DELETE FROM sources WHERE id = ?", (source.id,))
        return source

    def set_paused(self, name_or_id: str | int, paused: bool) -> Source:
        """Pause a source (no scheduled polls) or resume it (due at once, failure count cleared)."""
        source = self.get(name_or_id)
        with self._store.transaction() as conn:
            if paused:
                conn.execute("UPDATE sources SET status = 'paused' WHERE id = ?", (source.id,))
            else:
                conn.execute(
                    "UPDATE sources SET status = CASE WHEN polls = 0 THEN 'new' WHEN last_success_at = last_poll_at"
                    " THEN 'ok' ELSE 'failed' END, failures = 0, next_poll_at = NULL WHERE id = ?",
                    (source.id,),
                )
        return self.get(source.id)

    # -- entries and polls -------------------------------------------------------------------

    def seen(self, source_id: int, keys: list[str]) -> set[str]:
        """Which of these entry keys this source has already given."""
        conn = self._store.connection()
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT entry_key FROM source_entries WHERE source_id = ? AND entry_key IN ({marks})",
                (source_id, *chunk),
            )
            found.update(row[0] for row in rows)
        return found

    def record_entry(self, source_id: int, key: str, article_id: str | None, outcome: str) -> None:
        """Remember an entry taken (added, updated, a duplicate) or left out (off-topic), so it is not taken again."""
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO source_entries (source_id, entry_key, article_id, outcome, seen_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (source_id, key, article_id, outcome, utc_now()),
            )

    def record_success(
        self,
        source_id: int,
        *,
        polled_at: str,
        next_poll_at: str,
        etag: str | None,
        last_modified: str | None,
        added: int,
        skipped: int,
        problem: str | None = None,
    ) -> None:
        """A poll that reached the feed (changed or not): failures cleared, counts added up."""
        with self._store.transaction() as conn:
            conn.execute(
                "UPDATE sources SET status = 'ok', failures = 0, last_poll_at = ?, last_success_at = ?,"
                " last_error = ?, next_poll_at = ?, etag = ?, last_modified = ?, polls = polls + 1,"
                " added = added + ?, skipped = skipped + ?, last_added = ? WHERE id = ?",
                (polled_at, polled_at, problem, next_poll_at, etag, last_modified, added, skipped, added, source_id),
            )

    def record_failure(self, source_id: int, *, polled_at: str, next_poll_at: str, error: str, paused: bool) -> None:
        """A poll that failed: the error kept, the failure counted, the next poll put off (or the source paused)."""
        with self._store.transaction() as conn:
            conn.execute(
                "UPDATE sources SET status = ?, failures = failures + 1, last_poll_at = ?, last_error = ?,"
                " next_poll_at = ?, polls = polls + 1 WHERE id = ?",
                ("paused" if paused else "failed", polled_at, error, next_poll_at, source_id),
            )
