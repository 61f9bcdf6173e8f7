"""Per-segment arrays of the index, read fast and kept across searchers.

A Whoosh segment never changes once written (deletions are kept apart from it), so what is read from
one stays true for every later searcher that holds the segment. When an ingest adds a small segment,
the next searcher reads only that one; the large segments' columns, lengths and the posting lists of
recent terms are already here.

Columns are read in one slice of the segment file rather than one call per document: a variable-length
column (an ID field) becomes its distinct values and a code per document, a numeric column (a date) one
numpy array.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.reading import IndexReader

from .recent import Recent

SEGMENT_CACHE_BYTES = 256 * 1024 * 1024  # per-segment columns, lengths and posting lists kept, in all segments

Codes = tuple[list, np.ndarray]  # a column's distinct values, and each document's position among them


def nbytes(found) -> int:
    """The memory an array, a tuple of arrays or a list of values holds (lists and values estimated)."""
    if isinstance(found, tuple):
        return sum(nbytes(part) for part in found)
    if isinstance(found, np.ndarray):
        return found.nbytes
    return 64 * len(found) if isinstance(found, list) else 64


class SegmentArrays:
    """Arrays read from segments, by segment and name; shared by the searchers of one index."""

    def __init__(self, limit: int = SEGMENT_CACHE_BYTES) -> None:
        self._kept = Recent(limit, weigh=nbytes)

    def get(self, reader: IndexReader, key: Hashable, compute: Callable[[], object]):
        segment = reader.segment()
        if segment is None:  # not a segment's reader: nothing to share
            return compute()
        return self._kept.get_or_compute((segment.segment_id(), reader.doc_count_all(), key), compute)


def column_codes(reader: IndexReader, field: str, translate: bool = True) -> Codes:
    """The distinct values of a segment's column and each document's code among them."""
    count = reader.doc_count_all()
    raw = reader.column_reader(field, translate=False)
    convert = reader.schema[field].from_column_value if translate else (lambda value: value)
    positions: dict = {}
    if isinstance(raw, VarBytesColumn.Reader) and len(raw._lengths) == count:
        lengths = np.asarray(raw._lengths, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if count else lengths
        data = raw._dbfile.get(raw._basepos, int(lengths.sum()))
        items = (data[start : start + length] for start, length in zip(starts.tolist(), lengths.tolist(), strict=True))
        codes = np.fromiter((positions.setdefault(item, len(positions)) for item in items), np.int32, count)
    else:
        codes = np.fromiter((positions.setdefault(value, len(positions)) for value in raw), np.int32, count)
    return [convert(value) for value in positions], codes


def numeric_column(reader: IndexReader, field: str) -> np.ndarray:
    """A segment's numeric column (as stored: integers that sort like the values) as uint64."""
    count = reader.doc_count_all()
    raw = reader.column_reader(field, translate=False)
    if isinstance(raw, NumericColumn.Reader) and raw._typecode in ("q", "Q"):
        stored = min(raw._count, count)
        big_endian = ">i8" if raw._typecode == "q" else ">u8"
        values = np.frombuffer(raw._dbfile.get(raw._basepos, stored * 8), dtype=big_endian)
        padded = np.full(count, raw._default, dtype=np.uint64)
        padded[:stored] = values
    else:
        padded = np.fromiter((int(v) for v in raw), np.uint64, count)
    return padded


def length_bytes(reader: IndexReader, field: str) -> np.ndarray:
    """Each document's length byte in `field` (Whoosh's one-byte approximation), as its scorers read it."""
    count = reader.doc_count_all()
    # whoosh3's length bytes, as its own doc_field_length() reads them; none when no document has the field
    column = reader._perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
    if column is None:
        return np.zeros(count, dtype=np.uint8)
    if column._fixedlen == 1:  # one byte a document, written up to the last one with the field
        raw = column._dbfile.get(column._basepos, min(count, column._count))
        return np.frombuffer(raw.ljust(count, b"\0"), dtype=np.uint8)
    return np.fromiter((column[n] for n in range(count)), np.uint8, count)


def leaf_postings(reader: IndexReader, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A term's document numbers (in the segment) and weights, deleted documents included."""
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for block_ids, block_weights, _values in posting_blocks(reader.postings(field, btext), with_values=False):
        ids.append(np.asarray(block_ids, dtype=np.int64))
        weights.append(np.asarray(block_weights, dtype=np.float64))
    pair = (np.concatenate(ids), np.concatenate(weights)) if ids else (np.zeros(0, np.int64), np.zeros(0))
    for array in pair:
        array.flags.writeable = False
    return pair


def posting_blocks(matcher, with_values: bool) -> Iterator[tuple[Sequence, Sequence, Sequence]]:
    """A leaf matcher's postings as (ids, weights, values): whole blocks of Whoosh 3's codec (the
    pinned version) at a time, not one posting a call; one posting at a time from any other matcher.
    reader.postings() gives the leaf matcher unwrapped by deletions."""
    if hasattr(matcher, "_read_ids") and hasattr(matcher, "_next_block"):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            if with_values:
                matcher._read_values()
            yield matcher._ids, matcher._weights, matcher._values if with_values else ()
            matcher._next_block()
        return
    ids, weights, values = [], [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        if with_values:
            values.append(matcher.value())
        matcher.next()
    yield ids, weights, values
