"""The index log: the store's record, in order, of every article a write changed for the index."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .models import Article, LoggedChanges
from .store import Store, log_position

ID_BATCH = 500  # ids per `IN (...)` lookup


class IndexLog:
    """Reads and prunes the `index_log` table that the store's writes append to in their own
    transactions. The index records the last seq it has applied and replays the entries after it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def position(self) -> int:
        """The seq of the newest entry ever written (0 for none): one indexed lookup."""
        return log_position(self.store.connection())

    def since(self, seq: int, skip: Sequence[range] = ()) -> LoggedChanges:
        """The entries after `seq`: each article changed, once. Entries whose seq is in one of the
        ascending ranges `skip` (a bulk import's own) are passed over, but still move `upto`."""
        starts = [r.start for r in skip]
        logged = LoggedChanges(upto=seq)
        rows = self.store.connection().execute(
            "SELECT seq, article_id FROM index_log WHERE seq > ? ORDER BY seq", (seq,)
        )
        for entry, article_id in rows:
            logged.upto = entry
            if skip and _within(entry, skip, starts):
                continue
            logged.first.setdefault(article_id, entry)
            logged.entries += 1
        return logged

    def within(self, ids: list[str], spans: Sequence[range]) -> set[str]:
        """Those of `ids` with an entry whose seq is in one of the ascending ranges `spans`."""
        if not ids or not spans:
            return set()
        starts = [r.start for r in spans]
        found: set[str] = set()
        conn = self.store.connection()
        for first in range(0, len(ids), ID_BATCH):
            chunk = ids[first : first + ID_BATCH]
            rows = conn.execute(
                "SELECT seq, article_id FROM index_log WHERE seq BETWEEN ? AND ?"
                f" AND article_id IN ({','.join('?' * len(chunk))})",
                (spans[0].start, spans[-1].stop - 1, *chunk),
            )
            found.update(article_id for entry, article_id in rows if _within(entry, spans, starts))
        return found

    def get_many(self, ids: list[str]) -> dict[str, Article]:
        """The stored articles among `ids` as they are now; an id missing from the answer was deleted."""
        return self.store.get_many(ids)

    def prune(self, upto: int) -> int:
        """Drop the entries up to seq `upto`, which the index holds; returns how many went."""
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM index_log WHERE seq <= ?", (upto,)).rowcount


def _within(seq: int, spans: Sequence[range], starts: list[int]) -> bool:
    return seq in spans[max(0, bisect.bisect_right(starts, seq) - 1)]
