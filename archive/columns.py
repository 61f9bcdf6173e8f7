"""What one searcher can answer without a pass of Python over the index per query: each facet field's
value per document as integer codes, the date column, field lengths, the posting lists of recent
terms, the document sets of filters, and the newest results.

Document sets are numpy boolean masks indexed by document number, so AND, OR and NOT are one vector
operation each and a facet count is one `bincount`, whatever the number of matches.

A cache belongs to one searcher. The index changing gives a new searcher and so empty caches: nothing
stale is ever served, and nothing needs invalidating by hand.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.query import And, AndMaybe, AndNot, Every, FuzzyTerm, Not, NullQuery, Or, Prefix, Query, Term, Wildcard
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length
from whoosh.util.times import datetime_to_long

RAW_COLUMNS = {"date"}  # read as Whoosh stores them (integers that sort like the dates), not translated
RESULT_CACHE_SIZE = 64  # recent search results kept per searcher
SNIPPET_CACHE_SIZE = 2000  # recent highlighted snippets kept per searcher: paging and facet clicks reuse them
# Recent posting lists and filter masks, up to this many bytes in all
CACHE_BYTES = 256 * 1024 * 1024
_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)  # Whoosh's length bytes decoded

Postings = tuple[np.ndarray, np.ndarray]  # document numbers (ascending) and term weights


class SearcherCache:
    """Lazily filled columns, postings and document masks of one searcher; safe to share between threads."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.size = searcher.reader().doc_count_all()
        self._lock = threading.Lock()
        self._whole: dict[Hashable, object] = {}  # columns, their codes and other per-document arrays
        self._kept_arrays = Recent(CACHE_BYTES, weigh=_nbytes)  # posting lists and masks
        self._results = Recent(RESULT_CACHE_SIZE)
        self._snippets = Recent(SNIPPET_CACHE_SIZE)

    # -- columns --------------------------------------------------------------------------------

    def column(self, field: str) -> list:
        """The field's sortable column as a list indexed by document number; dates as sortable integers."""

        def read() -> list:
            # Segment by segment: Whoosh's multi-segment column reader leaves out segments that lack
            # the column (no dated article in them, say), which would shift every later document.
            values: list = []
            for reader, _offset in self.searcher.reader().leaf_readers():
                if reader.doc_count_all():  # an empty index has no columns to read
                    values.extend(reader.column_reader(field, translate=field not in RAW_COLUMNS))
            return values

        return self._once(("column", field), read)

    def codes(self, field: str) -> tuple[list, np.ndarray]:
        """The field's distinct values, and for each document the position of its value among them."""

        def encode() -> tuple[list, np.ndarray]:
            positions: dict = {}
            column = self.column(field)
            codes = np.fromiter((positions.setdefault(v, len(positions)) for v in column), np.int32, len(column))
            return list(positions), _frozen(codes)

        return self._once(("codes", field), encode)

    def count(self, field: str, docs: np.ndarray, separator: str | None = None) -> Counter:
        """How many documents of the mask `docs` hold each value of `field`; `separator` splits
        multi-valued fields."""
        values, codes = self.codes(field)
        tally = np.bincount(codes[docs], minlength=len(values))
        counts: Counter = Counter()
        for code in np.flatnonzero(tally):
            if separator is None:
                counts[values[code]] += int(tally[code])
            else:
                for value in values[code].split(separator):
                    counts[value] += int(tally[code])
        return counts

    def dates(self) -> tuple[np.ndarray, np.ndarray]:
        """Whether each document is dated, and its date as Whoosh's sortable integer."""
        dated = self._array("dated", lambda: np.fromiter((v == "1" for v in self.column("dated")), bool, self.size))
        # Undated documents hold the column's default, which does not fit a signed integer: 0 instead.
        dates = self._array(
            "date", lambda: np.where(dated, np.array(self.column("date"), dtype=np.uint64), 0).astype(np.int64)
        )
        return dated, dates

    def lengths(self, field: str) -> np.ndarray:
        """Each document's length in `field`, as Whoosh's scorers see it (its one-byte approximation)."""

        def read() -> np.ndarray:
            parts = []
            for reader, _offset in self.searcher.reader().leaf_readers():
                count = reader.doc_count_all()
                if not count:
                    continue
                # whoosh3's length bytes, as its own doc_field_length() reads them; none when no document has the field
                column = reader._perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
                if column is None:
                    parts.append(np.zeros(count, dtype=np.uint8))
                elif column._fixedlen == 1:  # one byte a document, written up to the last one with the field
                    raw = column._dbfile.get(column._basepos, min(count, column._count))
                    parts.append(np.frombuffer(raw.ljust(count, b"\0"), dtype=np.uint8))
                else:
                    parts.append(np.fromiter((column[n] for n in range(count)), np.uint8, count))
            return _LENGTHS[np.concatenate(parts)] if parts else np.zeros(0)

        return self._array(("lengths", field), read)

    def _array(self, key: Hashable, compute) -> np.ndarray:
        return self._once(key, lambda: _frozen(compute()))

    def _once(self, key: Hashable, compute):
        """A value over the whole index (a column, its codes, an array), computed once per searcher."""
        with self._lock:
            found = self._whole.get(key)
        if found is None:
            found = compute()
            with self._lock:
                found = self._whole.setdefault(key, found)
        return found

    # -- document sets --------------------------------------------------------------------------

    def live(self) -> np.ndarray:
        """The mask of documents not deleted."""

        def compute() -> np.ndarray:
            mask = np.zeros(self.size, dtype=bool)
            reader = self.searcher.reader()
            if reader.has_deletions():
                mask[np.fromiter(reader.all_doc_ids(), np.int64)] = True
            else:
                mask[:] = True
            return mask

        return self._array("live", compute)

    def none(self) -> np.ndarray:
        return self._array("none", lambda: np.zeros(self.size, dtype=bool))

    def matching(self, query: Query) -> np.ndarray:
        """The mask of live documents matching `query`, unscored, from cached postings where the query allows.

        Terms, AND, OR and NOT are mask operations over each term's cached documents; prefixes,
        wildcards and fuzzy terms are the union of their expansions; anything else (phrases, ranges)
        asks Whoosh. The answer may be a cached, read-only mask.
        """
        if isinstance(query, Every):
            return self.live()
        if isinstance(query, NullQuery.__class__):
            return self.none()
        if isinstance(query, Term):
            return self.term(query.fieldname, query.text)
        if isinstance(query, (Prefix, Wildcard, FuzzyTerm)):
            reader = self.searcher.reader()
            return self.union(self.term(field, text) for field, text in query.expanded_terms(reader))
        if isinstance(query, And):
            return intersect(self.matching(q) for q in query.subqueries)
        if isinstance(query, Or):
            return self.union(self.matching(q) for q in query.subqueries)
        if isinstance(query, AndNot):
            return self.matching(query.a) & ~self.matching(query.b)
        if isinstance(query, AndMaybe):
            return self.matching(query.a)
        if isinstance(query, Not):
            return self.live() & ~self.matching(query.query)
        return self.whoosh_scored(query)[0]

    def whoosh_scored(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """The matches and scores of a query only Whoosh can answer (a phrase, a range), asked of
        Whoosh once per searcher: reading positions in every document holding a phrase's words is the
        slowest thing a search does."""

        def compute() -> tuple[np.ndarray, np.ndarray]:
            top = self.searcher.search(query, limit=None).top_n
            docs = np.fromiter((n for _, n in top), np.int64, len(top))
            mask, scores = np.zeros(self.size, dtype=bool), np.zeros(self.size)
            mask[docs] = True
            scores[docs] = np.fromiter((s for s, _ in top), np.float64, len(top))
            return mask, scores

        return self._kept(("whoosh", query), compute)

    def union(self, masks: Iterable[np.ndarray]) -> np.ndarray:
        """The documents in any of the masks; none for no masks (a prefix that expands to nothing)."""
        found: np.ndarray | None = None
        for other in masks:
            found = other.copy() if found is None else found | other
        return found if found is not None else self.none()

    def mask(self, docnums: Iterable[int]) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        mask[np.fromiter(docnums, np.int64)] = True
        return mask

    def term(self, field: str, text) -> np.ndarray:
        """The mask of live documents holding a term."""

        def compute() -> np.ndarray:
            ids, _weights = self.postings(field, text)
            mask = np.zeros(self.size, dtype=bool)
            mask[ids] = True
            return mask & self.live()

        return self._kept(("term", field, text), compute)

    def postings(self, field: str, text) -> Postings:
        """A term's document numbers and weights (term frequency times field boost), deleted documents
        included, read a block at a time and cached."""
        return self._kept(("postings", field, text), lambda: self._read_postings(field, text))

    def _read_postings(self, field: str, text) -> Postings:
        ids: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        btext = self.searcher.schema[field].to_bytes(text) if isinstance(text, str) else text
        for reader, offset in self.searcher.reader().leaf_readers():
            if (field, btext) not in reader:
                continue
            matcher = reader.postings(field, btext)
            if hasattr(matcher, "_read_ids") and hasattr(matcher, "_next_block"):
                # whoosh3's leaf matcher (the pinned version): whole blocks of ids and weights at a time,
                # not one posting a call. reader.postings() gives it unwrapped by deletions.
                while matcher.is_active():
                    if matcher._ids is None:
                        matcher._read_ids()
                    if matcher._weights is None:
                        matcher._read_weights()
                    ids.append(np.asarray(matcher._ids, dtype=np.int64) + offset)
                    weights.append(np.asarray(matcher._weights, dtype=np.float64))
                    matcher._next_block()
            else:
                found = list(matcher.items_as("weight"))
                ids.append(np.array([n for n, _ in found], dtype=np.int64) + offset)
                weights.append(np.array([w for _, w in found], dtype=np.float64))
        if not ids:
            return _frozen(np.zeros(0, dtype=np.int64)), _frozen(np.zeros(0))
        return _frozen(np.concatenate(ids)), _frozen(np.concatenate(weights))

    def date_range(self, start: datetime | None, end: datetime | None) -> np.ndarray:
        """The mask of documents dated within [start, end] (either end open), from the date column."""
        low = datetime_to_long(_naive(start)) if start else None
        high = datetime_to_long(_naive(end)) if end else None

        def compute() -> np.ndarray:
            dated, dates = self.dates()
            mask = dated & self.live()
            if low is not None:
                mask &= dates >= low
            if high is not None:
                mask &= dates <= high
            return mask

        return self._kept(("date", low, high), compute)

    def _kept(self, key: Hashable, compute):
        """A cached posting list or mask (read-only); the least recently used go once CACHE_BYTES are held."""
        return self._kept_arrays.get_or_compute(key, lambda: _frozen_all(compute()))

    # -- results --------------------------------------------------------------------------------

    def result(self, key: Hashable):
        return self._results.get(key)

    def keep_result(self, key: Hashable, result) -> None:
        self._results.put(key, result)

    def snippet(self, key: Hashable, compute):
        """A document's highlights for a query, computed once while they are among the recent ones."""
        return self._snippets.get_or_compute(key, compute)


class Recent:
    """The most recently used values, up to a total weight (a count unless `weigh` says otherwise);
    safe to share between threads. The most recent value is kept whatever its weight."""

    def __init__(self, limit: int, weigh: Callable[[object], int] = lambda _value: 1) -> None:
        self.limit = limit
        self.weigh = weigh
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._held = 0

    def get(self, key: Hashable):
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: Hashable, value) -> None:
        with self._lock:
            if key in self._values:
                self._held -= self.weigh(self._values.pop(key))
            self._values[key] = value
            self._held += self.weigh(value)
            while self._held > self.limit and len(self._values) > 1:
                _, dropped = self._values.popitem(last=False)
                self._held -= self.weigh(dropped)

    def get_or_compute(self, key: Hashable, compute):
        found = self.get(key)
        if found is None:
            found = compute()
            self.put(key, found)
        return found


def intersect(masks: Iterable[np.ndarray]) -> np.ndarray:
    """The documents in every mask (at least one): a new mask the caller may keep."""
    masks = list(masks)
    found = masks[0].copy()
    for other in masks[1:]:
        found &= other
    return found


def docnums(mask: np.ndarray) -> list[int]:
    """The document numbers a mask holds, in order."""
    return np.flatnonzero(mask).tolist()


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _frozen_all(found):
    """An array, or a tuple of arrays, made read-only."""
    return tuple(_frozen(a) for a in found) if isinstance(found, tuple) else _frozen(found)


def _nbytes(found) -> int:
    return sum(a.nbytes for a in found) if isinstance(found, tuple) else found.nbytes


def _naive(moment: datetime | None) -> datetime | None:
    """Dates are indexed without a time zone; the query parser gives UTC ones."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
