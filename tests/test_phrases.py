"""Phrases asked of the word-pair fields find exactly the documents Whoosh's phrase matching finds."""

from __future__ import annotations

import pytest
from whoosh.query import And, Phrase, Term

from archive.columns import SearcherCache, docnums
from archive.index import TEXT_ANALYZER
from archive.models import Article, SearchQuery
from archive.phrases import CheckedPhrase, PairsAnalyzer, phrases_as_pairs
from archive.service import Archive
from ingest.dedup import fingerprint

TEXTS = [
    ("Online safety bill", "The online safety bill passed. Safety online is a duty of care for platforms."),
    ("Safety first", "Online, the safety of children matters; the bill is about online harms."),
    ("Duty of care", "Ministers set out a duty of care. Care about duty came later."),
    ("Child sexual abuse material", "Detection of child sexual abuse material rose in 2024."),
    (
        "Abuse reports",
        "Child sexual exploitation and abuse material were reported apart: sexual abuse, child material.",
    ),
    ("Online", "Safety. Online safety groups met; online safety online safety."),
]
PHRASES = [
    '"online safety"',
    '"safety online"',
    '"duty of care"',
    '"child sexual abuse material"',
    '"sexual abuse material"',
    '"abuse material"',
    'title:"online safety"',
    '"online safety" bill',
    '"online safety" OR "duty of care"',
    '"online safety" -bill',
    '"online harms"',
    '"nothing like this"',
]


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    arch = Archive(tmp_path_factory.mktemp("phrases") / "data")
    for title, body in TEXTS:
        arch.add(Article(title=title, body=body, fingerprint=fingerprint(body)))
    yield arch
    arch.close()


@pytest.mark.parametrize("text", PHRASES)
def test_pairs_find_what_whoosh_phrases_find(arch, text):
    query = arch._engine.parse(text)
    with arch.index.searcher() as searcher:
        ours = set(docnums(SearcherCache(searcher).matching(phrases_as_pairs(query))))
        assert ours == set(searcher.docs_for_query(query))


def test_short_phrases_become_one_term_and_long_ones_are_checked():
    two = phrases_as_pairs(Phrase("body", ["onlin", "safeti"]))
    assert two == Term("pairs", "onlin safeti")
    four = phrases_as_pairs(Phrase("title", ["child", "sexual", "abus", "materi"]))
    assert isinstance(four, And)
    assert [q for q in four.subqueries if isinstance(q, Term)] == [
        Term("title_pairs", "child sexual"),
        Term("title_pairs", "sexual abus"),
        Term("title_pairs", "abus materi"),
    ]
    assert any(isinstance(q, CheckedPhrase) for q in four.subqueries)
    loose = Phrase("body", ["onlin", "safeti"], slop=3)
    assert phrases_as_pairs(loose) == loose


def test_pairs_analyzer_gives_the_same_pairs_without_remembered_stems():
    text = "The Online Safety Act: a duty of care, enforced online."
    pairs = [t.text for t in PairsAnalyzer(TEXT_ANALYZER)(text)]
    assert pairs == ["onlin safeti", "safeti act", "act duti", "duti care", "care enforc", "enforc onlin"]


def test_phrase_search_ranks_and_highlights(arch):
    result = arch.search(SearchQuery(q='"online safety"'))
    # "Online, the safety" counts too: stop words are left out of phrases, as Whoosh reads them
    assert {hit.title for hit in result.hits} == {"Online safety bill", "Online", "Safety first"}
    assert result.hits[0].title == "Online safety bill"  # the phrase in the title weighs most
    assert all("<mark>" in (hit.snippet or "") for hit in result.hits)
    assert (
        "<mark>Online</mark> <mark>safety</mark>"
        in arch.search(SearchQuery(q='title:"online safety"')).hits[0].title_html
    )


def test_a_phrase_with_slop_still_works(arch):
    result = arch.search(SearchQuery(q='"online safety"~3'))
    assert {hit.title for hit in result.hits} >= {"Online safety bill", "Online"}
