"""Archive: store first then index, duplicates, updates, check and repair, reindex, rebuild on start."""

import shutil

import pytest

from archive.errors import ArticleNotFound
from archive.models import Article, SearchQuery, TopicScore
from archive.service import Archive
from ingest.dedup import fingerprint


def article(body: str, **changes) -> Article:
    values = dict(title="A title", body=body, fingerprint=fingerprint(body), scores=[TopicScore("policy", 0.7, True)])
    values.update(changes)
    return Article(**values)


def test_add_stores_then_indexes(archive):
    outcome = archive.add(article("Ministers debated the online safety bill today."))
    assert outcome.status == "added" and outcome.topics == ["policy"]
    assert archive.get(outcome.id).body.startswith("Ministers")
    assert archive.search(SearchQuery(q="ministers")).hits[0].id == outcome.id


def test_same_text_is_a_duplicate_and_nothing_changes(archive):
    first = archive.add(article("Exactly the same text.", title="First"))
    second = archive.add(article("Exactly the same text.", title="Second"))
    assert (second.status, second.duplicate_of) == ("duplicate", first.id)
    assert archive.count() == 1 and archive.get(first.id).title == "First"


def test_same_canonical_url_with_new_text_updates_in_place(archive):
    first = archive.add(article("Old text of the story.", canonical_url="https://n.example/a"))
    second = archive.add(article("New text of the story.", canonical_url="https://n.example/a"))
    assert second.status == "updated" and second.id == first.id
    assert archive.count() == 1
    assert archive.search(SearchQuery(q="old")).total == 0
    assert archive.search(SearchQuery(q="new")).total == 1


def test_article_without_fingerprint_is_a_programming_error(archive):
    with pytest.raises(ValueError):
        archive.add(Article(title="t", body="b"))


def test_get_unknown_id_raises_not_found(archive):
    with pytest.raises(ArticleNotFound, match="No article has the id"):
        archive.get("nope")


def test_check_finds_and_repairs_both_directions(archive):
    kept = archive.add(article("Article kept in both places."))
    missing = archive.add(article("Article the index lost."))
    archive.index.delete([missing.id])
    orphan = article("Article only in the index.", id="orphan0000000000")
    archive.index.add([orphan])

    dry = archive.check(repair=False)
    assert dry.missing_from_index == [missing.id] and dry.orphans_in_index == ["orphan0000000000"]
    assert not dry.ok and not dry.repaired
    assert archive.check(repair=False).missing_from_index == [missing.id]  # dry run changed nothing

    report = archive.check()
    assert report.repaired
    after = archive.check()
    assert after.ok and after.stored == after.indexed == 2
    assert {h.id for h in archive.search(SearchQuery()).hits} == {kept.id, missing.id}


def test_reindex_rebuilds_from_the_store(archive):
    for n in range(5):
        archive.add(article(f"Story number {n} about regulators."))
    assert archive.reindex() == 5
    assert archive.search(SearchQuery(q="regulators")).total == 5


@pytest.mark.parametrize("lost", ["link", "generation"])
def test_a_lost_index_is_rebuilt_on_open(data_dir, lost):
    with Archive(data_dir) as arch:
        arch.add(article("A story that must survive losing the index."))
    index = data_dir / "index"  # a link to the generation folder in use
    generation = index.resolve()
    if lost == "link":
        index.unlink()
    else:
        shutil.rmtree(generation)
    with Archive(data_dir) as arch:
        assert arch.search(SearchQuery(q="survive")).total == 1
    assert not generation.exists()  # a generation left without its link is removed by the rebuild


def test_corrections_reach_the_index(archive):
    from archive.models import Correction

    outcome = archive.add(article("Ministers and police spoke about the new law."))
    archive.store.add_correction(outcome.id, Correction("law_enforcement", "add", "editor", "2024-01-01T00:00:00"))
    archive.reindex()
    assert archive.search(SearchQuery(topics=["law_enforcement"])).total == 1


def test_a_batch_stores_at_once_and_indexes_at_the_end(archive):
    with archive.batch():
        outcome = archive.add(article("Batched story about regulators."))
        assert archive.get(outcome.id)  # committed to the store immediately
        assert archive.search(SearchQuery(q="regulators")).total == 0  # not yet indexed
    assert archive.search(SearchQuery(q="regulators")).total == 1


def test_a_failing_batch_still_indexes_what_was_stored(archive):
    with pytest.raises(RuntimeError):
        with archive.batch():
            archive.add(article("Stored before the failure."))
            raise RuntimeError("boom")
    assert archive.search(SearchQuery(q="failure")).total == 1
    assert archive.check(repair=False).ok


def test_retag_replaces_machine_tags_keeps_corrections_and_updates_the_index(archive):
    kept = archive.add(article("Ministers spoke about the new law and the regulator."))
    archive.correct(kept.id, "prevention", "add", "editor")
    dropped = archive.add(article("A recipe for a lemon cake with butter and flour."))

    def tag(a: Article) -> Article:  # a taxonomy that now only knows law enforcement
        a.scores = [TopicScore("law_enforcement", 0.9, "law" in a.body)]
        a.unrelated = "law" not in a.body
        return a

    counts = archive.retag(tag)
    assert counts == {"articles": 2, "changed": 2}
    first = archive.get(kept.id)
    assert first.topics == ["law_enforcement", "prevention"]  # the person's topic survives
    assert [c.topic for c in first.corrections] == ["prevention"]
    second = archive.get(dropped.id)
    assert second.topics == [] and second.off_topic
    assert archive.search(SearchQuery(topics=["law_enforcement"])).total == 1
    assert archive.search(SearchQuery(topics=["policy"])).total == 0
    off = archive.search(SearchQuery(topics=["off_topic"]))
    assert [h.id for h in off.hits] == [dropped.id] and off.hits[0].off_topic and off.hits[0].topics == []
    assert archive.retag(tag) == {"articles": 2, "changed": 0}


def test_an_unrelated_article_with_a_persons_topic_is_not_off_topic(archive):
    outcome = archive.add(article("A recipe for a lemon cake.", scores=[], unrelated=True))
    assert archive.get(outcome.id).off_topic
    archive.correct(outcome.id, "prevention", "add", "editor")
    assert not archive.get(outcome.id).off_topic
    assert archive.search(SearchQuery(topics=["prevention"])).total == 1
    assert archive.search(SearchQuery(topics=["off_topic"])).total == 0


def test_a_busy_index_loses_nothing_stored_and_check_indexes_it_later(archive):
    archive.index.writer_timeout = 0.2
    holding = archive.index.ix.writer()  # another program holds the index lock
    try:
        outcome = archive.add(article("Stored while another program held the index lock."))
        with archive.batch():
            archive.add(article("A second one, in a batch."))
    finally:
        holding.cancel()
    assert outcome.status == "added" and archive.unindexed == 2 and archive.count() == 2
    dry = archive.check(repair=False)
    assert dry.replayed == 2 and dry.unlogged == [] and not dry.ok  # the log explains both
    report = archive.check()
    assert sorted(report.missing_from_index) == sorted(archive.store.ids()) and report.repaired
    assert report.replayed == 2 and report.unlogged == []
    assert archive.search(SearchQuery(q="lock")).total == 1
    assert archive.check().ok


def test_what_another_process_writes_during_a_reindex_is_in_the_new_index(archive, data_dir, monkeypatch):
    ids = [archive.add(article(f"Story {n} about regulators.", id=f"5{n:015d}")).id for n in range(4)]
    other = Archive(data_dir)  # another process, writing while the rebuild streams the store
    streamed = archive.store.iter_articles

    def streaming(batch: int = 500, after: str = ""):
        for n, stored in enumerate(streamed(batch=batch, after=after)):
            if n == 2:  # ids[0] and ids[1] are in the new index already
                other.add(article("Added by another process during the rebuild.", id="0000000000000001"))
                other.correct(ids[0], "prevention", "add", "editor")
                other.delete(ids[1], "editor")
            yield stored

    monkeypatch.setattr(archive.store, "iter_articles", streaming)
    assert archive.reindex() == 4  # one added, one deleted meanwhile
    monkeypatch.undo()
    for arch in (archive, other):
        assert arch.search(SearchQuery(q="rebuild")).total == 1
        assert [h.id for h in arch.search(SearchQuery(topics=["prevention"])).hits] == [ids[0]]
        assert {h.id for h in arch.search(SearchQuery(q="regulators")).hits} == {ids[0], ids[2], ids[3]}
    report = archive.check(repair=False)
    assert report.ok and report.stored == report.indexed == 4, report
    assert archive.index.applied_seq() == archive.log.position()
    other.close()


def test_opening_indexes_what_a_killed_ingest_left_and_check_reports_it(data_dir):
    body = "Stored, then the process was killed before indexing it."
    with Archive(data_dir) as arch:
        arch.add(article("Indexed as usual."))
        # What a kill between the store's commit and the index's leaves: a logged, unindexed article.
        arch.store.insert(article(body, id="c0ffee0000000001", ingested_at="2024-01-01T00:00:00+00:00"))
    with Archive(data_dir, replay=False) as arch:  # how `archive check` opens
        assert arch.search(SearchQuery(q="killed")).total == 0
        dry = arch.check(repair=False)
        assert (dry.replayed, dry.missing_from_index, dry.unlogged, dry.ok) == (1, ["c0ffee0000000001"], [], False)
    with Archive(data_dir) as arch:
        assert arch.search(SearchQuery(q="killed")).total == 1  # replayed on opening
        report = arch.check()  # and reported by the next check, once
        assert (report.replayed, report.missing_from_index, report.repaired) == (1, ["c0ffee0000000001"], True)
        assert arch.check().ok


def test_the_index_log_is_pruned_but_not_what_a_rebuild_needs(archive, data_dir, monkeypatch):
    from archive import indexdir, service

    monkeypatch.setattr(service, "LOG_PRUNE_EVERY", 3)

    def rows() -> list[int]:
        return [r[0] for r in archive.store.connection().execute("SELECT seq FROM index_log ORDER BY seq")]

    for n in range(7):
        archive.add(article(f"Story number {n}."))
    assert rows() == [7]  # pruned up to 6, what the index held then
    fresh = data_dir / "index.new"  # a rebuild in another process, which started from seq 7
    fresh.mkdir()
    indexdir.write_seq(fresh, 7)
    for n in range(7, 12):
        archive.add(article(f"Story number {n}."))
    assert rows() == [8, 9, 10, 11, 12]
    shutil.rmtree(fresh)
    archive.reindex()
    assert rows() == [] and archive.log.position() == 12


@pytest.mark.parametrize("procs", [1, 2])
def test_an_import_indexes_what_others_stored_while_it_held_the_lock(archive, data_dir, monkeypatch, procs):
    from archive import service
    from archive.errors import IndexBusy

    monkeypatch.setattr(service, "IMPORT_BATCH", 2)
    other = Archive(data_dir)  # another process: its index writes give up while the import runs
    other.index.writer_timeout = 0.2
    first = fingerprint("Imported story 0 on regulators.")[:16]

    def imported():
        for n in range(6):
            yield article(f"Imported story {n} on regulators.", ingested_at="2024-01-01T00:00:00+00:00")
            if n == 1:  # the first two are stored; the import holds the index lock
                other.add(article("Added by another process during the import."))
                with pytest.raises(IndexBusy):
                    other.correct(first, "prevention", "add", "editor")  # stored, logged, not indexed

    assert archive.import_articles(imported(), procs=procs) == {"added": 6, "duplicate": 0}
    assert other.unindexed == 1
    assert archive.search(SearchQuery(q="another process")).total == 1
    assert [h.id for h in archive.search(SearchQuery(topics=["prevention"])).hits] == [first]
    assert archive.search(SearchQuery(q="regulators")).total == 6  # the corrected one indexed once
    assert archive.index.applied_seq() == archive.log.position()
    assert archive.check(repair=False).ok
    other.close()
