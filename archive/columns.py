"""What one searcher can answer without a pass of Python over the index per query: each facet field's
value per document as integer codes, the date column, field lengths, the posting lists of recent
terms, the document sets of filters, and the newest results.

Document sets are numpy boolean masks indexed by document number, so AND, OR and NOT are one vector
operation each and a facet count is one `bincount`, whatever the number of matches.

A cache belongs to one searcher. The index changing gives a new searcher and so empty caches: nothing
stale is ever served, and nothing needs invalidating by hand. Only what is read per segment (columns,
lengths: segments.py) outlives a searcher, since a segment never changes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime

import numpy as np
from whoosh.query import (
    And,
    AndMaybe,
    AndNot,
    Every,
    FuzzyTerm,
    Not,
    NullQuery,
    Or,
    Phrase,
    Prefix,
    Query,
    Term,
    Wildcard,
)
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length
from whoosh.util.times import datetime_to_long

from . import termarrays
from .recent import Recent
from .segments import SegmentArrays, column_codes, leaf_postings, length_bytes, nbytes, numeric_column
from .termarrays import TermArrays

RESULT_CACHE_SIZE = 64  # recent search results kept per searcher
SNIPPET_CACHE_SIZE = 2000  # recent highlighted snippets kept per searcher: paging and facet clicks reuse them
# Recent posting lists and filter masks, up to this many bytes in all
CACHE_BYTES = 256 * 1024 * 1024
_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)  # Whoosh's length bytes decoded

Postings = tuple[np.ndarray, np.ndarray]  # document numbers (ascending) and term weights


class SearcherCache:
    """Lazily filled columns, postings and document masks of one searcher; safe to share between threads."""

    def __init__(self, searcher: Searcher, segments: SegmentArrays | None = None) -> None:
        """`segments` keeps what is read per segment for later searchers of the same index."""
        self.searcher = searcher
        self._segments = segments if segments is not None else SegmentArrays()
        self.size = searcher.reader().doc_count_all()
        self._lock = threading.Lock()
        self._whole: dict[Hashable, object] = {}  # columns, their codes and other per-document arrays
        self._kept_arrays = Recent(CACHE_BYTES, weigh=nbytes)  # posting lists and masks
        self._results = Recent(RESULT_CACHE_SIZE)
        self._snippets = Recent(SNIPPET_CACHE_SIZE)

    # -- columns --------------------------------------------------------------------------------

    def codes(self, field: str) -> tuple[list, np.ndarray]:
        """The field's distinct values, and for each document the position of its value among them.

        Segment by segment (each kept across searchers, see segments.py), then one table of values:
        Whoosh's multi-segment column reader would leave out segments that lack the column.
        """

        def encode() -> tuple[list, np.ndarray]:
            positions: dict = {}
            parts = []
            for reader, _offset in self._leaves():
                values, codes = self._segments.get(reader, ("codes", field), lambda r=reader: column_codes(r, field))
                remap = np.fromiter((positions.setdefault(v, len(positions)) for v in values), np.int32, len(values))
                parts.append(remap[codes] if len(values) else codes)
            codes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
            return list(positions), _frozen(codes.astype(np.int32, copy=False))

        return self._once(("codes", field), encode)

    def column(self, field: str) -> list:
        """The field's sortable column as a list indexed by document number."""
        values, codes = self.codes(field)
        return [values[code] for code in codes.tolist()]

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

        def flags() -> np.ndarray:
            values, codes = self.codes("dated")
            return np.array([v == "1" for v in values], dtype=bool)[codes] if values else np.zeros(self.size, bool)

        def read() -> np.ndarray:
            parts = [
                self._segments.get(reader, ("numeric", "date"), lambda r=reader: numeric_column(r, "date"))
                for reader, _offset in self._leaves()
            ]
            stored = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
            # Undated documents hold the column's default, which does not fit a signed integer: 0 instead.
            return np.where(dated, stored, 0).astype(np.int64)

        dated = self._array("dated", flags)
        return dated, self._array("date", read)

    def lengths(self, field: str) -> np.ndarray:
        """Each document's length in `field`, as Whoosh's scorers see it (its one-byte approximation)."""

        def read() -> np.ndarray:
            parts = [
                self._segments.get(reader, ("lengths", field), lambda r=reader: length_bytes(r, field))
                for reader, _offset in self._leaves()
            ]
            return _LENGTHS[np.concatenate(parts)] if parts else np.zeros(0)

        return self._array(("lengths", field), read)

    def _leaves(self):
        """The segment readers holding documents (an empty index has no columns to read)."""
        return [(r, offset) for r, offset in self.searcher.reader().leaf_readers() if r.doc_count_all()]

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
        if isinstance(query, Phrase):
            found = self.phrase(query)
            if found is not None:
                return found
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
            if (field, btext) in reader:
                arrays = self.term_arrays(reader)
                if arrays is not None:  # slices of a map: nothing worth keeping
                    found = arrays.postings(field, btext)
                else:
                    found = self._segments.get(
                        reader, ("postings", field, btext), lambda r=reader: leaf_postings(r, field, btext)
                    )
                ids.append(found[0] + offset)
                weights.append(found[1])
        if not ids:
            return _frozen(np.zeros(0, dtype=np.int64)), _frozen(np.zeros(0))
        return _frozen(np.concatenate(ids)), _frozen(np.concatenate(weights))

    def term_arrays(self, reader) -> TermArrays | None:
        """A segment's posting lists as arrays (termarrays.py), when it has them."""
        found = self._segments.get(reader, "term arrays", lambda: termarrays.for_reader(reader) or False)
        return found or None

    def phrase(self, query: Phrase) -> np.ndarray | None:
        """The mask of live documents holding the phrase's words at consecutive positions, from
        each segment's arrays: None when a segment has none or the phrase is not a plain one (Whoosh
        answers those). What Whoosh's phrase matcher finds (SpanNear2, slop 1, in order), as one
        intersection of (document, position less the word's place in the phrase) keys per segment."""
        field = self.searcher.schema[query.fieldname] if query.fieldname in self.searcher.schema else None
        if query.slop != 1 or field is None or not field.format.supports("positions"):
            return None
        leaves = self.searcher.reader().leaf_readers()
        arrays = [self.term_arrays(reader) for reader, _offset in leaves]
        if any(found is None for found in arrays):
            return None

        def compute() -> np.ndarray:
            mask = np.zeros(self.size, dtype=bool)
            try:
                words = [field.to_bytes(word) for word in query.words]
            except ValueError:
                return mask
            for (_reader, offset), found in zip(leaves, arrays, strict=True):
                keys = None
                for place, word in enumerate(words):
                    these = found.phrase_keys(query.fieldname, word, place)
                    keys = these if keys is None else _common(keys, these)
                    if not len(keys):
                        break
                if keys is not None and len(keys):
                    mask[(keys >> keys.dtype.type(found.position_bits)).astype(np.int64) + offset] = True
            return mask & self.live()

        return self._kept(("phrase", query), compute)

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


def intersect(masks: Iterable[np.ndarray]) -> np.ndarray:
    """The documents in every mask (at least one): a new mask the caller may keep."""
    masks = list(masks)
    found = masks[0].copy()
    for other in masks[1:]:
        found &= other
    return found


def _common(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both of two ascending arrays of distinct values, by binary search of the
    larger for each of the smaller's (no sort)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if not len(large):
        return large
    at = np.minimum(np.searchsorted(large, small), len(large) - 1)
    return small[large[at] == small]


def docnums(mask: np.ndarray) -> list[int]:
    """The document numbers a mask holds, in order."""
    return np.flatnonzero(mask).tolist()


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _frozen_all(found):
    """An array, or a tuple of arrays, made read-only."""
    return tuple(_frozen(a) for a in found) if isinstance(found, tuple) else _frozen(found)


def _naive(moment: datetime | None) -> datetime | None:
    """Dates are indexed without a time zone; the query parser gives UTC ones."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
