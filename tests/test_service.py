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


def test_a_lost_index_is_rebuilt_on_open(data_dir):
    with Archive(data_dir) as arch:
        arch.add(article("A story that must survive losing the index."))
    shutil.rmtree(data_dir / "index")
    with Archive(data_dir) as arch:
        assert arch.search(SearchQuery(q="survive")).total == 1


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


def test_a_busy_index_loses_nothing_stored_and_check_indexes_it_later(archive, monkeypatch):
    from archive.errors import IndexBusy

    def busy(articles):
        raise IndexBusy("another writer held the index")

    monkeypatch.setattr(archive.index, "add", busy)
    outcome = archive.add(article("Stored while another program held the index lock."))
    with archive.batch():
        archive.add(article("A second one, in a batch."))
    assert outcome.status == "added" and archive.unindexed == 2 and archive.count() == 2
    monkeypatch.undo()
    report = archive.check()
    assert sorted(report.missing_from_index) == sorted(archive.store.ids()) and report.repaired
    assert archive.search(SearchQuery(q="lock")).total == 1
