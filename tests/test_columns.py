"""Per-searcher caches: columns aligned with document numbers, set algebra that agrees with Whoosh,
deletions respected, and nothing stale once the index changes."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from archive.columns import SearcherCache, docnums, intersect
from archive.models import Article, SearchQuery, TopicScore
from archive.service import Archive
from ingest.dedup import fingerprint

BODIES = [
    ("Police arrest suspects", "Police arrested suspects in a grooming case.", "2019-03-01", ["law_enforcement"]),
    ("Helpline advice", "A charity helpline gave parents advice about grooming.", None, ["prevention"]),
    ("Safety bill", "The online safety bill passed; police welcomed it.", "2021-07-09", ["policy", "law_enforcement"]),
    ("Platform report", "The platform removed accounts and reported them to police.", "2022-01-15", []),
    ("Encryption debate", "Encryption and grooming detection divided ministers.", "2020-05-05", ["policy"]),
]  # fmt: skip


@pytest.fixture
def arch(tmp_path):
    arch = Archive(tmp_path / "data")
    for title, body, date, topics in BODIES:  # one commit each: one segment each, some without a date column
        scores = [TopicScore(t, 0.9 - i / 10, True) for i, t in enumerate(topics)]
        arch.add(Article(title=title, body=body, published=date, fingerprint=fingerprint(body), scores=scores))
    yield arch
    arch.close()


def whoosh_docs(searcher, query) -> set[int]:
    return set(searcher.docs_for_query(query))


@pytest.mark.parametrize(
    "text",
    [
        "police",
        "police grooming",
        "police OR helpline",
        "grooming NOT police",
        "grooming -encryption",
        "(police OR charity) AND grooming",
        "groom*",
        "polise~",
        '"online safety"',
        "title:bill OR body:accounts",
        "NOT police",
        "topic:policy",
        "date:[2020 to 2021]",
    ],
)
def test_matching_agrees_with_whoosh(arch, text):
    query = arch._engine.parse(text)
    with arch.index.searcher() as searcher:
        assert set(docnums(SearcherCache(searcher).matching(query))) == whoosh_docs(searcher, query)


def test_columns_line_up_with_documents_across_segments(arch):
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        assert len(searcher.reader().leaf_readers()) > 1
        titles = {n: searcher.stored_fields(n)["title"] for n in docnums(cache.live())}
        dated = cache.column("dated")
        months = cache.column("month_topic")
        for n, title in titles.items():
            expected = next(b for b in BODIES if b[0] == title)
            assert dated[n] == ("1" if expected[2] else "0")
            assert months[n] == (f"{expected[2][:7]}:{(expected[3] or ['none'])[0]}" if expected[2] else "")


def test_date_range_reads_the_date_column(arch):
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        found = cache.date_range(datetime(2020, 1, 1), datetime(2021, 12, 31, 23, 59, 59))
        assert {searcher.stored_fields(n)["title"] for n in docnums(found)} == {"Safety bill", "Encryption debate"}
        before = cache.date_range(None, datetime(2019, 12, 31))
        assert {searcher.stored_fields(n)["title"] for n in docnums(before)} == {"Police arrest suspects"}


def test_deleted_documents_never_match(arch):
    victim = arch.search(SearchQuery(q="helpline")).hits[0].id
    arch.index.delete([victim])
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        grooming = arch._engine.parse("grooming")
        assert set(docnums(cache.matching(grooming))) == whoosh_docs(searcher, grooming)
        assert cache.live().sum() == 4
    assert arch.search(SearchQuery(q="grooming")).total == 2


def test_counts_split_multi_valued_fields(arch):
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        counts = cache.count("topics", cache.live(), separator=",")
        assert counts["law_enforcement"] == 2 and counts["policy"] == 2 and counts["prevention"] == 1


def test_a_cached_result_is_not_served_after_the_index_changes(arch):
    before = arch.search(SearchQuery(q="grooming"))
    again = arch.search(SearchQuery(q="grooming"))
    assert again.total == before.total == 3
    body = "Another grooming report from the courts."
    arch.add(Article(title="Court report", body=body, fingerprint=fingerprint(body)))
    after = arch.search(SearchQuery(q="grooming"))
    assert after.total == 4
    assert "Court report" in {h.title for h in after.hits}


def test_intersect_leaves_its_inputs_alone():
    a, b = np.array([0, 1, 1, 1, 0], dtype=bool), np.array([0, 0, 1, 1, 1], dtype=bool)
    assert docnums(intersect([a, b])) == [2, 3]
    assert docnums(a) == [1, 2, 3] and docnums(b) == [2, 3, 4]


def test_cached_masks_cannot_be_changed_by_a_caller(arch):
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        mask = cache.term("body", "polic")
        with pytest.raises(ValueError):
            mask[0] = not mask[0]
        assert cache.term("body", "polic") is mask


def test_a_prefix_that_expands_to_nothing_matches_nothing(arch):
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        found = cache.matching(arch._engine.parse("zzqx*"))
        assert len(found) == cache.size and not found.any()


def test_a_snippet_is_highlighted_once_while_it_is_recent(arch):
    calls = []
    with arch.index.searcher() as searcher:
        cache = SearcherCache(searcher)
        for _ in range(3):
            found = cache.snippet((0, "query"), lambda: calls.append(1) or ("<mark>x</mark>", "t"))
        assert found == ("<mark>x</mark>", "t") and len(calls) == 1
    paged = [arch.search(SearchQuery(q="grooming", per_page=n)).hits for n in (1, 3)]
    assert paged[0][0] == paged[1][0]  # the same hit, highlighted the same, from the second page size's cache


def test_a_new_searcher_reads_only_the_segments_it_has_not_seen(arch, monkeypatch):
    """Per-segment columns, dates, lengths and postings outlive a searcher; what they give after a
    new segment and a delete is what a cache reading everything afresh gives."""
    import archive.columns as columns
    from archive.index import article_to_document
    from archive.segments import SegmentArrays

    shared = SegmentArrays()
    with arch.index.searcher() as searcher:
        before = SearcherCache(searcher, shared)
        before.codes("topics"), before.dates(), before.lengths("body"), before.postings("body", "polic")
        old_segments = {reader.segment().segment_id() for reader, _ in searcher.reader().leaf_readers()}
    body = "Police in another force warned parents about grooming on games."
    writer = arch.index.ix.writer()
    writer.add_document(
        **article_to_document(
            Article(
                id="new1",
                title="Games warning",
                body=body,
                published="2023-02-02",
                fingerprint=fingerprint(body),
                scores=[TopicScore("prevention", 0.8, True)],
            )
        )
    )
    writer.delete_by_term("id", arch.search(SearchQuery(q="helpline")).hits[0].id)
    writer.commit(merge=False)  # a segment of its own beside the old ones

    reads = []
    for name in ("column_codes", "numeric_column", "length_bytes", "leaf_postings"):
        real = getattr(columns, name)
        monkeypatch.setattr(
            columns, name, lambda reader, *args, _real=real, _name=name: reads.append(_name) or _real(reader, *args)
        )
    with arch.index.searcher() as searcher:
        new_segments = {reader.segment().segment_id() for reader, _ in searcher.reader().leaf_readers()} - old_segments
        assert len(new_segments) == 1
        answers = []
        for cache in (SearcherCache(searcher, shared), SearcherCache(searcher)):
            reads.clear()
            values, codes = cache.codes("topics")
            dated, dates = cache.dates()
            ids, weights = cache.postings("body", "polic")
            answers.append(
                (
                    [values[c] for c in codes],
                    dated.tolist(),
                    dates.tolist(),
                    cache.lengths("body").tolist(),
                    ids.tolist(),
                    weights.tolist(),
                    docnums(cache.term("body", "polic")),
                )
            )
            answers[-1] += (sorted(reads),)
        kept, fresh = answers
        assert kept[:-1] == fresh[:-1]
        assert kept[-1] == [
            "column_codes",
            "column_codes",
            "leaf_postings",
            "length_bytes",
            "numeric_column",
        ]  # the new segment
        assert len(fresh[-1]) > len(kept[-1])  # read from every segment
        assert set(kept[-2]) == whoosh_docs(searcher, arch._engine.parse("police"))
