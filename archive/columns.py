"""What one searcher can answer without a pass over the index per query: each facet field's value per
document, the document sets of filters, and the newest results.

A cache belongs to one searcher. The index changing gives a new searcher and so empty caches: nothing
stale is ever served, and nothing needs invalidating by hand.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Collection, Hashable, Iterable
from datetime import UTC, datetime

from whoosh.query import And, AndNot, Every, FuzzyTerm, Not, NullQuery, Or, Prefix, Query, Term, Wildcard
from whoosh.searching import Searcher
from whoosh.util.times import datetime_to_long

RAW_COLUMNS = {"date"}  # read as Whoosh stores them (integers that sort like the dates), not translated
RESULT_CACHE_SIZE = 64  # recent search results kept per searcher
# Document sets of recent terms and filters, up to this many document numbers in all (about 60 MB)
FILTER_CACHE_DOCS = 1_000_000


class SearcherCache:
    """Lazily filled columns and document sets of one searcher; safe to share between threads."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self._lock = threading.Lock()
        self._columns: dict[str, list] = {}
        self._sets: OrderedDict[Hashable, set[int]] = OrderedDict()
        self._results: OrderedDict[Hashable, object] = OrderedDict()
        self._live: set[int] | None = None
        self._deletions: bool | None = None
        self._held = 0  # documents held by the cached sets, kept under FILTER_CACHE_DOCS

    # -- columns --------------------------------------------------------------------------------

    def column(self, field: str) -> list:
        """The field's sortable column as a list indexed by document number; dates as sortable integers."""
        with self._lock:
            values = self._columns.get(field)
        if values is None:
            # Segment by segment: Whoosh's multi-segment column reader leaves out segments that lack
            # the column (no dated article in them, say), which would shift every later document.
            values = []
            for reader, _offset in self.searcher.reader().leaf_readers():
                if not reader.doc_count_all():  # an empty index has no columns to read
                    continue
                values.extend(reader.column_reader(field, translate=field not in RAW_COLUMNS))
            with self._lock:
                self._columns[field] = values
        return values

    def count(self, field: str, docs: Collection[int], separator: str | None = None) -> Counter:
        """How many of `docs` hold each value of `field`; `separator` splits multi-valued fields."""
        values = self.column(field)
        if separator is None:
            return Counter(map(values.__getitem__, docs))
        counts: Counter = Counter()
        for joined, n in Counter(map(values.__getitem__, docs)).items():
            for value in joined.split(separator):
                counts[value] += n
        return counts

    # -- document sets --------------------------------------------------------------------------

    def live(self) -> set[int]:
        if self._live is None:
            self._live = set(self.searcher.reader().all_doc_ids())
        return self._live

    def matching(self, query: Query) -> set[int]:
        """The live documents matching `query`, unscored, from cached term postings where the query allows.

        Terms, AND, OR and NOT are set operations over each term's cached documents; prefixes,
        wildcards and fuzzy terms are the union of their expansions; anything else (phrases, ranges)
        asks Whoosh. The answer may be a cached set: never change it.
        """
        if isinstance(query, Every):
            return self.live()
        if isinstance(query, NullQuery.__class__):
            return set()
        if isinstance(query, Term):
            return self.term(query.fieldname, query.text)
        if isinstance(query, (Prefix, Wildcard, FuzzyTerm)):
            reader = self.searcher.reader()
            return _union(self.term(field, text) for field, text in query.expanded_terms(reader))
        if isinstance(query, And):
            return intersect(self.matching(q) for q in query.subqueries)
        if isinstance(query, Or):
            return _union(self.matching(q) for q in query.subqueries)
        if isinstance(query, AndNot):
            return self.matching(query.a) - self.matching(query.b)
        if isinstance(query, Not):
            return self.live() - self.matching(query.query)
        return set(self.searcher.docs_for_query(query))

    def term(self, field: str, text) -> set[int]:
        """The live documents holding a term, read a block of postings at a time and cached."""
        return self._cached(("term", field, text), lambda: self._read_term(field, text))

    def _read_term(self, field: str, text) -> set[int]:
        found: set[int] = set()
        btext = self.searcher.schema[field].to_bytes(text) if isinstance(text, str) else text
        for reader, offset in self.searcher.reader().leaf_readers():
            if (field, btext) not in reader:
                continue
            matcher = reader.postings(field, btext)
            if hasattr(matcher, "_read_ids") and hasattr(matcher, "_next_block"):
                # whoosh3's leaf matcher (the pinned version): whole blocks of ids, not one posting a call.
                # Deleted documents are dropped below; reader.postings() would have wrapped this one.
                while matcher.is_active():
                    if matcher._ids is None:
                        matcher._read_ids()
                    found.update(map(offset.__add__, matcher._ids))
                    matcher._next_block()
            else:
                found.update(map(offset.__add__, matcher.all_ids()))
        return found & self.live() if self._has_deletions() else found

    def _has_deletions(self) -> bool:
        if self._deletions is None:
            self._deletions = self.searcher.reader().has_deletions()
        return self._deletions

    def date_range(self, start: datetime | None, end: datetime | None) -> set[int]:
        """Documents dated within [start, end] (either end open), read from the date column."""
        low = datetime_to_long(_naive(start)) if start else None
        high = datetime_to_long(_naive(end)) if end else None

        def compute() -> set[int]:
            dates, dated = self.column("date"), self.column("dated")
            return {
                n
                for n in self.live()
                if dated[n] == "1" and (low is None or dates[n] >= low) and (high is None or dates[n] <= high)
            }

        return self._cached(("date", low, high), compute)

    def _cached(self, key: Hashable, compute) -> set[int]:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
                return found
        found = compute()
        with self._lock:
            if key not in self._sets:
                self._sets[key] = found
                self._held += len(found)
            while self._held > FILTER_CACHE_DOCS and len(self._sets) > 1:
                _, dropped = self._sets.popitem(last=False)
                self._held -= len(dropped)
        return found

    # -- results --------------------------------------------------------------------------------

    def result(self, key: Hashable):
        with self._lock:
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
            return found

    def keep_result(self, key: Hashable, result) -> None:
        with self._lock:
            self._results[key] = result
            while len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)


def intersect(sets: Iterable[set[int]]) -> set[int]:
    """The documents in every set, smallest set first; a new set the caller may keep."""
    ordered = sorted(sets, key=len)
    if not ordered:
        return set()
    found = set(ordered[0])
    for other in ordered[1:]:
        found &= other
    return found


def _union(sets: Iterable[set[int]]) -> set[int]:
    found: set[int] = set()
    for other in sets:
        found |= other
    return found


def _naive(moment: datetime | None) -> datetime | None:
    """Dates are indexed without a time zone; the query parser gives UTC ones."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
