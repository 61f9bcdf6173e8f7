"""The Whoosh index: analyzer, schema, shared searcher, lock-waiting writers, rebuilds."""

import gc
import threading

import pytest
from whoosh.query import Term

from archive.errors import IndexBusy
from archive.index import SCHEMA_VERSION, TEXT_ANALYZER, ArchiveIndex, article_to_document
from archive.models import Article, TopicScore


def make_article(n: int, body: str = "Police arrested a suspect.", **changes) -> Article:
    values = dict(
        id=f"a{n}",
        title=f"Article {n}",
        body=body,
        fingerprint=f"f{n}",
        published=f"2021-06-0{n % 9 + 1}",
        source="Harbour Courier",
        scores=[TopicScore("law_enforcement", 0.9, True)],
    )
    values.update(changes)
    return Article(**values)


@pytest.fixture
def index(tmp_path):
    ix = ArchiveIndex(tmp_path / "index", writer_timeout=0.5)
    yield ix
    ix.close()


@pytest.mark.parametrize(
    "indexed, queried",
    [("arrested", "arrests"), ("Europäische", "Europaische"), ("Policing", "policing"), ("MODERATORS", "moderator")],
)
def test_analyzer_stems_and_folds_accents(indexed, queried):
    assert [t.text for t in TEXT_ANALYZER(indexed)] == [t.text for t in TEXT_ANALYZER(queried)]


def test_document_carries_topics_with_corrections_and_date_fields():
    doc = article_to_document(make_article(1, published="2013-05-02"))
    assert doc["topics"] == "law_enforcement"
    assert doc["year"] == "2013"
    assert doc["date"].year == 2013


def test_added_documents_are_visible_to_the_shared_searcher(index):
    with index.searcher() as s:
        assert s.doc_count() == 0
    index.add([make_article(1), make_article(2)])
    with index.searcher() as s:
        assert s.doc_count() == 2
        assert len(s.search(Term("body", "arrest"))) == 2


def test_searcher_is_reused_until_the_index_changes(index):
    index.add([make_article(1)])
    with index.searcher() as first:
        pass
    with index.searcher() as second:
        assert second is first
    index.add([make_article(2)])
    with index.searcher() as third:
        assert third is not first


def test_no_duplicate_hits_after_segment_merges(index):
    # Refreshed searchers have returned duplicates after merges; a new searcher must not.
    for n in range(30):
        index.add([make_article(n)])
        with index.searcher() as s:
            ids = [hit["id"] for hit in s.search(Term("body", "arrest"), limit=None)]
            assert len(ids) == len(set(ids)) == n + 1


def test_update_replaces_the_document_with_the_same_id(index):
    index.add([make_article(1)])
    index.add([make_article(1, body="Ministers announced a new law.")])
    assert index.document_ids() == {"a1"}
    with index.searcher() as s:
        assert len(s.search(Term("body", "arrest"))) == 0


def test_a_second_writer_waits_then_reports_busy(index):
    holding = index.ix.writer()  # another writer holds the lock
    try:
        with pytest.raises(IndexBusy, match="busy"):
            index.add([make_article(1)])
    finally:
        holding.cancel()
    index.add([make_article(1)])  # free again
    assert index.document_ids() == {"a1"}


def test_writers_from_threads_queue_instead_of_failing(tmp_path):
    ix = ArchiveIndex(tmp_path / "index", writer_timeout=30)
    errors = []

    def add(n):
        try:
            ix.add([make_article(n)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ix.document_ids()) == 6
    ix.close()


def test_rebuild_swaps_in_a_complete_new_index(index):
    index.add([make_article(n) for n in range(3)])
    ticks = []
    count = index.rebuild(lambda after: [make_article(n) for n in range(5, 9)], progress=ticks.append)
    assert count == 4 and len(ticks) == 4
    assert index.document_ids() == {"a5", "a6", "a7", "a8"}
    assert not index.path.with_name("index.new").exists()
    assert not index.path.with_name("index.old").exists()


def test_an_interrupted_rebuild_resumes_after_what_it_committed(index, monkeypatch):
    import archive.index as index_module

    monkeypatch.setattr(index_module, "REBUILD_COMMIT", 3)
    articles = [make_article(n) for n in range(10, 18)]  # ids a10 ... a17, in id order
    asked = []

    def interrupted(after):
        asked.append(after)
        for article in articles:
            if article.id > after:
                if article.id == "a15":
                    raise KeyboardInterrupt  # killed after one commit of three, with two more pending
                yield article

    with pytest.raises(KeyboardInterrupt):
        index.rebuild(interrupted)
    assert index.document_ids() == set()  # the old index is still the one in use
    assert (index.path.with_name("index.new") / "rebuilt-up-to").read_text() == "a12"

    def complete(after):
        asked.append(after)
        return [a for a in articles if a.id > after]

    ticks = []
    assert index.rebuild(complete, progress=ticks.append) == 8
    assert asked == ["", "a12"] and sum(ticks) == 8  # resumed after a12: a13 to a17 read again
    assert index.document_ids() == {a.id for a in articles}
    with index.searcher() as searcher:
        assert searcher.doc_count() == 8  # nothing indexed twice


def test_a_damaged_leftover_rebuild_is_started_again(index):
    leftover = index.path.with_name("index.new")
    leftover.mkdir()
    (leftover / "rebuilt-up-to").write_text("a3")  # but no index in it
    assert index.rebuild(lambda after: [make_article(n) for n in range(5)]) == 5
    assert index.document_ids() == {f"a{n}" for n in range(5)}


def test_an_index_of_another_schema_version_is_recreated(tmp_path):
    ix = ArchiveIndex(tmp_path / "index")
    ix.add([make_article(1)])
    ix.close()
    (tmp_path / "index" / "schema-version").write_text(str(SCHEMA_VERSION + 1))
    again = ArchiveIndex(tmp_path / "index")
    assert again.created
    assert again.document_ids() == set()
    again.close()


# whoosh leaves the damaged table-of-contents file open when it fails to read it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning")
def test_a_damaged_index_is_recreated(tmp_path):
    ix = ArchiveIndex(tmp_path / "index")
    ix.add([make_article(1)])
    ix.close()
    for toc in (tmp_path / "index").glob("_MAIN_*.toc"):
        toc.write_bytes(b"garbage")
    again = ArchiveIndex(tmp_path / "index")
    gc.collect()  # release whoosh's leaked handle here, under this test's warning filter
    assert again.created
    again.close()
