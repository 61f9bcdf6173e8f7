"""The Whoosh index: analyzer, schema, shared searcher, lock-waiting writers, rebuilds, log replays and
generation swaps."""

import gc
import os
import threading
import time

import pytest
from whoosh.query import Term

from archive import indexdir
from archive.analysis import TEXT_ANALYZER
from archive.errors import IndexBusy
from archive.index import SCHEMA_VERSION, ArchiveIndex, article_to_document
from archive.indexlog import IndexLog
from archive.models import Article, TopicScore
from archive.store import Store


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


# -- the index log, generations and swaps ------------------------------------------------------------


@pytest.fixture
def log(tmp_path):
    store = Store(tmp_path / "a.sqlite3")
    yield IndexLog(store)
    store.close()


def stored(n: int, **changes) -> Article:
    return make_article(n, ingested_at="2024-01-01T00:00:00+00:00", **changes)


def stem(word: str) -> str:
    return next(iter(TEXT_ANALYZER(word))).text


def test_catch_up_replays_what_the_log_holds_beyond_the_index(index, log):
    log.store.insert(stored(1))
    log.store.insert(stored(2))
    replay = index.catch_up(log, inspect=True)
    assert (replay.changes, replay.indexed, replay.removed, index.applied_seq()) == (2, ["a1", "a2"], [], 2)
    log.store.replace(stored(1, body="Ministers announced a new law."))
    log.store.delete("a2")
    replay = index.catch_up(log, inspect=True)
    assert (replay.changes, replay.indexed, replay.removed, index.applied_seq()) == (2, [], ["a2"], 4)
    assert index.document_ids() == {"a1"}
    with index.searcher() as s:
        assert len(s.search(Term("body", stem("arrested")))) == 0
        assert len(s.search(Term("body", stem("ministers")))) == 1
    with index.searcher() as current:
        pass
    assert index.catch_up(log).changes == 0
    with index.searcher() as same:
        assert same is current  # nothing to replay, nothing committed: the searcher stays


def test_a_replay_after_its_seq_went_unrecorded_indexes_nothing_twice(index, log):
    log.store.insert(stored(1))
    index.catch_up(log)
    indexdir.write_seq(index.folder, 0)  # as if killed between the commit and recording the seq
    log.store.insert(stored(2))
    assert index.catch_up(log).changes == 2
    with index.searcher() as s:
        assert s.doc_count() == 2 and index.applied_seq() == 2


def test_a_searcher_of_another_process_keeps_working_across_a_swap_then_sees_the_new_index(tmp_path):
    first = ArchiveIndex(tmp_path / "index")
    first.add([make_article(n) for n in range(3)])
    other = ArchiveIndex(tmp_path / "index")  # another process's view of the same index
    old = other.folder
    assert first.path.is_symlink() and old == first.folder == tmp_path / os.readlink(first.path)
    with other.searcher() as held:
        first.rebuild(lambda after: [make_article(n, body="Ministers met regulators.") for n in range(5, 8)])
        assert not old.exists()  # the old generation went once swapped out
        assert len(held.search(Term("body", stem("arrested")))) == 3  # still reading it
    with other.searcher() as searcher:
        assert searcher is not held
        hits = searcher.search(Term("body", stem("regulators")), limit=None)
        assert {hit["id"] for hit in hits} == {"a5", "a6", "a7"}
    assert other.folder == first.folder != old
    other.add([make_article(9)])  # written into the generation in use
    assert first.document_ids() == {"a5", "a6", "a7", "a9"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", first.folder.name]
    first.close()
    other.close()


def test_a_plain_index_folder_keeps_working_and_a_rebuild_swaps_in_a_generation(tmp_path):
    link = tmp_path / "index"
    ArchiveIndex(link).close()
    generation = link.resolve()
    link.unlink()
    generation.rename(link)  # the layout before generations: the index in a plain folder
    plain = ArchiveIndex(link)
    assert not plain.created and not link.is_symlink()
    plain.add([make_article(1)])
    other = ArchiveIndex(link)  # another process, opened before the swap
    assert other.document_ids() == {"a1"}
    assert plain.rebuild(lambda after: [make_article(n) for n in range(3)]) == 3
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["index", plain.folder.name]
    assert other.document_ids() == {"a0", "a1", "a2"}
    other.add([make_article(4)])
    assert plain.document_ids() == {"a0", "a1", "a2", "a4"}
    plain.close()
    other.close()


def test_a_writer_waiting_during_a_swap_writes_into_the_new_generation(tmp_path, log):
    index = ArchiveIndex(tmp_path / "index")
    other = ArchiveIndex(tmp_path / "index")  # another process, which will wait for the lock
    errors: list[BaseException] = []

    def add() -> None:
        try:
            other.add([make_article(9)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    waiting = threading.Thread(target=add)
    calls = []

    class Watched(IndexLog):
        def since(self, seq, skip=()):
            calls.append(seq)
            if len(calls) == 2:  # the replay before the swap, holding the lock of the generation in use
                waiting.start()
                time.sleep(0.3)  # time for it to queue on that lock (it passes however the threads run)
            changes = super().since(seq, skip)
            if len(calls) == 1:  # stored after the first replay read the log: the second must find it
                self.store.insert(stored(8))
            return changes

    index.rebuild(lambda after: [make_article(n) for n in range(3)], log=Watched(log.store))
    waiting.join(timeout=60)
    assert not errors and len(calls) == 2
    assert index.document_ids() == {"a0", "a1", "a2", "a8", "a9"}
    assert index.applied_seq() == log.position() == 1
    assert other.folder == index.folder
    index.close()
    other.close()


def test_a_rebuild_that_cannot_swap_resumes_later(tmp_path, log):
    index = ArchiveIndex(tmp_path / "index", writer_timeout=0.3)
    for n in range(3):
        log.store.insert(stored(n))

    def streamed_then_stored(after):
        yield from log.store.iter_articles(after=after)
        log.store.insert(stored(9))  # after the last one streamed: the replay before the swap adds it

    holding = index.ix.writer()  # another writer holds the lock of the index in use
    try:
        with pytest.raises(IndexBusy):
            index.rebuild(streamed_then_stored, log=log)
    finally:
        holding.cancel()
    fresh = index.path.with_name("index.new")
    assert (fresh / "rebuilt-up-to").read_text() == "a2" and index.document_ids() == set()
    asked = []

    def articles_after(after):
        asked.append(after)
        return log.store.iter_articles(after=after)

    assert index.rebuild(articles_after, log=log) == 4 and asked == ["a2"]  # a9, streamed again
    assert index.document_ids() == {"a0", "a1", "a2", "a9"} and not fresh.exists()
    with index.searcher() as searcher:
        assert searcher.doc_count() == 4  # a9 is in it once
    index.close()


def test_a_rebuild_in_progress_holds_back_pruning_of_the_log(index, log):
    for n in range(3):
        log.store.insert(stored(n))
    index.catch_up(log)
    assert index.log_floor() == 3
    fresh = index.path.with_name("index.new")
    fresh.mkdir()
    assert index.log_floor() == 0  # a rebuild that has not written its starting seq yet
    indexdir.write_seq(fresh, 2)
    assert index.log_floor() == 2
