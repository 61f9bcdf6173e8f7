"""Each segment's posting lists as flat arrays in a file beside it (`<segment id>.arrays`).

Whoosh keeps a posting list as pickled, zlib-compressed blocks that carry every posting's positions:
the first search for a common word spent hundreds of milliseconds unpickling them, and a phrase
seconds matching positions one Python call at a time. Here a term is found by a binary search over
sorted 64-bit keys, and its documents, weights and positions are slices of one memory map.

The file holds, for every term of the searched fields (the unique `id` and the `words` word list
left out):
- keys: the terms' 64-bit keys (a hash of field and term), sorted, and for each its postings' and
  positions' start;
- for fields with positions (title, body, author): each posting's document number and frequency,
  and its positions; the weight is the frequency times the field's boost, as Whoosh writes it;
- for the other fields: each posting's document number and weight.

A segment never changes once written, so neither does its file. Whoosh's clean-up deletes it with
its segment (the name has the segment's). A segment without a file (or with two terms of one key)
is read through Whoosh as before: the file only makes reading faster.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from whoosh.fields import Schema
from whoosh.reading import IndexReader, SegmentReader
from whoosh.writing import SegmentWriter

from .analysis import WORDS_FIELD
from .segments import posting_blocks

EXTENSION = ".arrays"
MAGIC = b"termarrays 1\n"
LOGGER = logging.getLogger(__name__)
_ALIGN = 8

Entry = tuple[str, bytes, object, object, object]  # field, term, documents, weights or frequencies, positions


def key(field: str, btext: bytes) -> int:
    """A term's key: 64 bits of a hash of its field and text."""
    digest = hashlib.blake2b(field.encode("utf-8") + b"\0" + btext, digest_size=8).digest()
    return int.from_bytes(digest, "little")


def kept_fields(schema: Schema) -> list[str]:
    """The fields whose posting lists searches read: all indexed ones but the unique id and the word list."""
    return [name for name, field in schema.items() if field.indexed and not field.unique and name != WORDS_FIELD]


def positional(schema: Schema, name: str) -> bool:
    return bool(schema[name].format.supports("positions"))


def write(path: Path, doc_count: int, schema: Schema, entries: Iterable[Entry]) -> bool:
    """Write the file of a segment of `doc_count` documents; False (and nothing written) if two terms
    share a key. Each entry: a positional field's term gives documents, frequencies and positions;
    any other, documents and weights."""
    keys: list[int] = []
    with_positions: list[tuple[int, object, object, object]] = []
    plain: list[tuple[int, object, object]] = []
    for field, btext, docs, values, places in entries:
        term = len(keys)
        keys.append(key(field, btext))
        if positional(schema, field):
            with_positions.append((term, docs, values, places))
        else:
            plain.append((term, docs, values))
    order = np.argsort(np.array(keys, dtype=np.uint64), kind="stable")
    sorted_keys = np.array(keys, dtype=np.uint64)[order]
    if len(sorted_keys) > 1 and bool((sorted_keys[1:] == sorted_keys[:-1]).any()):
        return False
    # For each term (in entry order): where its postings and positions start and stop.
    starts = np.zeros((len(keys), 4), dtype=np.uint64)
    docs_p, freqs, places, docs_w, weights = array("I"), array("I"), array("I"), array("I"), array("d")
    for term, docs, values, found in with_positions:
        starts[term] = (len(docs_p), len(docs_p) + len(docs), len(places), len(places) + len(found))
        docs_p.extend(docs)
        freqs.extend(values)
        places.extend(found)
    for term, docs, values in plain:
        starts[term, :2] = (len(docs_w), len(docs_w) + len(docs))
        docs_w.extend(docs)
        weights.extend(values)
    joined = {
        "keys": sorted_keys,
        "starts": starts[order],
        "docs": _narrow(np.frombuffer(docs_p, dtype=np.uint32), doc_count),
        "freqs": _narrow(np.frombuffer(freqs, dtype=np.uint32)),
        "positions": _narrow(np.frombuffer(places, dtype=np.uint32)),
        "plain_docs": _narrow(np.frombuffer(docs_w, dtype=np.uint32), doc_count),
        "weights": np.frombuffer(weights, dtype=np.float64).astype(np.float32),
    }
    header: dict = {"docs": doc_count, "sections": {}}
    offset = 0
    for name, section in joined.items():
        header["sections"][name] = [offset, section.dtype.str, list(section.shape)]
        offset += _aligned(section.nbytes)
    head = json.dumps(header).encode("utf-8")
    start = _aligned(len(MAGIC) + 4 + len(head))
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as out:
        out.write(MAGIC + len(head).to_bytes(4, "little") + head)
        out.write(b"\0" * (start - out.tell()))
        for section in joined.values():
            out.write(section.tobytes())
            out.write(b"\0" * (_aligned(section.nbytes) - section.nbytes))
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    return True


def _narrow(values: np.ndarray, bound: int | None = None) -> np.ndarray:
    """Unsigned integers of 16 bits where every value (or `bound`) fits, else 32."""
    top = bound if bound is not None else (int(values.max()) + 1 if len(values) else 0)
    return values.astype(np.uint16 if top <= 1 << 16 else np.uint32)


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


class TermArrays:
    """One segment's file, read through a memory map."""

    def __init__(self, data: mmap.mmap, schema: Schema) -> None:
        self._data = data
        self._schema = schema
        length = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "little")
        header = json.loads(data[len(MAGIC) + 4 : len(MAGIC) + 4 + length])
        base = _aligned(len(MAGIC) + 4 + length)
        self.doc_count = header["docs"]
        self._arrays = {
            name: _section(data, base + offset, np.dtype(dtype), shape)
            for name, (offset, dtype, shape) in header["sections"].items()
        }
        self._keys = self._arrays["keys"]

    @classmethod
    def open(cls, path: Path, schema: Schema, doc_count: int) -> TermArrays | None:
        """The file at `path`, or None when there is none or it is not this segment's."""
        try:
            with open(path, "rb") as f:
                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        if not data[: len(MAGIC)] == MAGIC:
            return None
        arrays = cls(data, schema)
        return arrays if arrays.doc_count == doc_count else None

    def _find(self, field: str, btext: bytes) -> np.ndarray | None:
        wanted = np.uint64(key(field, btext))
        at = int(np.searchsorted(self._keys, wanted))
        if at == len(self._keys) or self._keys[at] != wanted:
            return None
        return self._arrays["starts"][at]

    def postings(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
        """A term's document numbers and weights (as Whoosh's postings hold them)."""
        found = self._find(field, btext)
        if found is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        start, stop = int(found[0]), int(found[1])
        if positional(self._schema, field):
            boost = self._schema[field].format.field_boost
            docs = self._arrays["docs"][start:stop]
            weights = self._arrays["freqs"][start:stop] * np.float64(boost)
        else:
            docs = self._arrays["plain_docs"][start:stop]
            weights = self._arrays["weights"][start:stop].astype(np.float64)
        return docs.astype(np.int64), weights

    def phrase_keys(self, field: str, btext: bytes, place: int) -> np.ndarray:
        """For a word at `place` in a phrase: (document, position less `place`) of each occurrence,
        as one ascending integer a document's phrase shares across its words (`key >> position_bits`
        is the document). In 32 bits when the segment's documents and positions fit 16 each."""
        found = self._find(field, btext)
        if found is None or not positional(self._schema, field):
            return np.zeros(0, dtype=np.uint64)
        start, stop, first, last = (int(v) for v in found)
        positions = self._arrays["positions"][first:last]
        narrow = self.position_bits == 16 and self._arrays["docs"].dtype == np.uint16
        kind = np.uint32 if narrow else np.uint64
        docs = np.repeat(self._arrays["docs"][start:stop].astype(kind), self._arrays["freqs"][start:stop])
        keys = (docs << kind(self.position_bits)) | positions.astype(kind)
        return keys[positions >= place] - kind(place)

    @property
    def position_bits(self) -> int:
        return 16 if self._arrays["positions"].dtype == np.uint16 else 32


def _section(data: mmap.mmap, offset: int, dtype: np.dtype, shape: list[int]) -> np.ndarray:
    count = int(np.prod(shape))
    if not count:
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)


def for_reader(reader: IndexReader) -> TermArrays | None:
    """The file of a segment reader's segment, if it has one."""
    segment = reader.segment()
    storage = reader.storage()
    storage = getattr(storage, "b", storage)  # a compound segment's overlay: the folder beneath
    folder = getattr(storage, "folder", None)
    if segment is None or folder is None:
        return None
    return TermArrays.open(path_for(Path(folder), segment.segment_id()), reader.schema, reader.doc_count_all())


# -- segments written by Whoosh's own writer ---------------------------------------------------------


def read_entries(reader: IndexReader) -> Iterator[Entry]:
    """Every kept term of one segment, read through Whoosh a block of postings at a time (deleted
    documents included)."""
    schema = reader.schema
    for name in kept_fields(schema):
        decode = schema[name].format.decode_positions if positional(schema, name) else None
        for btext, matcher in _term_matchers(reader, name):
            docs: list[int] = []
            values: list = []
            places: list[int] = []
            for ids, weights, encoded in posting_blocks(matcher, decode is not None):
                docs += ids
                if decode is None:
                    values += weights
                    continue
                for value in encoded:
                    found = decode(value)
                    values.append(len(found))
                    places += found
            yield name, btext, docs, values, places if decode is not None else None


def _term_matchers(reader: IndexReader, name: str) -> Iterator[tuple[bytes, object]]:
    """Each term of a field, in order, with its postings' matcher: from Whoosh 3's term table read in
    order (the pinned version's), rather than a lookup in its hash table per term."""
    terms = getattr(reader, "_terms", None)
    if terms is None or not hasattr(terms, "items_from") or not hasattr(terms, "_postfile"):
        yield from ((btext, reader.postings(name, btext)) for btext in reader.lexicon(name))
        return
    format_ = reader.schema[name].format
    for (field, btext), terminfo in terms.items_from(name, b""):
        if field != name:
            break
        yield btext, reader._codec.postings_reader(terms._postfile, terminfo, format_, term=(name, btext))


def path_for(folder: Path, segment_id: str) -> Path:
    return folder / f"{segment_id}{EXTENSION}"


def add_missing(storage, schema: Schema, segments: Iterable) -> int:
    """Write the file of each segment (of the folder storage `storage`) that lacks one; how many were
    written. A failure is logged, not raised: searches read a segment without its file through Whoosh."""
    written = 0
    for segment in segments:
        path = path_for(Path(storage.folder), segment.segment_id())
        if path.exists():
            continue
        try:
            reader = SegmentReader(storage, schema, segment)
            try:
                written += write(path, reader.doc_count_all(), schema, read_entries(reader))
            finally:
                reader.close()
        except (OSError, ValueError) as error:
            LOGGER.warning("no term arrays for segment %s: %s", segment.segment_id(), error)
    return written


class ArraysWriter(SegmentWriter):
    """Whoosh's index writer, which also writes the term arrays of the segment it commits (new
    documents, merged segments) before the table of contents lists it."""

    def _commit_toc(self, segments) -> None:
        add_missing(self.storage, self.schema, segments)
        super()._commit_toc(segments)
