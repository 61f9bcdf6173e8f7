"""Term arrays: each segment's posting lists in a file beside it hold what Whoosh's postings hold,
whichever writer wrote the segment; phrases matched over them find and score what Whoosh's phrase
matcher does; and every commit leaves each segment with its file."""

from __future__ import annotations

import random

import numpy as np
import pytest
from whoosh.query import Or, Phrase

from archive import ranking, termarrays
from archive.analysis import TEXT_ANALYZER
from archive.columns import SearcherCache
from archive.index import article_to_document, create_index
from archive.models import SearchQuery
from archive.service import Archive
from archive.termarrays import ArraysWriter
from tests.test_bulkwriter import built_index, corpus


def whoosh_postings(reader, field: str, btext: bytes) -> tuple[list, list, list]:
    matcher = reader.postings(field, btext)
    docs, weights, places = [], [], []
    while matcher.is_active():
        docs.append(matcher.id())
        weights.append(matcher.weight())
        if reader.schema[field].format.supports("positions"):
            places += [(matcher.id(), p) for p in matcher.value_as("positions")]
        matcher.next()
    return docs, weights, places


def assert_arrays_hold_the_postings(ix) -> int:
    """Every kept term of every segment, read from its arrays, is what Whoosh reads; the terms checked."""
    checked = 0
    with ix.reader() as reader:
        for leaf, _offset in reader.leaf_readers():
            arrays = termarrays.for_reader(leaf)
            assert arrays is not None, leaf.segment()
            for field in termarrays.kept_fields(ix.schema):
                for btext in leaf.lexicon(field):
                    docs, weights, places = whoosh_postings(leaf, field, btext)
                    got_docs, got_weights = arrays.postings(field, btext)
                    assert got_docs.tolist() == docs, (field, btext)
                    assert got_weights.tolist() == pytest.approx(weights), (field, btext)
                    keys = arrays.phrase_keys(field, btext, 0).astype(np.int64)
                    bits = arrays.position_bits
                    pairs = list(zip((keys >> bits).tolist(), (keys & ((1 << bits) - 1)).tolist(), strict=True))
                    assert pairs == places, (field, btext)
                    checked += 1
            assert arrays.postings("body", b"no-such-term")[0].size == 0
    return checked


def whoosh_written(folder):
    """The test corpus in one segment of Whoosh's writer (ours, which adds the arrays at commit)."""
    folder.mkdir()
    ix = create_index(folder)
    writer = ArraysWriter(ix)
    for article in corpus():
        writer.add_document(**article_to_document(article))
    writer.commit()
    return ix


@pytest.mark.parametrize("whoosh", [True, False], ids=["whoosh's writer", "bulk builder"])
def test_arrays_hold_every_posting_whichever_writer_wrote_the_segment(tmp_path, whoosh):
    ix = whoosh_written(tmp_path / "ix") if whoosh else built_index(tmp_path, "built", whoosh=False)
    assert assert_arrays_hold_the_postings(ix) > 1000


def phrases(texts: list[str], count: int, rnd: random.Random) -> list[list[str]]:
    """Runs of two to four analysed words as they stand in the texts (so most match), and some shuffled."""
    found = []
    for _ in range(count):
        words = [t.text for t in TEXT_ANALYZER(rnd.choice(texts))]
        if len(words) < 2:
            continue
        size = rnd.randint(2, min(4, len(words)))
        start = rnd.randrange(len(words) - size + 1)
        run = words[start : start + size]
        if rnd.random() < 0.2:
            rnd.shuffle(run)
        found.append(run)
    return found


def assert_phrases_as_whoosh(arch: Archive, queries) -> int:
    """Each phrase query matches and scores over the arrays as Whoosh does; how many matched something."""
    matched = 0
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        for query in queries:
            expected_mask, expected_scores = cache.whoosh_scored(query)
            mask = cache.matching(query)
            assert np.array_equal(mask, expected_mask), query
            scores = ranking.scores(cache, query)
            assert np.allclose(scores[mask], expected_scores[mask]), query
            matched += bool(mask.any())
    return matched


def test_phrases_match_and_score_as_whooshs_phrase_matcher(tmp_path):
    articles = corpus()
    articles[30].body = "child child child safety child child"  # a word repeated in the phrase
    articles[31].title = "Online safety online safety"
    with Archive(tmp_path / "data") as arch:
        arch.import_articles(iter(articles[:150]), procs=2)  # a built segment
        arch.import_articles(iter(articles[150:]), procs=1)  # one Whoosh's writer wrote
        arch.delete(articles[40].id, "editor")  # deleted documents never match
        rnd = random.Random(7)
        runs = phrases([a.body for a in articles] + [a.title for a in articles], 150, rnd)
        runs += [["child", "child"], ["child", "child", "child"], ["onlin", "safeti"], ["no-such", "word"]]
        queries = [Phrase(field, run) for run in runs for field in ("body", "title")]
        queries.append(Or([Phrase("title", ["onlin", "safeti"]), Phrase("body", ["onlin", "safeti"], boost=2.0)]))
        with arch.index.searcher() as searcher:
            assert all(termarrays.for_reader(leaf) for leaf, _ in searcher.reader().leaf_readers())
            assert len(searcher.reader().leaf_readers()) >= 2
        assert assert_phrases_as_whoosh(arch, queries) > 100


def test_a_phrase_search_gives_what_it_gave_without_arrays(tmp_path):
    articles = corpus()
    with Archive(tmp_path / "data") as arch:
        arch.import_articles(iter(articles), procs=2)
        requests = [SearchQuery(q=q, per_page=50) for q in ('"online safety"', 'title:"child" "police said"')]
        with_arrays = [arch.search(r) for r in requests]
        for path in arch.config.index_dir.rglob(f"*{termarrays.EXTENSION}"):
            path.unlink()
    with Archive(tmp_path / "data") as arch:
        without = [arch.search(r) for r in requests]
        with arch.index.searcher() as searcher:
            assert not any(termarrays.for_reader(leaf) for leaf, _ in searcher.reader().leaf_readers())
    for got, expected in zip(with_arrays, without, strict=True):
        assert (got.total, [h.id for h in got.hits], got.facets) == (expected.total, [h.id for h in expected.hits],
                                                                       expected.facets)  # fmt: skip
    assert with_arrays[0].total > 0


def segment_files(arch: Archive) -> tuple[set[str], set[str]]:
    """The segments the index lists, and those with a term arrays file."""
    with arch.index.searcher() as searcher:
        listed = {leaf.segment().segment_id() for leaf, _ in searcher.reader().leaf_readers()}
    files = {p.name.removesuffix(termarrays.EXTENSION) for p in arch.config.index_dir.rglob(f"*{termarrays.EXTENSION}")}
    return listed, files


def test_every_commit_leaves_each_segment_with_its_arrays_and_removes_those_of_merged_ones(tmp_path):
    articles = corpus()
    with Archive(tmp_path / "data") as arch:
        arch.import_articles(iter(articles[:100]), procs=2)
        for article in articles[100:112]:  # one at a time: small segments, merged by Whoosh as it goes
            arch.add(article)
        listed, files = segment_files(arch)
        assert listed == files and len(listed) >= 2
        before = arch.search(SearchQuery(q='"online safety"', per_page=100))
        arch.index.optimize()
        listed, files = segment_files(arch)
        assert listed == files and len(listed) == 1
        after = arch.search(SearchQuery(q='"online safety"', per_page=100))
        assert {h.id for h in after.hits} == {h.id for h in before.hits} and after.total == before.total > 0


def test_a_rebuilt_index_has_arrays_for_every_segment(tmp_path):
    with Archive(tmp_path / "data") as arch:
        arch.import_articles(iter(corpus()), procs=1)
        arch.reindex()
        listed, files = segment_files(arch)
        assert listed == files
        with arch.index.searcher() as searcher:
            assert searcher.doc_count() == 300


def test_two_terms_of_one_key_leave_the_segment_without_arrays(tmp_path, monkeypatch):
    monkeypatch.setattr(termarrays, "key", lambda field, btext: 42)
    ix = built_index(tmp_path, "built", whoosh=False)
    with ix.reader() as reader:
        assert all(termarrays.for_reader(leaf) is None for leaf, _ in reader.leaf_readers())
        assert reader.doc_count() == 300
