"""Whole index segments built from documents held in memory: the writer of bulk imports.

Whoosh's own writer sends every posting through a pool that pickles it to a run file and merges the
runs back, one Python call per posting at each step: most of an import's time. A SegmentBuilder keeps
its segment's postings in memory, grouped by term as they arrive, reads the title and body a whole
text at a time (analysis.term_positions, which also gives the words of the `words` field) and writes
each posting list a block at a time through Whoosh's codec, and the segment's term arrays beside it
(termarrays.py) from the same postings. A ParallelWriter hands batches of
SEGMENT_DOCS documents to worker processes, each returning one finished segment, and commits them
all at once. tests/test_bulkwriter.py holds what they write to what Whoosh's writer writes.
"""

from __future__ import annotations

import gc
import os
from array import array
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from pickle import dumps

from whoosh.codec.base import Segment
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.formats import Positions
from whoosh.index import FileIndex
from whoosh.system import pack_uint, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from . import termarrays
from .analysis import WORDS_FIELD, term_positions
from .mapped import SharedFileStorage
from .workers import worker_pool

SEGMENT_DOCS = 10_000  # documents per built segment: about 300 MB of postings in its worker
LOCAL_DOCS = 2_000  # fewer documents than this, all told, are built in the writer's own process
POSITION_FIELDS = ("body", "title")  # TEXT fields read by analysis.term_positions
_ONE = pack_uint(1)  # a frequency of one, the value of every posting of the words field


class SegmentBuilder(SegmentWriter):
    """A writer of one new segment whose postings stay in memory until it is finished; for adding
    documents only (no deletions, merges or boosts)."""

    def __init__(self, ix: FileIndex, **kwargs) -> None:
        super().__init__(ix, **kwargs)
        # field -> term -> [document number, weight, encoded value, ...] in the order added (one flat
        # list per term: the least work per posting); terms as text for the fields read here, as
        # bytes for those Whoosh reads
        self.postings: dict[str, dict[str | bytes, list]] = defaultdict(dict)
        self.words: dict[str, list[int]] = {}  # the words field: word -> document numbers
        self.lengths: dict[str, dict[int, int]] = defaultdict(dict)  # field -> docnum -> length as stored
        # field -> term -> the positions of each of its postings, one after another (for termarrays)
        self.places: dict[str, dict[str, array]] = defaultdict(dict)
        for name in POSITION_FIELDS:
            if name in self.schema and not isinstance(self.schema[name].format, Positions):
                raise ValueError(f"the bulk writer reads {name!r} as a field with positions")

    def add_document(self, **fields) -> None:
        self._check_state()
        schema = self.schema
        perdoc = self.perdocwriter
        docnum = self.docnum
        words: set[str] | None = set() if WORDS_FIELD in schema and WORDS_FIELD not in fields else None
        perdoc.start_doc(docnum)
        for name in sorted(fields):
            if name.startswith("_"):
                raise ValueError(f"the bulk writer takes no boosts or custom values ({name!r})")
            value = fields[name]
            if value is None:
                continue
            field = schema[name]
            length = 0
            if field.indexed:
                if name in POSITION_FIELDS:
                    length = self._add_positions(name, field, term_positions(value, words))
                else:
                    length = self._add_items(name, field, field.index(value))
            perdoc.add_field(name, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        if words is not None:
            self._add_words(words)
            perdoc.add_field(WORDS_FIELD, schema[WORDS_FIELD], None, 0)
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_positions(self, name: str, field, positions: dict[str, list[int]]) -> int:
        """Postings as Whoosh's Positions format encodes them: the count, then the pickled gaps."""
        boost = field.format.field_boost
        docnum, table, length = self.docnum, self.postings[name], 0
        get, kept = table.get, self.places[name]
        for term, places in positions.items():
            count = len(places)
            length += count
            first = places[0]
            if count == 1 and first < _SINGLES:
                value = _SINGLE_POSITIONS[first]
            else:
                gaps = [first] + [b - a for a, b in zip(places, places[1:], strict=False)]
                value = pack_uint(count) + dumps(gaps, 2)
            postings = get(term)
            if postings is None:
                table[term] = [docnum, count * boost, value]
                kept[term] = array("I", places)
            else:
                postings += (docnum, count * boost, value)
                kept[term].fromlist(places)
        return self._record_length(name, field, length)

    def _add_words(self, words: set[str]) -> None:
        """The words field: every posting has a frequency of one, so only its documents are kept."""
        docnum, table = self.docnum, self.words
        get = table.get
        for word in words:
            docs = get(word)
            if docs is None:
                table[word] = [docnum]
            else:
                docs.append(docnum)

    def _add_items(self, name: str, field, items) -> int:
        docnum, table, length = self.docnum, self.postings[name], 0
        for btext, freq, weight, vbytes in items:
            length += freq
            postings = table.get(btext)
            if postings is None:
                table[btext] = [docnum, weight, vbytes]
            else:
                postings += (docnum, weight, vbytes)
        return self._record_length(name, field, length)

    def _record_length(self, name: str, field, length: int) -> int:
        if not field.scorable:
            return 0
        if length:  # as a reader gives it back: one byte per document
            self.lengths[name][self.docnum] = byte_to_length(length_to_byte(length))
        return length

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        write_postings(self.fieldwriter, self.schema, self.postings, self.words, self.lengths)
        self.words = {}
        self.fieldwriter.close()

    def _array_entries(self) -> Iterator[termarrays.Entry]:
        """The segment's posting lists as termarrays writes them."""
        schema = self.schema
        for name in termarrays.kept_fields(schema):
            table = self.postings.get(name, {})
            field = schema[name]
            if name in POSITION_FIELDS:
                boost, places = field.format.field_boost, self.places[name]
                for term, flat in table.items():
                    yield name, term.encode("utf-8"), flat[0::3], [round(w / boost) for w in flat[1::3]], places[term]
            elif termarrays.positional(schema, name):
                for btext, flat in table.items():
                    found = [field.format.decode_positions(value) for value in flat[2::3]]
                    yield name, btext, flat[0::3], [len(p) for p in found], [n for p in found for n in p]
            else:
                for btext, flat in table.items():
                    yield name, btext, flat[0::3], flat[1::3], None

    def finish(self) -> Segment:
        """Write the segment out and return it, for a writer holding the index lock to commit."""
        self._check_state()
        try:
            segment = self._finalize_segment()
            path = termarrays.path_for(Path(self.storage.folder), segment.segment_id())
            termarrays.write(path, self.docnum, self.schema, self._array_entries())
        except BaseException:
            self.cancel()
            raise
        self.postings, self.places = defaultdict(dict), defaultdict(dict)
        self._finish()
        return segment


_SINGLES = 4096  # the value of a term found once, at each of the first positions, made once
_SINGLE_POSITIONS = [pack_uint(1) + dumps([position], 2) for position in range(_SINGLES)]


def write_postings(fieldwriter, schema, postings: dict, words: dict, lengths: dict[str, dict[int, int]]) -> None:
    """Each posting list in field and term order, a block at a time: what W3FieldWriter.add and
    W3PostingsWriter.add_posting do one posting at a time, with the same block statistics (Whoosh
    is pinned to one version for this). Terms sort as their UTF-8 bytes do."""
    fields = {name: _listed(table) for name, table in postings.items()}
    if words:
        fields[WORDS_FIELD] = _listed_words(words, schema[WORDS_FIELD].format.field_boost)
    for name in sorted(fields):
        fieldwriter.start_field(name, schema[name])
        writer = fieldwriter._postwriter
        field_lengths = lengths.get(name)
        valueless = fieldwriter._format.fixed_value_size() == 0
        for btext, listed in fields[name]:
            _write_term(fieldwriter, writer, btext, listed, writer._blocklimit, field_lengths, valueless)
        fieldwriter.finish_field()


def _listed(table: dict) -> Iterator[tuple[bytes, tuple]]:
    """Each term's (documents, weights, values), from its flat list, in term order."""
    for term in sorted(table):
        flat = table[term]  # document, weight, value, document, ...
        btext = term if isinstance(term, bytes) else term.encode("utf-8")
        yield btext, (array("I", flat[0::3]), array("f", flat[1::3]), flat[2::3])


def _listed_words(words: dict[str, list[int]], boost: float) -> Iterator[tuple[bytes, tuple]]:
    for word in sorted(words):
        docs = words[word]
        yield word.encode("utf-8"), (docs, array("f", [boost]) * len(docs), [_ONE] * len(docs))


def _write_term(fieldwriter, writer, btext: bytes, postings: tuple, limit: int, field_lengths, valueless: bool):
    docs, weights, values = postings
    fieldwriter._btext = btext
    writer.start_postings(fieldwriter._format, W3TermInfo())
    total = len(docs)
    for start in range(0, total, limit):
        end = min(start + limit, total)
        block_docs = docs[start:end]
        writer._ids = block_docs
        writer._weights = weights[start:end]
        writer._values = [] if valueless else values[start:end]
        writer._maxweight = max(writer._weights)
        if field_lengths:
            block_lengths = [field_lengths[d] for d in block_docs]
            writer._minlength, writer._maxlength = min(block_lengths), max(block_lengths)
        writer._write_block(last=end == total)
    terminfo = writer._terminfo
    terminfo.set_extent(writer._startoffset, writer._postfile.tell() - writer._startoffset)
    writer._terminfo = None
    fieldwriter._tindex.add(pack_ushort(fieldwriter._fieldid) + btext, terminfo.to_bytes())


class _OwnTempStorage(SharedFileStorage):
    """The index folder, with temporary files in a folder of this writer's own: Whoosh's writers share
    one, which the first of them to finish removes under the others' feet."""

    def temp_storage(self, name=None):
        return super().temp_storage(f"{name or 'temp'}.{os.getpid()}-{id(self)}")


def build_segment(folder: str, indexname: str, documents: list[dict]) -> Segment:
    """One finished segment of `documents` in the index at `folder` (run in a worker process)."""
    ix = _OwnTempStorage(folder).open_index(indexname)
    builder = SegmentBuilder(ix, _lk=False)
    collecting = gc.isenabled()
    gc.disable()  # millions of small lists, none of them cyclic: a collection would walk them all
    try:
        for document in documents:
            builder.add_document(**document)
        return builder.finish()
    except BaseException:
        if not builder.is_closed:
            builder.cancel()
        raise
    finally:
        if collecting:
            gc.enable()


class ParallelWriter(termarrays.ArraysWriter):
    """The index writer of bulk imports and rebuilds: it holds the lock and does deletions itself, and
    has added documents built into segments of up to SEGMENT_DOCS by `procs` worker processes (with
    one, or fewer than LOCAL_DOCS in all, they are built in this process). The segments join the index
    at commit, unmerged, each with its term arrays (termarrays.py)."""

    derives_words = True  # documents may leave out the words field: the builders derive it

    def __init__(self, ix: FileIndex, procs: int, segment_docs: int = SEGMENT_DOCS, **kwargs) -> None:
        super().__init__(ix, **kwargs)
        self.procs = procs
        self.segment_docs = segment_docs
        self.documents: list[dict] = []
        self.workers: ProcessPoolExecutor | None = None
        self.building: list[Future] = []
        self.built: list[Segment] = []

    def add_document(self, **fields) -> None:
        self._check_state()
        self.documents.append(fields)
        if len(self.documents) >= self.segment_docs:
            documents, self.documents = self.documents, []
            self._hand_out(documents)

    def _hand_out(self, documents: list[dict]) -> None:
        if self.procs <= 1:  # one process: built here
            self.built.append(build_segment(self.storage.folder, self.indexname, documents))
            return
        if self.workers is None:
            self.workers = worker_pool(self.procs)
        while len(self.building) >= self.procs:  # at most one batch waiting per worker
            self.built.append(self.building.pop(0).result())
        self.building.append(self.workers.submit(build_segment, self.storage.folder, self.indexname, documents))

    def commit(self, mergetype=None, optimize=None, merge=None) -> None:
        self._check_state()
        try:
            documents, self.documents = self.documents, []
            if self.workers is None and len(documents) < LOCAL_DOCS:
                if documents:
                    self.built.append(build_segment(self.storage.folder, self.indexname, documents))
            elif documents:  # the rest shared among the workers
                share = -(-len(documents) // self.procs)
                for start in range(0, len(documents), share):
                    self._hand_out(documents[start : start + share])
            self.built.extend(future.result() for future in self.building)
            self.building = []
            segments = self._merge_segments(mergetype, optimize, merge)
            if self._added:
                segments.append(self._finalize_segment())
            else:
                self._close_segment()
            self._commit_toc(segments + self.built)
        except BaseException:
            self._stop_workers()
            self._cleanup_on_error()
            raise
        self._stop_workers()
        self._finish()

    def cancel(self) -> None:
        self._stop_workers()
        super().cancel()

    def _stop_workers(self) -> None:
        if self.workers is not None:
            self.workers.shutdown(wait=True, cancel_futures=True)
            self.workers = None
