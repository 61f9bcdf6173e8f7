"""The bulk writer: its reading of text is TEXT_ANALYZER's, the segments it builds read back exactly as
those Whoosh's own writer writes, and a parallel import finds what a one-process import finds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import bulkwriter, service
from archive.analysis import SPELLING_ANALYZER, TEXT_ANALYZER, distinct_words, term_positions
from archive.benchmark import synthetic_articles
from archive.bulkwriter import SegmentBuilder
from archive.index import article_to_document, create_index
from archive.models import Article, SearchQuery
from archive.service import Archive

TRICKY = [
    "",
    "the of and",  # only stop words
    "The police arrested a man. The U.S. Department of Justice said so.",
    "Europäische Kommission: Ämter, Straße, naïve café, ÉCOLE, İstanbul",
    "e-mail x y z a1 b2 3.14 1,000 v1.2.3 _under_score_ __init__",
    "arrests arrested arresting ARREST Arrest",
    "a the child an child, the child's children",
    "日本語のテキスト and русский текст mixed with ℌ𝔢𝔩𝔩𝔬 ½ ²",
    "tab\tseparated\nnew\r\nlines  and   spaces",
]

PIECES = list("abcdefghij ABC .,'-_\n0123éÄßİıǅﬁ²") + ["the ", "of ", "and ", "U.S. ", "arrests "]
TEXT = st.lists(st.sampled_from(PIECES), max_size=80).map("".join) | st.text(max_size=80)


def analyzer_positions(text: str) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for token in TEXT_ANALYZER(text, positions=True, mode="index"):
        positions.setdefault(token.text, []).append(token.pos)
    return positions


@pytest.mark.parametrize("text", TRICKY)
def test_term_positions_are_what_the_text_analyzer_gives(text):
    words: set[str] = set()
    assert term_positions(text, words) == analyzer_positions(text)
    assert words == distinct_words(text) == {t.text for t in SPELLING_ANALYZER(text)}


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_term_positions_match_the_text_analyzer_on_any_text(text):
    words: set[str] = set()
    assert term_positions(text, words) == analyzer_positions(text)
    assert words == {t.text for t in SPELLING_ANALYZER(text)}


def corpus() -> list[Article]:
    articles = list(synthetic_articles(300))
    for number, text in enumerate(TRICKY):
        article = articles[number]
        article.title = text or "Untitled"
        article.body = f"{text} {article.body}"
        if number % 3 == 0:
            article.author = None
            article.published = None
            article.scores = []
    articles[20].body = "x"  # one word that is not a term
    return articles


def new_index(folder):
    folder.mkdir()
    return create_index(folder)


def built_index(tmp_path, name: str, whoosh: bool):
    ix = new_index(tmp_path / name)
    if whoosh:
        with ix.writer() as writer:
            for article in corpus():
                writer.add_document(**article_to_document(article))
    else:
        builder = SegmentBuilder(ix)
        for article in corpus():
            builder.add_document(**article_to_document(article, words=False))
        segment = builder.finish()
        with ix.writer() as writer:
            writer._merge_segments = lambda *args: [segment]  # commit the built segment as it is
    return ix


def everything(ix) -> dict:
    """All an index holds, as its reader gives it: terms with their statistics and postings,
    stored fields, lengths and columns."""
    reader = ix.reader()
    try:
        schema = ix.schema
        terms = {}
        for field, btext in reader.all_terms():
            info = reader.term_info(field, btext)
            postings = reader.postings(field, btext)
            listed = []
            while postings.is_active():
                listed.append((postings.id(), postings.weight(), postings.value()))
                postings.next()
            statistics = (info.doc_frequency(), info.weight(), info.min_length(), info.max_length(),
                          info.max_weight(), info.min_id(), info.max_id())  # fmt: skip
            terms[(field, btext)] = (statistics, listed)
        docs = range(reader.doc_count_all())
        scorable = [name for name in schema.scorable_names()]
        return {
            "count": reader.doc_count_all(),
            "terms": terms,
            "stored": [reader.stored_fields(d) for d in docs],
            "lengths": [[reader.doc_field_length(d, name) for name in scorable] for d in docs],
            "totals": [reader.field_length(name) for name in scorable],
            "columns": {
                name: list(reader.column_reader(name, translate=False))
                for name in schema.names()
                if schema[name].column_type
            },
        }
    finally:
        reader.close()


def test_a_built_segment_reads_back_as_whooshs_own_writer_writes_it(tmp_path):
    theirs = everything(built_index(tmp_path, "whoosh", whoosh=True))
    ours = everything(built_index(tmp_path, "built", whoosh=False))
    assert ours["count"] == theirs["count"] == 300
    assert ours["terms"].keys() == theirs["terms"].keys()
    for key, held in theirs["terms"].items():
        assert ours["terms"][key] == held, key
    for part in ("stored", "lengths", "totals", "columns"):
        assert ours[part] == theirs[part], part


def test_a_built_segment_has_blocks_of_long_posting_lists(tmp_path):
    # "the"-like terms run over several blocks of 128 postings: the statistics above cover them.
    ix = built_index(tmp_path, "built", whoosh=False)
    with ix.reader() as reader:
        longest = max(reader.doc_frequency(f, t) for f, t in reader.all_terms())
    assert longest > 2 * 128


def test_the_builder_refuses_boosts(tmp_path):
    builder = SegmentBuilder(new_index(tmp_path / "ix"))
    with pytest.raises(ValueError, match="boosts"):
        builder.add_document(id="a", title="t", body="b", _boost=2.0)
    builder.cancel()


def search_everything(arch: Archive) -> list:
    queries = ["", "child", "police OR policy", '"online safety"', "topic:policy", "date:>2015", "saf*"]
    found = []
    for q in queries:
        result = arch.search(SearchQuery(q=q, per_page=500, sort="newest"))
        found.append((q, result.total, [hit.id for hit in result.hits], result.facets))
    return found


@pytest.mark.parametrize("segment_docs", [150, 200])  # the rest shared out at commit; or nothing left
def test_a_parallel_import_finds_what_a_one_process_import_finds(tmp_path, monkeypatch, segment_docs):
    monkeypatch.setattr(bulkwriter, "LOCAL_DOCS", 50)  # workers even for a small import
    articles = list(synthetic_articles(400))
    with Archive(tmp_path / "one") as one:
        assert one.import_articles(iter(articles), procs=1)["added"] == 400
        expected = search_everything(one)
    with Archive(tmp_path / "two") as two:
        writer_class = []
        original = bulkwriter.ParallelWriter.__init__

        def init(self, ix, procs, **kwargs):
            original(self, ix, procs, segment_docs=segment_docs, **kwargs)
            writer_class.append(type(self))

        monkeypatch.setattr(bulkwriter.ParallelWriter, "__init__", init)
        assert two.import_articles(iter(articles), procs=2)["added"] == 400
        assert writer_class == [bulkwriter.ParallelWriter]
        with two.index.searcher() as searcher:
            assert len(searcher.reader().leaf_readers()) >= 2
        assert search_everything(two) == expected
        report = two.check(repair=False)
        assert report.stored == report.indexed == 400 and not report.missing_from_index


def test_a_small_parallel_import_is_built_in_process_and_adds_to_what_is_there(tmp_path, monkeypatch):
    def no_workers(procs):
        raise AssertionError("no worker processes for a small import")

    monkeypatch.setattr(bulkwriter, "worker_pool", no_workers)
    articles = list(synthetic_articles(60))
    with Archive(tmp_path / "data") as arch:
        assert arch.import_articles(iter(articles[:30]), procs=2)["added"] == 30
        assert arch.import_articles(iter(articles[20:]), procs=2) == {"added": 30, "duplicate": 10}
        assert arch.search(SearchQuery()).total == 60
        assert {h.id for h in arch.search(SearchQuery(per_page=100)).hits} == {a.id for a in articles}


def test_a_failed_import_leaves_the_index_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(bulkwriter, "LOCAL_DOCS", 10)
    monkeypatch.setattr(service, "IMPORT_BATCH", 10)  # what the store takes is in the index log
    articles = list(synthetic_articles(80))

    def failing():
        yield from articles[20:70]
        raise RuntimeError("the source broke")

    with Archive(tmp_path / "data") as arch:
        arch.import_articles(iter(articles[:20]), procs=1)
        before = search_everything(arch)
        original = bulkwriter.ParallelWriter.__init__

        def init(self, ix, procs, **kwargs):
            original(self, ix, procs, segment_docs=15, **kwargs)

        monkeypatch.setattr(bulkwriter.ParallelWriter, "__init__", init)
        with pytest.raises(RuntimeError, match="the source broke"):
            arch.import_articles(failing(), procs=2)
        assert search_everything(arch) == before  # the segments built so far were not committed
        assert arch.count() == 70
        report = arch.check()  # what the store took before the failure is indexed from its log
        assert report.replayed == 50 and not report.unlogged
        assert arch.search(SearchQuery()).total == 70
